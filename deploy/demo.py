"""Demo data for ``make run``: three clients and a day of realistic usage, loaded once."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from deploy.local_clickhouse import PROJECT_ROOT

MARKER = PROJECT_ROOT / ".local" / "demo-loaded"
CLIENTS = {
    "acme": {"name": "Acme Corp", "markup_percent": "25", "monthly_budget": "500.00",
             "alert_thresholds": ["0.5", "0.8", "1.0"], "notify": []},
    "globex": {"name": "Globex", "markup_percent": "15", "monthly_budget": "200.00",
               "alert_thresholds": ["0.8", "1.0"], "notify": []},
    "initech": {"name": "Initech", "markup_percent": "30", "monthly_budget": None,
                "alert_thresholds": ["0.8", "1.0"], "notify": []},
}
MODELS = [  # (provider, model, weight) priced from the bundled genai-prices catalog
    ("openai", "gpt-4o", 30), ("openai", "gpt-4o-mini", 30), ("anthropic", "claude-3-5-sonnet", 20),
    ("anthropic", "claude-3-5-haiku", 10), ("google", "gemini-1.5-pro", 10),
]


def demo_events(count: int, now: datetime, rng: random.Random) -> list[dict[str, object]]:
    events = []
    for _ in range(count):
        provider, model, _weight = rng.choices(MODELS, weights=[m[2] for m in MODELS])[0]
        prompt = int(rng.lognormvariate(7.5, 1.0))
        cached = int(prompt * rng.choice([0, 0, 0.5, 0.8]))
        events.append({
            "event_id": uuid.uuid4().hex,
            "client_id": rng.choices(list(CLIENTS), weights=[5, 3, 2])[0],
            "provider": provider,
            "model": model,
            "timestamp": (now - timedelta(seconds=rng.uniform(0, 86_400))).isoformat(),
            "input_tokens": prompt - cached,
            "cache_read_tokens": cached,
            "output_tokens": int(rng.lognormvariate(5.5, 0.8)),
            "project": rng.choice(["chatbot", "summaries", "search"]),
        })
    return events


def load_demo_data(env: dict[str, str], keys: dict[str, str]) -> None:
    if MARKER.exists():
        print("\nDemo data: already loaded.")
        return
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    invoicing = f"http://127.0.0.1:{env['INVOICING_PORT']}"
    ingest = f"http://127.0.0.1:{env['INGEST_PORT']}"
    now = datetime.now(UTC)
    with httpx.Client(timeout=30) as http:
        for client_id, body in CLIENTS.items():
            http.put(f"{invoicing}/v1/clients/{client_id}", json=body, headers=admin).raise_for_status()
        events = demo_events(2_000, now, random.Random(2026))
        for start in range(0, len(events), 500):
            reply = http.post(f"{ingest}/v1/events", json=events[start:start + 500],
                              headers={"Authorization": f"Bearer {keys['ingest']}"})
            reply.raise_for_status()
        period = now.strftime("%Y-%m")
        expected = sum(1 for e in events if e["client_id"] == "acme" and str(e["timestamp"]).startswith(period))
        url = f"{invoicing}/v1/clients/acme/invoices/{period}"
        invoice = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            invoice = http.get(url, headers=admin).json()
            if sum(line["events"] for line in invoice.get("lines", [])) >= expected:
                break
            time.sleep(0.5)
    MARKER.write_text(now.isoformat())
    print(f"\nDemo data: 3 clients, 2,000 calls over the last 24 hours. Acme's invoice for {period}:")
    for line in invoice.get("lines", []):
        print(f"  {line['description']}")
    print(f"  base {invoice.get('base_cost')}  markup {invoice.get('markup')} ({invoice.get('markup_percent')}%)"
          f"  total {invoice.get('total')} {invoice.get('currency', '')}")
    print(f"  curl -H 'Authorization: Bearer {keys['admin']}' {url}")
