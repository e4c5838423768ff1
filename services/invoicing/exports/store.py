"""PostgreSQL reads and writes of the agency's accounting mappings, one row per system.

Stored as the mapping's pydantic JSON (validated again on read), so a field added to the
model later needs no column (as the agency profile is stored).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.invoicing.exports.mapping import AccountingMapping, AccountingSystem

__all__ = ["MappingStore"]


class MappingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, system: AccountingSystem) -> tuple[AccountingMapping, datetime] | None:
        """The mapping an admin set for ``system``, and when; None if none was set."""
        row = await self._pool.fetchrow("SELECT mapping, updated_at FROM accounting_mappings WHERE system = $1", system)
        return (AccountingMapping.model_validate_json(row["mapping"]), row["updated_at"]) if row else None

    async def save(self, system: AccountingSystem, mapping: AccountingMapping, at: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO accounting_mappings (system, mapping, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (system) DO UPDATE SET mapping = $2, updated_at = $3", system, mapping.model_dump_json(), at)
