"""The services' HTTP APIs as the dashboard reads them: one method per call, JSON in, dicts out.

Defensive by design: a service that is down or answers an error becomes a
``BackendUnavailable`` (a page saying which service, never a 500), a 404 becomes None,
and fields added later by other services (e.g. an invoice's lifecycle ``status``) are
read with ``.get`` so the dashboard works before and after they exist.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

import httpx

__all__ = ["Backend", "BackendUnavailable", "DocumentForbidden", "InvalidUpdate", "UpstreamTimings", "upstream_timings"]


class UpstreamTimings:
    """The upstream calls of one request and how long each took, for its ``Server-Timing`` header."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def add(self, name: str, milliseconds: float) -> None:
        taken = sum(1 for n, _ in self.calls if n == name or n.startswith(f"{name}-"))
        self.calls.append((name if not taken else f"{name}-{taken + 1}", milliseconds))

    def header_entries(self) -> list[str]:
        return [f"{name};dur={ms:.1f}" for name, ms in self.calls]


#: Set per request by the app's middleware; concurrent calls (``asyncio.gather``) share the list.
upstream_timings: ContextVar[UpstreamTimings | None] = ContextVar("upstream_timings", default=None)


class BackendUnavailable(Exception):
    """A service could not answer; ``service`` names it for the page."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


class DocumentForbidden(Exception):
    """The document asked for is another client's."""


class InvalidUpdate(Exception):
    """The API refused an update (422): ``fields`` maps each field to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def _field_errors(body: Any) -> dict[str, str]:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return {str(e.get("field", "body")): str(e.get("message", "")) for e in detail if isinstance(e, dict)}
    return {"body": str(detail or body)}


class Backend:
    """Calls to invoicing, alerts and pricing over one pooled HTTP client."""

    def __init__(self, http: httpx.AsyncClient, *, invoicing: str, alerts: str, pricing: str, key: str) -> None:
        self._http = http
        self._urls = {"invoicing": invoicing.rstrip("/"), "alerts": alerts.rstrip("/"), "pricing": pricing.rstrip("/")}
        self._headers = {"Authorization": f"Bearer {key}"}

    async def _call(self, service: str, method: str, path: str, *, name: str, **kwargs: Any) -> httpx.Response:
        """One request; its time goes to the request's ``Server-Timing`` as ``<service>-<name>``."""
        started = time.perf_counter()
        try:
            return await self._http.request(method, self._urls[service] + path, headers=self._headers, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(service, f"not reachable ({type(exc).__name__})") from exc
        finally:
            if (timings := upstream_timings.get()) is not None:
                timings.add(f"{service}-{name}", (time.perf_counter() - started) * 1000)

    async def _get(self, service: str, path: str, params: dict[str, Any] | None = None, *, name: str) -> Any:
        reply = await self._call(service, "GET", path, params=params, name=name)
        if reply.status_code == 404:
            return None
        if reply.status_code != 200:
            raise BackendUnavailable(service, f"GET {path} answered {reply.status_code}")
        return reply.json()

    # invoicing
    async def clients(self) -> list[dict[str, Any]]:
        return await self._get("invoicing", "/v1/clients", name="clients") or []

    async def client(self, client_id: str) -> dict[str, Any] | None:
        return await self._get("invoicing", f"/v1/clients/{client_id}", name="client")  # type: ignore[no-any-return]

    async def month_totals(self, period: str) -> list[dict[str, Any]]:
        """Every client's month (cost, margin, billed, invoice statuses, budget) in one light call."""
        return await self._get("invoicing", f"/v1/usage/{period}/clients", name="month-totals") or []

    async def invoice(self, client_id: str, period: str) -> dict[str, Any] | None:
        return await self._get(  # type: ignore[no-any-return]
            "invoicing", f"/v1/clients/{client_id}/invoices/{period}", name="invoice")

    async def document_pdf(self, client_id: str, number: str) -> tuple[bytes, str] | None:
        """An issued document's PDF and file name, read as ``client_id``'s; None when there is no such
        document; ``DocumentForbidden`` when it is another client's."""
        reply = await self._call("invoicing", "GET", f"/v1/clients/{client_id}/documents/{number}",
                                 params={"format": "pdf"}, name="document-pdf")
        if reply.status_code == 404:
            return None
        if reply.status_code == 403:
            raise DocumentForbidden(number)
        if reply.status_code != 200:
            raise BackendUnavailable("invoicing", f"GET document {number} answered {reply.status_code}")
        disposition = reply.headers.get("content-disposition", "")
        name = disposition.split('filename="')[1].rstrip('"') if 'filename="' in disposition else f"{number}.pdf"
        return reply.content, name

    async def daily_usage(self, client_id: str, period: str) -> list[dict[str, Any]]:
        return await self._get("invoicing", f"/v1/clients/{client_id}/usage/{period}", name="daily-usage") or []

    async def models_in_use(self, period: str) -> list[dict[str, Any]]:
        return await self._get("invoicing", f"/v1/usage/{period}/models", name="models") or []

    async def put_client(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self._call("invoicing", "PUT", f"/v1/clients/{client_id}", json=body, name="put-client")
        if reply.status_code == 422:
            raise InvalidUpdate(_field_errors(reply.json()))
        if reply.status_code != 200:
            raise BackendUnavailable("invoicing", f"PUT client answered {reply.status_code}")
        return reply.json()  # type: ignore[no-any-return]

    # alerts
    async def alerts(self, client_id: str, period: str | None = None) -> list[dict[str, Any]]:
        params = {"period": period} if period else None
        return await self._get("alerts", f"/v1/clients/{client_id}/alerts", params, name="alerts") or []

    async def alert_counts(self, period: str) -> dict[str, int]:
        rows = await self._get("alerts", f"/v1/alerts/{period}/counts", name="alert-counts") or []
        return {row["client_id"]: int(row["sent"]) for row in rows}

    # pricing
    async def overrides(self) -> list[dict[str, Any]]:
        return await self._get("pricing", "/v1/prices", name="overrides") or []

    async def explain_price(self, provider: str, model: str, at: str | None = None) -> dict[str, Any] | None:
        return await self._get(  # type: ignore[no-any-return]
            "pricing", f"/v1/prices/{provider}/{model}", {"at": at} if at else None, name="explain-price")

    async def unpriced(self, limit: int = 200) -> list[dict[str, Any]]:
        return await self._get("pricing", "/v1/unpriced", {"limit": limit}, name="unpriced") or []

    async def redrive(self) -> int:
        reply = await self._call("pricing", "POST", "/v1/unpriced/redrive", name="redrive")
        if reply.status_code != 200:
            raise BackendUnavailable("pricing", f"re-drive answered {reply.status_code}")
        return int(reply.json().get("repriced", 0))
