"""What a person sees in a real browser (headless Chromium via Selenium) against the real stack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from deploy.pipeline import wait_until
from services.dashboard.formatting import money, percent
from tests.dashboard.conftest import ADMIN_KEY, INGEST_KEY, Stack, usage
from tests.invoicing.test_documents import pdf_text
from tests.support.browser import chromium, follow

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def sign_in(browser: Any, stack: Stack, key: str = ADMIN_KEY, path: str = "/") -> None:
    browser.get(stack.dashboard + path)
    browser.find_element(By.ID, "api_key").send_keys(key)
    follow(browser, browser.find_element(By.ID, "sign-in"))


def cell(row: Any, cls: str) -> str:
    return str(row.find_element(By.CSS_SELECTOR, f"td.{cls}").text)


def test_nothing_is_served_without_signing_in(stack: Stack) -> None:
    with httpx.Client(base_url=stack.dashboard, follow_redirects=False) as http:
        for path in ("/", f"/?month={stack.period}"):
            reply = http.get(path)
            assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
        assert http.post("/logout").status_code == 401
        forged = http.get("/", cookies={"tt_session": "eyJzaWQiOiJ4IiwiY3NyZiI6InkifQ.bad.sig"})
        assert forged.status_code == 303


def test_wrong_or_non_admin_key_is_refused(stack: Stack, browser: Any) -> None:
    browser.delete_all_cookies()
    for key in ("not-a-key-at-all-123", INGEST_KEY):
        sign_in(browser, stack, key)
        assert "not an admin API key" in browser.find_element(By.ID, "login-error").text
        assert browser.get_cookie("tt_session") is None


def test_sign_in_without_the_form_cookie_is_refused(stack: Stack) -> None:
    """Login CSRF: a form posted from elsewhere has no matching tt_login cookie."""
    with httpx.Client(base_url=stack.dashboard, follow_redirects=False) as http:
        reply = http.post("/login", data={"api_key": ADMIN_KEY, "login_token": "guess", "next": "/"})
        assert reply.status_code == 403 and "tt_session" not in reply.cookies


def test_overview_numbers_equal_the_invoicing_api(stack: Stack, browser: Any) -> None:
    browser.delete_all_cookies()
    sign_in(browser, stack)
    assert browser.find_element(By.ID, "overview")
    with stack.pipeline.http("invoicing") as invoicing:
        summaries = {s["client_id"]: s for s in invoicing.get(f"/v1/invoices/{stack.period}").json()}
    rows = {r.get_attribute("data-client"): r for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")}
    assert set(stack.clients) <= set(rows)
    for client_id in stack.clients:
        summary = summaries[client_id]
        assert Decimal(summary["base_cost"]) > 0
        assert cell(rows[client_id], "cost") == money(Decimal(summary["base_cost"]))
        # billed: with the markup, before any tax
        assert cell(rows[client_id], "billed") == money(Decimal(summary["base_cost"]) + Decimal(summary["markup"]))
        assert cell(rows[client_id], "margin") == money(Decimal(summary["markup"]))
    total = sum((Decimal(s["base_cost"]) + Decimal(s["markup"]) for s in summaries.values()), Decimal(0))
    assert browser.find_element(By.ID, "foot-billed").text == money(total)


def test_overview_sorts_by_a_column(stack: Stack, browser: Any) -> None:
    browser.get(f"{stack.dashboard}/?month={stack.period}&sort=cost&dir=asc")
    costs = [Decimal(cell(r, "cost").replace("$", "").replace(",", ""))
             for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")]
    assert len(costs) >= 3 and costs == sorted(costs)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "#overview thead th.sorted a"))  # the same column, flipped
    costs = [Decimal(cell(r, "cost").replace("$", "").replace(",", ""))
             for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")]
    assert costs == sorted(costs, reverse=True)


def test_a_bad_month_is_a_clear_400(stack: Stack, browser: Any) -> None:
    browser.get(f"{stack.dashboard}/?month=2026-13")
    assert "month 13 does not exist" in browser.find_element(By.ID, "error-message").text


def test_sign_out_ends_the_session(stack: Stack, browser: Any) -> None:
    browser.get(stack.dashboard + "/")
    follow(browser, browser.find_element(By.ID, "sign-out"))
    assert browser.current_url.endswith("/login")
    browser.get(stack.dashboard + "/")
    assert "/login" in browser.current_url


def acme(stack: Stack) -> str:
    return next(c for c in stack.clients if c.startswith("acme"))


def api_invoice(stack: Stack, client_id: str) -> dict[str, Any]:
    with stack.pipeline.http("invoicing") as invoicing:
        return invoicing.get(f"/v1/clients/{client_id}/invoices/{stack.period}").json()  # type: ignore[no-any-return]


def screenshot(browser: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / name))


def test_client_page_shows_the_invoice_chart_and_model_mix(stack: Stack, browser: Any) -> None:
    browser.delete_all_cookies()
    client_id = acme(stack)
    sign_in(browser, stack, path=f"/clients/{client_id}")
    invoice = api_invoice(stack, client_id)
    assert browser.find_element(By.ID, "client-name").text == "Acme Corp"
    assert browser.find_element(By.ID, "invoice-total").text == money(Decimal(invoice["total"]))
    descriptions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#invoice td.desc")]
    assert descriptions == [line["description"] for line in invoice["lines"]]
    mix = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#model-mix tbody tr")]
    assert len(mix) == 3 and all("%" in row for row in mix)
    assert browser.find_elements(By.CSS_SELECTOR, ".chart svg.stacked rect")
    assert not browser.find_elements(By.ID, "invoice-tax")  # no tax rate: no tax line
    screenshot(browser, "client.png")


def test_editing_the_markup_changes_the_draft_invoice(stack: Stack, browser: Any) -> None:
    client_id = acme(stack)
    browser.get(f"{stack.dashboard}/clients/{client_id}")
    field = browser.find_element(By.ID, "markup_percent")
    field.clear()
    field.send_keys("40")
    follow(browser, browser.find_element(By.ID, "save-settings"))
    assert browser.find_element(By.ID, "saved")
    invoice = api_invoice(stack, client_id)
    assert invoice["markup_percent"] == "40"
    assert invoice["markup"] == str((Decimal(invoice["base_cost"]) * Decimal("0.4")).quantize(Decimal("0.01")))
    assert browser.find_element(By.ID, "invoice-total").text == money(Decimal(invoice["total"]))


def test_the_settings_form_reports_the_apis_field_errors(stack: Stack, browser: Any) -> None:
    client_id = acme(stack)
    before = api_invoice(stack, client_id)["markup_percent"]
    browser.get(f"{stack.dashboard}/clients/{client_id}")
    for field_id, value in (("markup_percent", "lots"), ("alert_thresholds", "0.5, 0.5")):
        field = browser.find_element(By.ID, field_id)
        field.clear()
        field.send_keys(value)
    follow(browser, browser.find_element(By.ID, "save-settings"))
    assert browser.find_element(By.ID, "form-error")
    assert browser.find_element(By.ID, "error-markup_percent").text
    assert "twice" in browser.find_element(By.ID, "error-alert_thresholds").text
    assert browser.find_element(By.ID, "markup_percent").get_attribute("value") == "lots"  # kept for correcting
    assert api_invoice(stack, client_id)["markup_percent"] == before


def test_a_form_without_the_csrf_token_is_refused(stack: Stack, browser: Any) -> None:
    cookie = browser.get_cookie("tt_session")["value"]
    with httpx.Client(base_url=stack.dashboard, cookies={"tt_session": cookie}) as http:
        reply = http.post(f"/clients/{acme(stack)}/settings", data={"name": "Hacked", "markup_percent": "0"})
        assert reply.status_code == 403
    assert api_invoice(stack, acme(stack))["name"] == "Acme Corp"


def test_the_portal_link_shows_only_its_client_and_nothing_of_the_agencys_costs(stack: Stack, browser: Any) -> None:
    client_id = acme(stack)
    browser.get(f"{stack.dashboard}/clients/{client_id}")
    follow(browser, browser.find_element(By.ID, "create-portal-link"))
    link = browser.find_element(By.ID, "portal-link").get_attribute("href")
    browser.delete_all_cookies()  # the client has no session
    browser.get(link)
    assert browser.find_element(By.ID, "portal-client").text == "Acme Corp"
    invoice = api_invoice(stack, client_id)
    assert browser.find_element(By.ID, "portal-total").text == money(Decimal(invoice["total"]))
    page = browser.page_source
    for other in stack.clients:
        if other != client_id:
            assert other not in page
    assert "Globex" not in page and "Initech" not in page
    for agency_only in ("Margin", "margin", "Sign out", "Spend at cost"):
        assert agency_only not in page
    browser.save_screenshot(str(SCREENSHOTS / "portal.png"))
    with httpx.Client(base_url=stack.dashboard, follow_redirects=False) as http:
        token = link.rsplit("/", 1)[1]
        assert http.get(f"/portal/{token[:-4]}abcd").status_code == 403
        assert http.get(f"/portal/{token}").status_code == 200
        for admin_page in ("/", f"/clients/{client_id}"):  # the link opens nothing else
            assert http.get(admin_page).status_code == 303


def budget_text(browser: Any) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, ".tile .budget-text").text)


def test_the_budget_counts_billed_dollars_for_a_new_client_and_cost_when_chosen(stack: Stack, browser: Any) -> None:
    browser.delete_all_cookies()
    client_id = next(c for c in stack.clients if c.startswith("globex"))
    sign_in(browser, stack, path=f"/clients/{client_id}")
    invoice = api_invoice(stack, client_id)
    assert budget_text(browser).startswith(f"{percent(Decimal(invoice['total']) / 500)} of $500.00 billed")
    Select(browser.find_element(By.ID, "budget_basis")).select_by_value("cost")
    follow(browser, browser.find_element(By.ID, "save-settings"))
    assert browser.find_element(By.ID, "saved")
    assert budget_text(browser).startswith(f"{percent(Decimal(invoice['base_cost']) / 500)} of $500.00 cost")
    with stack.pipeline.http("invoicing") as invoicing:
        assert invoicing.get(f"/v1/clients/{client_id}").json()["budget_basis"] == "cost"


def test_alerts_count_a_billed_budget_with_the_markup(stack: Stack, browser: Any) -> None:
    """$6 at cost with a 100% markup is $12 billed: over a $10 billed budget, under it at cost."""
    client_id = "basis-" + acme(stack).split("-")[1]
    stack.pipeline.put_client(client_id, markup_percent="100", monthly_budget="10.00", alert_thresholds=["1"],
                              notify=["json://127.0.0.1:9/unreachable"])
    at = datetime.now(UTC)
    reply = stack.pipeline.send([usage(client_id, "gpt-4o", at, 2_400_000, 0)], key=ADMIN_KEY)  # $6.00 at cost
    assert reply.status_code == 202
    with stack.pipeline.http("alerts") as alerts:
        records = wait_until(lambda: alerts.get(f"/v1/clients/{client_id}/alerts").json(), 60, "the billed alert")
    assert records[0]["kind"] == "threshold" and records[0]["spend_usd"] == "12"
    assert "at 120% of its $10.00 AI budget" in records[0]["message"]
    assert records[0]["message"].endswith("Amounts as billed with the 100% markup.")
    browser.get(f"{stack.dashboard}/clients/{client_id}")
    assert "120%" in browser.find_element(By.CSS_SELECTOR, "#alerts tbody").text or \
        "100%" in browser.find_element(By.CSS_SELECTOR, "#alerts tbody").text


def test_margins_compare_cost_markup_and_a_flat_fee(stack: Stack, browser: Any) -> None:
    browser.delete_all_cookies()
    sign_in(browser, stack, path="/margins?months=3&fee=30")
    client_id = acme(stack)
    row = browser.find_element(By.CSS_SELECTOR, f'#margins tr[data-client="{client_id}"]')
    with stack.pipeline.http("invoicing") as invoicing:
        last = invoicing.get(f"/v1/clients/{client_id}/invoices/{stack.previous}").json()
    cost = Decimal(last["base_cost"])  # 4M gpt-4o input + 100k output: $11.00
    assert cost > 0
    flats = row.find_elements(By.CSS_SELECTOR, ".flat")
    assert flats[-1].text == money(Decimal(30) - cost)
    # the client exists since this test session: only last month counts, earlier ones show no fee
    assert row.find_element(By.CSS_SELECTOR, ".flat-total").text == money(Decimal(30) - cost)
    browser.save_screenshot(str(SCREENSHOTS / "margins.png"))
    # a fee below the month's cost lost money, and the page says on whom
    browser.get(f"{stack.dashboard}/margins?months=3&fee=5")
    assert "Acme Corp" in browser.find_element(By.ID, "losing").text
    browser.get(f"{stack.dashboard}/margins?months=3&fee=5.001")
    assert "fee: at most two decimals" in browser.page_source


def test_what_if_reprices_stored_tokens_exactly(stack: Stack, browser: Any) -> None:
    from libs.common.money import token_cost

    client_id = acme(stack)
    with stack.pipeline.http("pricing") as pricing:
        price = pricing.get("/v1/prices/openai/gpt-4o-mini").json()["price"]
    # acme's gpt-4o calls this month: 2 × 1M input + 2 × 200k output
    expected = token_cost(2_000_000, Decimal(price["input_per_mtok"])) + \
        token_cost(400_000, Decimal(price["output_per_mtok"]))
    browser.delete_all_cookies()
    sign_in(browser, stack, path=f"/what-if?client={client_id}&month={stack.period}"
            "&source=openai/gpt-4o&target=openai/gpt-4o-mini")
    assert browser.find_element(By.ID, "whatif-swapped").text == money(expected, exact=True)
    assert browser.find_element(By.ID, "whatif-actual").text == "$9.00"  # 2M @ $2.50 + 400k @ $10.00
    invoice = api_invoice(stack, client_id)
    after = Decimal(invoice["base_cost"]) - Decimal("9.00") + expected
    assert browser.find_element(By.ID, "whatif-month-after").text == money(after)
    browser.save_screenshot(str(SCREENSHOTS / "what-if.png"))


def test_prices_show_models_overrides_and_redrive_the_quarantine(stack: Stack, browser: Any) -> None:
    client_id = acme(stack)
    model = "private-" + client_id.split("-")[1]
    reply = stack.pipeline.send([usage(client_id, model, datetime.now(UTC), 1_000_000, 0)], key=ADMIN_KEY)
    assert reply.status_code == 202
    with stack.pipeline.http("pricing") as pricing:
        wait_until(lambda: [u for u in pricing.get("/v1/unpriced").json() if u["model"] == model], 60, "quarantine")
    browser.delete_all_cookies()
    sign_in(browser, stack, path="/prices")
    assert "gpt-4o-mini" in browser.find_element(By.ID, "models-in-use").text
    assert model in browser.find_element(By.ID, "unpriced-events").text
    follow(browser, browser.find_element(By.ID, "redrive"))
    assert browser.find_element(By.ID, "redriven").text.startswith("Re-drive done: 0 events priced")
    stack.pipeline.add_price("openai", model, "1.00")

    def override_listed() -> bool:
        browser.get(f"{stack.dashboard}/prices")
        return model in browser.find_element(By.ID, "overrides").text

    wait_until(override_listed, 30, "the override on the prices page")  # pricing reloads overrides every second
    follow(browser, browser.find_element(By.ID, "redrive"))
    wait_until(lambda: model not in browser.find_element(By.ID, "unpriced-events").text or browser.refresh(), 30,
               "the quarantine to empty")
    browser.save_screenshot(str(SCREENSHOTS / "prices.png"))


def test_last_months_invoice_status_follows_the_invoicing_ledger(stack: Stack, browser: Any) -> None:
    client_id = next(c for c in stack.clients if c.startswith("initech"))
    with stack.pipeline.http("invoicing") as invoicing:
        issued = invoicing.post(f"/v1/clients/{client_id}/invoices/{stack.previous}/issue")
        assert issued.status_code == 200, issued.text
        browser.delete_all_cookies()
        sign_in(browser, stack, path=f"/?month={stack.period}")
        row = browser.find_element(By.CSS_SELECTOR, f'#overview tr[data-client="{client_id}"]')
        assert row.find_element(By.CSS_SELECTOR, ".status").text == "issued"
        assert invoicing.post(f"/v1/invoices/{issued.json()['number']}/pay").status_code == 200
    browser.get(f"{stack.dashboard}/?month={stack.period}")
    row = browser.find_element(By.CSS_SELECTOR, f'#overview tr[data-client="{client_id}"]')
    assert row.find_element(By.CSS_SELECTOR, ".status").text == "paid"


def test_a_tax_line_shows_apart_from_the_billed_amount(stack: Stack, browser: Any) -> None:
    """Billed (and billed budgets) count cost + markup; a client's tax shows as its own line."""
    client_id = next(c for c in stack.clients if c.startswith("initech"))
    with stack.pipeline.http("invoicing") as invoicing:
        reply = invoicing.put(f"/v1/clients/{client_id}/billing", json={"tax_percent": "20", "tax_label": "VAT"})
        assert reply.status_code == 200, reply.text
    invoice = api_invoice(stack, client_id)
    billed = Decimal(invoice["base_cost"]) + Decimal(invoice["markup"])
    assert Decimal(invoice["tax"]) > 0 and Decimal(invoice["total"]) == billed + Decimal(invoice["tax"])
    browser.delete_all_cookies()
    sign_in(browser, stack, path=f"/clients/{client_id}")
    assert browser.find_element(By.ID, "client-billed").text == money(billed)
    tax = browser.find_element(By.ID, "invoice-tax")
    assert tax.text == money(Decimal(invoice["tax"]))
    assert "VAT (20%)" in tax.find_element(By.XPATH, "..").text
    assert browser.find_element(By.ID, "invoice-total").text == money(Decimal(invoice["total"]))
    browser.get(f"{stack.dashboard}/?month={stack.period}")
    row = browser.find_element(By.CSS_SELECTOR, f'#overview tr[data-client="{client_id}"]')
    assert cell(row, "billed") == money(billed)


def test_issued_invoices_link_their_pdf_on_the_client_page_and_the_portal(stack: Stack, browser: Any) -> None:
    """The portal's PDF link works for its client; another client's document number in it is a 403."""
    client_id, other = acme(stack), next(c for c in stack.clients if c.startswith("globex"))
    numbers = {}
    with stack.pipeline.http("invoicing") as invoicing:
        for c in (client_id, other):
            reply = invoicing.post(f"/v1/clients/{c}/invoices/{stack.previous}/issue")
            assert reply.status_code == 200, reply.text
            numbers[c] = reply.json()["number"]
    browser.delete_all_cookies()
    sign_in(browser, stack, path=f"/clients/{client_id}?month={stack.previous}")
    pdf = browser.find_element(By.ID, "invoice-pdf").get_attribute("href")
    assert pdf == f"{stack.dashboard}/clients/{client_id}/documents/{numbers[client_id]}.pdf"
    with httpx.Client(cookies={"tt_session": browser.get_cookie("tt_session")["value"]}) as http:
        reply = http.get(pdf)
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
        assert numbers[client_id] in pdf_text(reply.content)
        assert http.get(f"{stack.dashboard}/clients/{client_id}/documents/{numbers[other]}.pdf").status_code == 403

    follow(browser, browser.find_element(By.ID, "create-portal-link"))
    link = browser.find_element(By.ID, "portal-link").get_attribute("href")
    browser.delete_all_cookies()  # the client has no session
    browser.get(link)
    own = browser.find_element(By.CSS_SELECTOR, "#portal-history a.pdf-link").get_attribute("href")
    assert own == f"{link}/documents/{numbers[client_id]}.pdf"
    with httpx.Client(follow_redirects=False) as http:
        reply = http.get(own)
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
        assert numbers[client_id] in pdf_text(reply.content)
        assert http.get(f"{link}/documents/{numbers[other]}.pdf").status_code == 403  # not its client's
        assert http.get(f"{link}/documents/TT-2099-999999.pdf").status_code == 404
        assert http.get(f"{link[:-4]}abcd/documents/{numbers[client_id]}.pdf").status_code == 403  # bad link

    # the overview's screenshot, taken last: last month's invoices issued and paid by now
    sign_in(browser, stack, path=f"/?month={stack.period}")
    statuses = {r.get_attribute("data-client"): r.find_element(By.CSS_SELECTOR, "td:last-child").text
                for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")}
    assert (statuses[client_id], statuses[other]) == ("issued", "issued")
    screenshot(browser, "overview.png")
