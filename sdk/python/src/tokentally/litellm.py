"""A LiteLLM callback (its ``CustomLogger`` interface) that records every successful call.

    import litellm
    from tokentally.litellm import TokenTallyLogger
    litellm.callbacks = [TokenTallyLogger(tally)]          # tally: a TokenTally (default: tokentally.init())

**Client.** ``client_from`` names where the client id is read, tried in order until one is set:
``"user"`` (the ``user=`` argument of ``completion()``), ``"end_user"`` (the proxy's end user),
``"metadata.<key>"`` (``completion(..., metadata={"<key>": ...})``), or a function of LiteLLM's
callback ``kwargs``. Default: ``("metadata.client_id", "user", "end_user")``. A call with no client
is not recorded: it is logged, and counted in ``skipped``.

**Tokens.** LiteLLM normalises every provider to OpenAI's shape, where ``prompt_tokens``
includes cache reads (``prompt_tokens_details.cached_tokens``) and cache writes
(``cache_creation_input_tokens`` / ``prompt_tokens_details.cache_write_tokens``) and
``completion_tokens`` include reasoning. The callback sends the disjoint buckets itself
(input = prompt − cache reads − cache writes − audio), so the event does not depend on which
provider's shape LiteLLM mixed in. When the cache counts exceed ``prompt_tokens`` (a provider
whose prompt count excludes them), the prompt count is taken as already excluding them.
Anthropic's 1-hour cache writes (``prompt_tokens_details.cache_creation_token_details
.ephemeral_1h_input_tokens``) and OpenAI-style audio tokens (``prompt_tokens_details.audio_tokens``,
``completion_tokens_details.audio_tokens``) go to their own buckets: they are priced apart. Audio
LiteLLM copies from Gemini's modality details stays in the text buckets (record Gemini's own
``usage_metadata`` through the SDK to have it split): there it counts cached audio too, and
LiteLLM's cache split is not reliably filled.

**Idempotency.** ``event_id`` is ``litellm:<litellm_call_id>``: LiteLLM calling both its sync and
async hooks for one call, or a retry of the callback, is counted once by ingest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from tokentally.client import TokenTally

__all__ = ["TokenTallyLogger", "usage_buckets"]

log = logging.getLogger("tokentally")

ClientSource = str | Callable[[Mapping[str, Any]], Any]

#: LiteLLM provider names → the names TokenTally's prices use (others pass through).
PROVIDERS = {"gemini": "google", "vertex_ai": "google", "vertex_ai_beta": "google", "xai": "x-ai"}
#: Providers whose audio counts stay in the text buckets (see the module notes on tokens).
_AUDIO_AS_TEXT = frozenset({"google"})


class TokenTallyLogger(CustomLogger):  # type: ignore[misc]
    def __init__(self, tally: TokenTally | None = None, *,
                 client_from: ClientSource | Sequence[ClientSource] = ("metadata.client_id", "user", "end_user"),
                 project_from: str | None = "metadata.project") -> None:
        super().__init__()
        if tally is None:
            from tokentally import default_tally

            tally = default_tally()
        self.tally = tally
        self.client_from: list[ClientSource] = (
            [client_from] if isinstance(client_from, str) or callable(client_from) else list(client_from))
        self.project_from = project_from
        self.skipped = 0

    def log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj)

    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        self._record(kwargs, response_obj)  # never awaits: record() only buffers

    def _record(self, kwargs: Mapping[str, Any], response: Any) -> None:
        try:
            client_id = self._client(kwargs)
            if not client_id:
                self.skipped += 1
                log.warning("tokentally: LiteLLM call %s has no client (looked at %s); not recorded",
                            kwargs.get("litellm_call_id"), ", ".join(map(str, self.client_from)))
                return
            usage = getattr(response, "usage", None)
            if usage is None:
                log.warning("tokentally: LiteLLM call %s returned no usage; not recorded", kwargs.get("litellm_call_id"))
                return
            logged = kwargs.get("standard_logging_object") or {}
            provider = str(kwargs.get("custom_llm_provider") or logged.get("custom_llm_provider") or "unknown")
            model = getattr(response, "model", None) or logged.get("model") or kwargs.get("model") or "unknown"
            call_id = kwargs.get("litellm_call_id") or getattr(response, "id", None)
            project = _lookup(kwargs, self.project_from) if self.project_from else None
            provider = PROVIDERS.get(provider, provider)
            self.tally.record(str(client_id), provider, str(model),
                              event_id=f"litellm:{call_id}" if call_id else None,
                              project=str(project) if project else None, **usage_buckets(usage, provider))
        except Exception:  # noqa: BLE001 - a billing callback must never break the caller's LLM call
            log.exception("tokentally: could not record a LiteLLM call")

    def _client(self, kwargs: Mapping[str, Any]) -> Any:
        for source in self.client_from:
            value = source(kwargs) if callable(source) else _lookup(kwargs, source)
            if value:
                return value
        return None


def _lookup(kwargs: Mapping[str, Any], source: str) -> Any:
    logged = kwargs.get("standard_logging_object") or {}
    params = kwargs.get("litellm_params") or {}
    if source == "user":
        return kwargs.get("user") or (kwargs.get("optional_params") or {}).get("user")
    if source == "end_user":
        metadata = logged.get("metadata") or {}
        return logged.get("end_user") or metadata.get("user_api_key_end_user_id")
    if source.startswith("metadata."):
        key = source.removeprefix("metadata.")
        for metadata in (params.get("metadata"), (logged.get("metadata") or {}).get("requester_metadata")):
            if isinstance(metadata, Mapping) and metadata.get(key):
                return metadata[key]
        return None
    raise ValueError(f"unknown client source {source!r}; use 'user', 'end_user' or 'metadata.<key>'")


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def usage_buckets(usage: Any, provider: str | None = None) -> dict[str, int]:
    """LiteLLM's (OpenAI-shaped) usage → TokenTally's disjoint buckets (``provider``: TokenTally's name)."""
    prompt = _get(usage, "prompt_tokens") or 0
    completion = _get(usage, "completion_tokens") or 0
    prompt_details = _get(usage, "prompt_tokens_details")
    completion_details = _get(usage, "completion_tokens_details")
    cache_read = _get(prompt_details, "cached_tokens") or _get(usage, "cache_read_input_tokens") or 0
    cache_write = (_get(usage, "cache_creation_input_tokens") or _get(prompt_details, "cache_write_tokens")
                   or _get(prompt_details, "cache_creation_tokens") or 0)
    one_hour = _get(_get(prompt_details, "cache_creation_token_details"), "ephemeral_1h_input_tokens") or 0
    one_hour = min(one_hour, cache_write)  # part of the cache writes
    reasoning = _get(completion_details, "reasoning_tokens") or 0
    split_audio = provider not in _AUDIO_AS_TEXT
    audio_in = (_get(prompt_details, "audio_tokens") or 0) if split_audio else 0
    audio_out = (_get(completion_details, "audio_tokens") or 0) if split_audio else 0
    cached = cache_read + cache_write
    text_in = prompt - cached if cached <= prompt else prompt
    text_out = completion - reasoning if reasoning <= completion else completion
    return {"input_tokens": text_in - audio_in if audio_in <= text_in else text_in,
            "cache_read_tokens": cache_read, "cache_write_tokens": cache_write - one_hour,
            "cache_write_1h_tokens": one_hour, "input_audio_tokens": audio_in,
            "output_tokens": text_out - audio_out if audio_out <= text_out else text_out,
            "reasoning_tokens": reasoning, "output_audio_tokens": audio_out}
