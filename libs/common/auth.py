"""API keys with scopes, compared in constant time against their SHA-256 digests.

Keys come from ``TOKENTALLY_API_KEYS`` (JSON list). An entry gives either the key
itself (``"key"``, convenient locally) or only its digest (``"key_sha256"``, for
production: the plain key then lives nowhere on the server). Scopes:

- ``admin``: everything;
- ``ingest``: send usage events;
- ``client:<client_id>``: read that one client's invoices and alerts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from libs.common.ids import CLIENT_ID_RULE

ADMIN = "admin"
INGEST = "ingest"
CLIENT_PREFIX = "client:"


class ApiKeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, min_length=16)
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    scope: str = Field(pattern=rf"^(admin|ingest|client:{CLIENT_ID_RULE})$")
    name: str = ""

    @model_validator(mode="after")
    def _one_of_key_or_digest(self) -> ApiKeyEntry:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of 'key' or 'key_sha256'")
        return self

    @property
    def digest(self) -> bytes:
        if self.key_sha256 is not None:
            return bytes.fromhex(self.key_sha256)
        return _sha256(self.key or "")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the scope of the key they presented."""

    scope: str
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.scope == ADMIN

    def can_ingest(self) -> bool:
        return self.scope in (ADMIN, INGEST)

    def can_read_client(self, client_id: str) -> bool:
        return self.is_admin or self.scope == f"{CLIENT_PREFIX}{client_id}"


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class KeyRing:
    """Looks a presented key up among the configured ones without timing leaks."""

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._entries = tuple(entries)

    @classmethod
    def from_json(cls, raw: str) -> KeyRing:
        try:
            items = json.loads(raw or "[]")
            return cls(ApiKeyEntry.model_validate(item) for item in items)
        except (json.JSONDecodeError, TypeError, ValidationError) as exc:
            raise ValueError(f"TOKENTALLY_API_KEYS is not a valid key list: {exc}") from exc

    def authenticate(self, presented: str) -> Principal | None:
        digest = _sha256(presented)
        found: Principal | None = None
        for entry in self._entries:  # no early exit: every entry is compared
            if hmac.compare_digest(digest, entry.digest) and found is None:
                found = Principal(scope=entry.scope, name=entry.name)
        return found
