"""What a wrapped vendor client records with: the tally, the client id and the call's attribution."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentally.client import TokenTally

log = logging.getLogger("tokentally")

__all__ = ["Recorder"]


@dataclass
class Recorder:
    tally: TokenTally
    provider: str
    client_id: str
    project: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def record(self, model: Any, usage: Any, response_id: Any = None) -> None:
        """Record one call; never raises into the caller's code (a problem is logged)."""
        if usage is None:
            log.warning("tokentally: a %s call returned no usage; nothing recorded (for streams, "
                        "the usage chunk was not reached)", self.provider)
            return
        try:
            event_id = f"{self.provider}:{response_id}" if isinstance(response_id, str) and response_id else None
            self.tally.record(self.client_id, self.provider, str(model or "unknown"), usage=usage,
                              event_id=event_id, project=self.project, tags=self.tags or None)
        except Exception:  # noqa: BLE001 - usage recording must never break the caller's call
            log.exception("tokentally: could not record a %s call", self.provider)
