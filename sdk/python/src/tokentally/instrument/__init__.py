"""``instrument(client, client_id=...)``: record every call of a vendor SDK client.

Works on ``openai.OpenAI``/``AsyncOpenAI`` (and Azure), ``anthropic.Anthropic``/``AsyncAnthropic``
and ``google.genai.Client`` (sync and ``client.aio``), streaming included. The client is
changed in place and returned. Recording never raises into the caller's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tokentally.instrument._recorder import Recorder

if TYPE_CHECKING:
    from tokentally.client import TokenTally

__all__ = ["instrument"]


def instrument(client: Any, *, client_id: str, project: str | None = None, tags: Mapping[str, str] | None = None,
               tally: TokenTally | None = None) -> Any:
    """Wrap ``client`` so each call is recorded for ``client_id`` (with the default ``TokenTally``
    from ``tokentally.init()`` or ``TOKENTALLY_URL``/``TOKENTALLY_API_KEY`` unless ``tally`` is given)."""
    from tokentally import default_tally

    tally = tally or default_tally()
    module = type(client).__module__
    if module.startswith("openai"):
        from tokentally.instrument.openai import instrument_openai

        return instrument_openai(client, Recorder(tally, "openai", client_id, project, dict(tags or {})))
    if module.startswith("anthropic"):
        from tokentally.instrument.anthropic import instrument_anthropic

        return instrument_anthropic(client, Recorder(tally, "anthropic", client_id, project, dict(tags or {})))
    if module.startswith("google.genai"):
        from tokentally.instrument.google import instrument_google

        return instrument_google(client, Recorder(tally, "google", client_id, project, dict(tags or {})))
    raise TypeError(f"cannot instrument {type(client).__qualname__} from {module}; "
                    "expected an OpenAI, Anthropic or google-genai client")
