"""Schemathesis hooks for ``tests/contract``: the false positives it cannot tell from bugs, each with why.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS=tests.contract.hooks``.

Only one kind of failure is ever waived: a rule no JSON Schema can state (it depends on the
clock, on another field, or on a library's list of formats), and only when the answer is the
documented 422 naming that rule and nothing else. A refusal that also names any other
problem, any other status, or any other check still fails the run.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import schemathesis


@dataclass(frozen=True)
class Waiver:
    code: str
    """Schemathesis' failure code (``ST202``: valid data refused; ``ST301``: deleted resource still there)."""
    method: str
    path: str
    message: str
    """For ``ST202``: every field problem of the 422 must contain this text..."""
    why: str
    along: str = ""
    """... or, when one of them does, have a field starting with this (the problems that rule lists)."""


WAIVERS = (
    Waiver("ST202", "POST", "/v1/prices", "effective_to must be later than effective_from",
           "A rule between two fields; JSON Schema compares no two values."),
    Waiver("ST202", "POST", "/v1/prices", "the range TokenTally stores",
           "The documented pattern keeps years 2000-2099; a time within 14 hours of either end can still fall "
           "outside 2000-01-01..2100-01-01 once its UTC offset is applied, which no pattern can see."),
    Waiver("ST202", "PUT", "/v1/clients/{client_id}", "not a notification URL apprise understands",
           "Which URLs apprise can send to is its plugin list (Slack, email, Teams, ...), not a pattern; "
           "refusing one it cannot use when it is saved is the point."),
    Waiver("ST202", "PUT", "/v1/clients/{client_id}", "is given twice",
           "Thresholds are decimals: \"0.8\" and \"0.80\" are one threshold given twice, which uniqueItems "
           "(declared) cannot see, since it compares the texts."),
    Waiver("ST202", "PUT", "/v1/exports/{system}/mapping", "two rules for",
           "Two rules for the same usage would make the export ambiguous; JSON Schema's uniqueItems compares "
           "whole items, not one key of them."),
    Waiver("ST202", "POST", "/v1/clients/{client_id}/invoices/{period}/issue", "has not ended yet",
           "A month can be issued once it has ended: that depends on the clock, not on the request's shape."),
    Waiver("ST202", "POST", "/v1/events", "",  # every rejected event, see _ingest_rule
           "Ingest's rules on an event that depend on the clock (timestamps at most 5 minutes ahead, at most "
           "35 days old for an ingest key) or on the vendor (a usage object must be OpenAI's, Anthropic's or "
           "Google's shape); and token counts are read strictly: 5.0 is an integer to JSON Schema, but a float "
           "in a count is a client bug, and accepting it would cost a Python call per field on the hot path "
           "(libs/common/usage.py). Each refusal names the event and field."),
    Waiver("ST202", "POST", "/v1/dead-letters/{letter_id}/redrive", "could not be read as an event",
           "A letter whose message was unreadable can only be re-driven with the whole event in `fix` (the "
           "422 lists the event's missing fields); whether it was readable is the letter's state, not the "
           "request's shape.", along="fix."),
    Waiver("ST301", "GET", "/v1/webhooks/endpoints/{endpoint_id}/deliveries", "",
           "Deleting an endpoint stops sending to it and keeps its delivery history readable, by design "
           "(an audit trail of what was sent where)."),
    Waiver("ST301", "GET", "/v1/webhooks/endpoints/{endpoint_id}/attempts", "",
           "Deleting an endpoint stops sending to it and keeps its attempts readable, by design "
           "(an audit trail of what was sent where)."),
)

_INGEST_RULES = ("timestamp", "unrecognised usage object", "usage:")


@schemathesis.hook
def map_headers(ctx: Any, headers: dict[str, str] | None) -> dict[str, str] | None:
    """A fresh ``Idempotency-Key`` for every request that sends a valid one.

    Schemathesis would send the document's example key (or the same short one) with unrelated
    requests; invoicing rightly answers those with a 409 (the key was used for another request),
    so the run would never reach the routes' own logic. Invalid keys are left as generated: the
    422 for them is still tested.
    """
    if headers and re.match(_KEY_PATTERN, headers.get("Idempotency-Key", "")):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


_KEY_PATTERN = "^[!-~]([ -~]*[!-~])?$"  # services.invoicing.idempotency.KEY_PATTERN


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except the waived ones (returning False drops it)."""
    waivers = [w for w in WAIVERS
               if failure.code == w.code and case.method.upper() == w.method and case.operation.path == w.path]
    return not waivers or not _answer_matches(waivers, case, response)


def _answer_matches(waivers: list[Waiver], case: Any, response: Any) -> bool:
    """True when the answer is exactly what the waivers describe (for ``ST202``: a 422 each of whose
    problems is one of the waived rules)."""
    if waivers[0].code != "ST202":
        return True
    if response.status_code != 422:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if waivers[0].path == "/v1/events":
        return _ingest_rule(body, case.body)
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, list) or not detail or not all(isinstance(p, dict) for p in detail):
        return False
    named = [w for w in waivers if any(w.message in str(p.get("message", "")) for p in detail)]
    return bool(named) and all(
        any(w.message in str(p.get("message", "")) or (w.along and str(p.get("field", "")).startswith(w.along))
            for w in named)
        for p in detail)


def _ingest_rule(body: Any, sent: Any) -> bool:
    """Ingest's 422 for events none of which could be accepted: every problem is a clock or vendor rule,
    or a token count sent as a float with no fraction."""
    rejected = body.get("rejected") if isinstance(body, dict) else None
    if not rejected:
        return False
    events = sent if isinstance(sent, list) else [sent]
    for event in rejected:
        errors = event.get("errors") or []
        if not errors:
            return False
        for error in errors:
            field, message = str(error.get("field", "")), str(error.get("message", ""))
            if any(rule in f"{field}: {message}" for rule in _INGEST_RULES):
                continue
            if message == "Input should be a valid integer" and _integral_float(events, event.get("index"), field):
                continue
            return False
    return True


def _integral_float(events: list[Any], index: Any, field: str) -> bool:
    value: Any = events[index] if isinstance(index, int) and index < len(events) else None
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return isinstance(value, float) and value.is_integer()
