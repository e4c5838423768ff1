"""What a person sees in a real browser (headless Chromium via Selenium) against the real stack."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from services.dashboard.formatting import money
from tests.dashboard.conftest import ADMIN_KEY, INGEST_KEY, Stack
from tests.support.browser import chromium

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def sign_in(browser: Any, stack: Stack, key: str = ADMIN_KEY, path: str = "/") -> None:
    browser.get(stack.dashboard + path)
    browser.find_element(By.ID, "api_key").send_keys(key)
    browser.find_element(By.ID, "sign-in").click()


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
        assert cell(rows[client_id], "billed") == money(Decimal(summary["total"]))
        assert cell(rows[client_id], "margin") == money(Decimal(summary["markup"]))
    total = sum((Decimal(s["total"]) for s in summaries.values()), Decimal(0))
    assert browser.find_element(By.ID, "foot-billed").text == money(total)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "overview.png"))


def test_overview_sorts_by_a_column(stack: Stack, browser: Any) -> None:
    browser.get(f"{stack.dashboard}/?month={stack.period}&sort=cost&dir=asc")
    costs = [Decimal(cell(r, "cost").replace("$", "").replace(",", ""))
             for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")]
    assert len(costs) >= 3 and costs == sorted(costs)
    browser.find_element(By.CSS_SELECTOR, "#overview thead th.sorted a").click()  # the same column, flipped
    costs = [Decimal(cell(r, "cost").replace("$", "").replace(",", ""))
             for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")]
    assert costs == sorted(costs, reverse=True)


def test_a_bad_month_is_a_clear_400(stack: Stack, browser: Any) -> None:
    browser.get(f"{stack.dashboard}/?month=2026-13")
    assert "month 13 does not exist" in browser.find_element(By.ID, "error-message").text


def test_sign_out_ends_the_session(stack: Stack, browser: Any) -> None:
    browser.get(stack.dashboard + "/")
    browser.find_element(By.ID, "sign-out").click()
    assert browser.current_url.endswith("/login")
    browser.get(stack.dashboard + "/")
    assert "/login" in browser.current_url
