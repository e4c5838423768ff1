"""PostgreSQL reads and writes of the agency profile, its frozen snapshots and client billing details.

Profiles and billing details are stored as their pydantic JSON (validated again on read),
so a field added to the model later needs no column. Snapshots are content-addressed:
the same profile is stored once however many documents are issued under it, and a
snapshot is never changed (documents point at it by id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from services.invoicing.amounts import trim
from services.invoicing.parties import AgencyProfile, ClientBilling

__all__ = ["PartyStore", "save_snapshot"]


async def save_snapshot(connection: asyncpg.Connection, profile: AgencyProfile) -> int:
    """The id of the snapshot holding exactly ``profile`` (stored now if it is new)."""
    text = profile.model_dump_json()
    digest = hashlib.sha256(text.encode()).hexdigest()
    # Read first: nearly every issue finds its profile stored, and a read takes no row lock (an
    # upsert's DO UPDATE would lock the shared row until each issuing transaction commits).
    found = await connection.fetchval("SELECT id FROM agency_snapshots WHERE digest = $1", digest)
    if found is None:
        found = await connection.fetchval(
            "INSERT INTO agency_snapshots (digest, profile) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING"
            " RETURNING id", digest, text)
    if found is None:  # another transaction stored it meanwhile (and committed: the insert waited for it)
        found = await connection.fetchval("SELECT id FROM agency_snapshots WHERE digest = $1", digest)
    return found  # type: ignore[no-any-return]


class PartyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def agency(self) -> tuple[AgencyProfile, datetime] | None:
        """The profile an admin set, and when; None if none was set yet."""
        row = await self._pool.fetchrow("SELECT profile, updated_at FROM agency_profile")
        return (AgencyProfile.model_validate_json(row["profile"]), row["updated_at"]) if row else None

    async def save_agency(self, profile: AgencyProfile, at: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO agency_profile (id, profile, updated_at) VALUES (true, $1, $2)"
            " ON CONFLICT (id) DO UPDATE SET profile = $1, updated_at = $2", profile.model_dump_json(), at)

    async def snapshots(self, ids: Iterable[int]) -> dict[int, AgencyProfile]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self._pool.fetch("SELECT id, profile FROM agency_snapshots WHERE id = ANY($1::bigint[])", wanted)
        return {row["id"]: AgencyProfile.model_validate_json(row["profile"]) for row in rows}

    async def billing(self, client_id: str) -> ClientBilling | None:
        row = await self._pool.fetchrow("SELECT details, tax_percent FROM client_billing WHERE client_id = $1",
                                        client_id)
        return _billing(row) if row else None

    async def all_billing(self) -> dict[str, ClientBilling]:
        """Every client with billing details: its details and tax rate."""
        rows = await self._pool.fetch("SELECT client_id, details, tax_percent FROM client_billing")
        return {row["client_id"]: _billing(row) for row in rows}

    async def save_billing(self, client_id: str, billing: ClientBilling, at: datetime) -> None:
        details = billing.details.model_dump_json()
        await self._pool.execute(
            "INSERT INTO client_billing (client_id, details, tax_percent, updated_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (client_id) DO UPDATE SET details = $2, tax_percent = $3, updated_at = $4",
            client_id, details, billing.tax_percent, at)


def _billing(row: asyncpg.Record) -> ClientBilling:
    billing = ClientBilling.model_validate_json(row["details"])
    tax = row["tax_percent"]
    # numeric(7, 4) comes back as 20.0000: written as given (20), as the markup is.
    return billing.model_copy(update={"tax_percent": trim(tax) if tax is not None else None})
