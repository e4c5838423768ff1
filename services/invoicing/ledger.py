"""PostgreSQL reads and writes of issued documents (invoices and credit notes) and client options.

A stored document is final: ``body_json`` and ``body_csv`` (which carry the client's billing
details and tax as they were) and ``agency_snapshot`` (the agency profile as it was) are written
once, in the transaction that takes its number, and never updated. Only its lifecycle columns move
(``issued`` → ``paid`` or ``void``). Each of these changes writes its event to the outbox
(``events``) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from libs.common.errors import Conflict, NotFound, Unavailable
from services.invoicing import events
from services.invoicing.numbering import format_number, take_number
from services.invoicing.parties import AgencyProfile
from services.invoicing.party_store import save_snapshot

__all__ = ["BilledDocument", "ClientOptions", "DocumentAmounts", "Ledger", "NewDocument", "StoredDocument",
           "connect_pool"]

_COLUMNS = (
    "kind, number, client_id, period, status, issued_at, due_date, usage_cutoff, total, credits_number,"
    " replaces_number, body_json, body_csv, paid_at, voided_at, void_reason, agency_snapshot"
)


@dataclass(frozen=True, slots=True)
class StoredDocument:
    kind: str
    number: str
    client_id: str
    period: str
    status: str
    issued_at: datetime
    due_date: date
    usage_cutoff: datetime
    total: Decimal
    credits_number: str | None
    replaces_number: str | None
    body_json: str
    body_csv: str
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    agency_snapshot: int | None = None
    """The agency profile the document was issued under (``agency_snapshots``); None for documents
    issued before profiles existed, which render with the settings' profile."""


@dataclass(frozen=True, slots=True)
class DocumentAmounts:
    """What a document billed, per month of usage, and its frozen totals: read from its JSON once.

    A stored document's body never changes, so these never do either: the month totals keep
    them in memory by number (``app.state.document_amounts``) and parse each body once."""

    billed_by_month: dict[str, Decimal]
    name: str | None
    base_cost: Decimal | None
    markup_percent: Decimal | None
    markup: Decimal | None


@dataclass(frozen=True, slots=True)
class BilledDocument:
    """A document as the every-client month totals read it: its lifecycle, and (unless void) what it
    billed per month of usage and its frozen totals."""

    kind: str
    client_id: str
    period: str
    number: str
    status: str
    amounts: DocumentAmounts | None

    @property
    def billed_by_month(self) -> dict[str, Decimal]:
        return self.amounts.billed_by_month if self.amounts is not None else {}


# Every document that counts (not void), and the void invoices of one month (their status only).
_BILLED_META_SQL = """
SELECT kind, client_id, period, number, status FROM documents
WHERE status <> 'void' OR (kind = 'invoice' AND period = $1) ORDER BY kind, number
"""

# Documents' lines summed per month of usage, taken apart by PostgreSQL (no invoice parsed in Python).
_AMOUNTS_SQL = """
WITH docs AS (SELECT number, period, body_json::jsonb AS body FROM documents WHERE number = ANY($1::text[]))
SELECT d.number, m.months, m.amounts, d.body ->> 'name' AS name, d.body ->> 'base_cost' AS base_cost,
    d.body ->> 'markup_percent' AS markup_percent, d.body ->> 'markup' AS markup
FROM docs d LEFT JOIN LATERAL (
    SELECT array_agg(month) AS months, array_agg(amount) AS amounts FROM (
        SELECT coalesce(line ->> 'service_period', d.period) AS month, sum((line ->> 'amount')::numeric) AS amount
        FROM jsonb_array_elements(d.body -> 'lines') AS line GROUP BY 1) per_month
) m ON true
"""


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    client_id: str
    auto_issue: bool
    grace_hours: int | None


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document to store, rendered once its number is known (``render(number) -> (json, csv, total)``)."""

    kind: str
    series: str
    prefix: str
    first_number: int
    client_id: str
    period: str
    issued_at: datetime
    due_date: date
    usage_cutoff: datetime
    render: Callable[[str], tuple[str, str, Decimal]]
    credits_number: str | None = None
    replaces_number: str | None = None
    agency: AgencyProfile | None = None
    """Who the document is from, as now: snapshotted in the transaction that stores the document."""


def _document(row: asyncpg.Record) -> StoredDocument:
    return StoredDocument(**dict(row))


async def connect_pool(url: str, size: int) -> asyncpg.Pool:
    try:
        return await asyncpg.create_pool(url, min_size=1, max_size=size)
    except (OSError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"PostgreSQL is not reachable: {exc}") from exc


class Ledger:
    """Queries over one shared asyncpg pool (created in the app's lifespan)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def live_invoice(self, client_id: str, period: str) -> StoredDocument | None:
        """The client's invoice for the month that is not void (at most one, by a unique index)."""
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM documents WHERE kind = 'invoice' AND status <> 'void'"
            " AND client_id = $1 AND period = $2", client_id, period)
        return _document(row) if row else None

    async def by_number(self, number: str) -> StoredDocument | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM documents WHERE number = $1", number)
        return _document(row) if row else None

    async def listing(
        self, *, period: str | None = None, status: str | None = None, client_id: str | None = None,
        kind: str | None = None,
    ) -> list[StoredDocument]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM documents WHERE ($1::text IS NULL OR period = $1)"
            " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR client_id = $3)"
            " AND ($4::text IS NULL OR kind = $4) ORDER BY kind, number",
            period, status, client_id, kind)
        return [_document(row) for row in rows]

    async def issued_between(self, start: datetime, end: datetime) -> list[StoredDocument]:
        """Every document issued in ``[start, end)``, whatever its status now, by kind and number."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM documents WHERE issued_at >= $1 AND issued_at < $2 ORDER BY kind, number",
            start, end)
        return [_document(row) for row in rows]

    async def billed_documents(self, client_id: str) -> list[StoredDocument]:
        """Every document of the client that counts (not void): what has been billed so far."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM documents WHERE client_id = $1 AND status <> 'void' ORDER BY issued_at, number",
            client_id)
        return [_document(row) for row in rows]

    async def billed_documents_of_all(
        self, previous: str, known: dict[str, DocumentAmounts] | None = None
    ) -> list[BilledDocument]:
        """Every client's documents that count, with what each billed per month; plus ``previous``'s
        void invoices (for that month's status). ``known`` holds the amounts of documents already
        read (their bodies never change): only new documents' bodies are read, and added to it."""
        known = {} if known is None else known
        rows = await self._pool.fetch(_BILLED_META_SQL, previous)
        missing = [row["number"] for row in rows if row["status"] != "void" and row["number"] not in known]
        if missing:
            for row in await self._pool.fetch(_AMOUNTS_SQL, missing):
                known[row["number"]] = DocumentAmounts(
                    billed_by_month=dict(zip(row["months"] or [], row["amounts"] or [], strict=True)),
                    name=row["name"], base_cost=_decimal(row["base_cost"]),
                    markup_percent=_decimal(row["markup_percent"]), markup=_decimal(row["markup"]))
        return [BilledDocument(kind=row["kind"], client_id=row["client_id"], period=row["period"],
                               number=row["number"], status=row["status"],
                               amounts=known.get(row["number"]) if row["status"] != "void" else None)
                for row in rows]

    async def issued_periods(self, period: str) -> set[str]:
        """Clients with a live invoice for ``period``."""
        rows = await self._pool.fetch(
            "SELECT client_id FROM documents WHERE kind = 'invoice' AND status <> 'void' AND period = $1", period)
        return {row["client_id"] for row in rows}

    async def store(self, documents: Sequence[NewDocument]) -> list[StoredDocument] | None:
        """Number and insert ``documents`` in one transaction; None when the client's month was
        issued meanwhile (by another instance): nothing is stored and no number is used up.

        The first document must be the invoice; credit notes that go with it follow.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            stored: list[StoredDocument] = []
            for new in documents:
                sequence = await take_number(connection, new.series, new.first_number)
                number = format_number(new.prefix, new.issued_at.year, sequence)
                body_json, body_csv, total = new.render(number)
                snapshot = await save_snapshot(connection, new.agency) if new.agency is not None else None
                try:
                    row = await connection.fetchrow(
                        "INSERT INTO documents (kind, series, sequence, number, client_id, period, status, issued_at,"
                        " due_date, usage_cutoff, total, credits_number, replaces_number, body_json, body_csv,"
                        " agency_snapshot)"
                        " VALUES ($1, $2, $3, $4, $5, $6, 'issued', $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                        f" RETURNING {_COLUMNS}",
                        new.kind, new.series, sequence, number, new.client_id, new.period, new.issued_at,
                        new.due_date, new.usage_cutoff, total, new.credits_number, new.replaces_number,
                        body_json, body_csv, snapshot)
                except asyncpg.UniqueViolationError:
                    return None  # the transaction rolls back: the number goes back to the series
                document = _document(row)
                await events.record(connection, *events.document_event(document, new.issued_at))
                stored.append(document)
            return stored

    async def stored_pdf(self, number: str, status: str) -> bytes | None:
        """The PDF first served for the document in ``status``; None if none was served yet."""
        return await self._pool.fetchval(  # type: ignore[no-any-return]
            "SELECT pdf FROM document_pdfs WHERE number = $1 AND status = $2", number, status)

    async def keep_pdf(self, number: str, status: str, pdf: bytes, at: datetime) -> bytes:
        """Store ``pdf`` as the document's PDF in ``status`` unless one is already stored; the stored one."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO document_pdfs (number, status, pdf, created_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (number, status) DO NOTHING", number, status, pdf, at)
            return await connection.fetchval(  # type: ignore[no-any-return]
                "SELECT pdf FROM document_pdfs WHERE number = $1 AND status = $2", number, status)

    async def set_status(
        self, number: str, status: str, at: datetime, reason: str | None = None
    ) -> StoredDocument:
        """``issued`` → ``paid`` or ``void``; ``paid`` → ``void`` (a refund). A void document stays void."""
        async with self._pool.acquire() as connection, connection.transaction():
            current = await connection.fetchrow(
                f"SELECT {_COLUMNS} FROM documents WHERE number = $1 FOR UPDATE", number)
            if current is None:
                raise NotFound(f"no document numbered '{number}'")
            if current["status"] == status:
                return _document(current)
            if current["status"] == "void":
                raise Conflict(f"{number} is void; a void document never changes")
            if status == "paid":
                row = await connection.fetchrow(
                    f"UPDATE documents SET status = 'paid', paid_at = $2 WHERE number = $1 RETURNING {_COLUMNS}",
                    number, at)
            else:
                row = await connection.fetchrow(
                    "UPDATE documents SET status = 'void', voided_at = $2, void_reason = $3 WHERE number = $1"
                    f" RETURNING {_COLUMNS}", number, at, reason)
            document = _document(row)
            await events.record(connection, *events.document_event(document, at))  # committed with the change
            return document

    async def client_options(self, client_id: str) -> ClientOptions | None:
        row = await self._pool.fetchrow(
            "SELECT client_id, auto_issue, grace_hours FROM client_invoicing WHERE client_id = $1", client_id)
        return ClientOptions(**dict(row)) if row else None

    async def all_client_options(self) -> dict[str, ClientOptions]:
        rows = await self._pool.fetch("SELECT client_id, auto_issue, grace_hours FROM client_invoicing")
        return {row["client_id"]: ClientOptions(**dict(row)) for row in rows}

    async def save_client_options(self, options: ClientOptions, at: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO client_invoicing (client_id, auto_issue, grace_hours, updated_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (client_id) DO UPDATE SET auto_issue = $2, grace_hours = $3, updated_at = $4",
            options.client_id, options.auto_issue, options.grace_hours, at)


