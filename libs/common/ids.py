"""Identifiers shared by every service: one rule for a client id, written once.

A client id is what events are keyed by in Kafka, the ``client:<id>`` key scope names,
and every API takes in its paths: 1–64 characters, letters, digits and ``._:-``, not
starting with punctuation (so it is safe in a URL path, a Kafka key and a log line).
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import StringConstraints

CLIENT_ID_RULE: Final = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"
"""The rule without anchors, for patterns that embed it (the key scopes)."""
CLIENT_ID_PATTERN: Final = rf"^{CLIENT_ID_RULE}$"

ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
"""A client id in a model (events, API bodies)."""

IDENTIFIER_PATTERN: Final = CLIENT_ID_PATTERN
"""Other short ids that travel in paths follow the same rule (price override ids)."""
