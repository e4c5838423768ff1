"""What ``make status`` shows beyond "running": consumer lag and dead letters, from each consumer's ``/health``.

    pricing     ok        tokentally-pricing lag 0 · tokentally-pricing.dead-letters lag 0
    aggregator  degraded  tokentally-aggregator.priced lag 1,200 (stalled 75s) · tokentally-aggregator.unpriced lag 0
                          tokentally-aggregator.priced has not advanced for 75s with 1200 messages waiting
    dead letters: 3 in usage.deadletter.v1 (2 in the last 900s), 1 pending review (GET /v1/dead-letters on pricing)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

CONSUMERS = ("pricing", "aggregator", "alerts")


def _health(url: str) -> dict[str, Any] | None:
    try:
        reply = httpx.get(f"{url}/health", timeout=3)
        return reply.json() if reply.status_code == 200 else None  # type: ignore[no-any-return]
    except (httpx.HTTPError, ValueError):
        return None


def _pending_dead_letters(pricing_url: str, admin_key: str) -> int | None:
    try:
        reply = httpx.get(f"{pricing_url}/v1/dead-letters", params={"limit": 10_000},
                          headers={"Authorization": f"Bearer {admin_key}"}, timeout=5)
        return len(reply.json()) if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def consumer_report(urls: Mapping[str, str], admin_key: str | None = None) -> list[str]:
    """Lines for the consumers among ``urls`` (service name → base URL) that answer ``/health``."""
    lines: list[str] = []
    dead: dict[str, Any] | None = None
    for name in CONSUMERS:
        if name not in urls:
            continue
        health = _health(urls[name])
        if health is None:
            lines.append(f"{name:<11} no answer from {urls[name]}/health")
            continue
        groups = " · ".join(
            f"{c['group']} lag {c['lag']:,}" + (f" (stalled {c['stalled_seconds']:.0f}s)" if c["stalled_seconds"] else "")
            + (f" (retrying, {c['retrying']} failures)" if c.get("retrying") else "")
            for c in health["consumers"])
        lines.append(f"{name:<11} {health['status']:<9} {groups}")
        lines.extend(f"{'':<21} {reason}" for reason in health["reasons"])
        dead = dead or health.get("dead_letters")
    if dead is not None and dead.get("total") is not None:
        line = f"dead letters: {dead['total']:,} in usage.deadletter.v1 ({dead['recent']:,} recently)"
        pending = _pending_dead_letters(urls["pricing"], admin_key) if admin_key and "pricing" in urls else None
        if pending is not None:
            line += f", {pending:,} pending review (GET /v1/dead-letters on pricing)"
        lines.append(line)
    return lines
