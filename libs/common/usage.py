"""Map a provider's own usage object onto the disjoint ``TokenUsage`` buckets.

Providers count overlapping things: OpenAI's ``prompt_tokens`` include cached tokens and
``completion_tokens`` include reasoning tokens, Gemini's ``promptTokenCount`` includes
cached content, Anthropic's ``input_tokens`` exclude cache reads and writes. Billing each
token exactly once needs these subtractions done in one place, so clients can send the
usage object exactly as the API returned it.

Shapes understood (detected from the keys):

- OpenAI Chat Completions: ``prompt_tokens``, ``completion_tokens``,
  ``prompt_tokens_details.cached_tokens``, ``.cache_write_tokens`` and ``.audio_tokens`` (all
  part of the prompt count), ``completion_tokens_details.reasoning_tokens`` and ``.audio_tokens``
  (part of the completion count);
- OpenAI Responses: ``input_tokens``, ``output_tokens``, ``input_tokens_details.cached_tokens``
  and ``.cache_write_tokens``, ``output_tokens_details.reasoning_tokens``;
- OpenAI Realtime (``response.done``): ``input_tokens``, ``output_tokens``,
  ``input_token_details`` (``audio_tokens``, ``image_tokens``, ``cached_tokens`` with its split
  ``cached_tokens_details``, all part of ``input_tokens``), ``output_token_details.audio_tokens``;
- Anthropic Messages: ``input_tokens``, ``output_tokens``, ``cache_read_input_tokens``,
  ``cache_creation_input_tokens`` and its split ``cache_creation.ephemeral_5m_input_tokens`` /
  ``.ephemeral_1h_input_tokens`` (1-hour writes go to their own bucket: they cost more);
- Google Gemini ``usageMetadata``: ``promptTokenCount``, ``candidatesTokenCount``,
  ``cachedContentTokenCount``, ``thoughtsTokenCount``, ``toolUsePromptTokenCount``, and the
  per-modality ``promptTokensDetails``, ``cacheTokensDetails``, ``candidatesTokensDetails``
  (or the Python SDK's snake_case spelling of the same).

Totals (``total_tokens``, ``totalTokenCount``) are ignored: they are derived, never billed.
Payloads dumped from the vendors' SDK types (``model_dump()``) are read as they are: their
``null`` counts are zeros, their extra keys are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError
from pydantic.alias_generators import to_camel

from libs.common.errors import InvalidInput
from libs.common.events import TokenUsage

__all__ = ["Buckets", "Count", "UsageIssue", "UsageMappingError", "normalize_usage", "usage_buckets"]

_MAX_TOKENS = 10**12

#: ``TokenUsage`` field names → counts.
Buckets = dict[str, int]
_ZERO: Buckets = dict.fromkeys(TokenUsage.model_fields, 0)


@dataclass(frozen=True, slots=True)
class UsageIssue:
    """One problem with a usage object: the dotted path of the field and a full sentence."""

    field: str
    message: str


class UsageMappingError(InvalidInput, ValueError):
    """A usage object that cannot be mapped onto ``TokenUsage`` without guessing.

    An ``InvalidInput`` so an API that lets it escape answers 422 with the field list.
    """

    def __init__(self, issues: list[UsageIssue]) -> None:
        self.issues = issues
        super().__init__(
            "; ".join(issue.message for issue in issues),
            detail=[{"field": issue.field, "message": issue.message} for issue in issues],
        )

    @classmethod
    def single(cls, field: str, message: str) -> UsageMappingError:
        return cls([UsageIssue(field, message)])


# Strict: a bool, float or numeric string in a usage object is a client bug, not a count.
Count = Annotated[int, Strict(), Field(ge=0, le=_MAX_TOKENS)]
# Providers send ``null`` (or omit the key) for buckets they did not use; read these with
# ``or 0``. (A ``None``→0 validator would be a Python call per field, doubling the cost.)
OptionalCount = Count | None


class _Shape(BaseModel):
    """Base for provider shapes: unknown keys ignored (providers add keys), counts strict."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _PromptDetails(_Shape):
    cached_tokens: OptionalCount = 0
    cache_write_tokens: OptionalCount = 0
    """Prompt tokens written to the cache (current ``openai`` SDK); part of the prompt count."""
    audio_tokens: OptionalCount = 0
    """Prompt audio tokens (audio models); part of the prompt count."""


class _CompletionDetails(_Shape):
    reasoning_tokens: OptionalCount = 0
    audio_tokens: OptionalCount = 0
    """Generated audio tokens (audio models); part of the completion count."""


class _AnthropicCacheCreation(_Shape):
    ephemeral_5m_input_tokens: OptionalCount = 0
    ephemeral_1h_input_tokens: OptionalCount = 0


class OpenAIChatUsage(_Shape):
    """``usage`` of a Chat Completions (or embeddings, hence the optional completion) response."""

    prompt_tokens: Count
    completion_tokens: OptionalCount = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None


class OpenAIResponsesUsage(_Shape):
    """``usage`` of a Responses API response."""

    input_tokens: Count
    output_tokens: Count
    input_tokens_details: _PromptDetails | None = None
    output_tokens_details: _CompletionDetails | None = None


class _RealtimeCached(_Shape):
    text_tokens: OptionalCount = 0
    audio_tokens: OptionalCount = 0
    image_tokens: OptionalCount = 0


class _RealtimeInput(_Shape):
    audio_tokens: OptionalCount = 0
    image_tokens: OptionalCount = 0
    cached_tokens: OptionalCount = 0
    cached_tokens_details: _RealtimeCached | None = None


class _RealtimeOutput(_Shape):
    audio_tokens: OptionalCount = 0


class OpenAIRealtimeUsage(_Shape):
    """``usage`` of a Realtime ``response.done``: counts by modality, cached ones a subset of input."""

    input_tokens: OptionalCount = 0
    output_tokens: OptionalCount = 0
    input_token_details: _RealtimeInput | None = None
    output_token_details: _RealtimeOutput | None = None


class AnthropicUsage(_Shape):
    """``usage`` of a Messages API response; its four counts are already disjoint."""

    input_tokens: Count
    output_tokens: Count
    cache_read_input_tokens: OptionalCount = 0
    cache_creation_input_tokens: OptionalCount = None
    """Every cache write, 5-minute and 1-hour (``cache_creation`` splits it)."""
    cache_creation: _AnthropicCacheCreation | None = None


class _ModalityCount(_Shape):
    """One ``{modality, tokenCount}`` of Gemini's per-modality details."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    modality: str = ""
    token_count: OptionalCount = 0


class GeminiUsage(_Shape):
    """``usageMetadata`` of generateContent; every count is optional (zeros are omitted)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    prompt_token_count: OptionalCount = 0
    candidates_token_count: OptionalCount = 0
    cached_content_token_count: OptionalCount = 0
    thoughts_token_count: OptionalCount = 0
    tool_use_prompt_token_count: OptionalCount = 0
    prompt_tokens_details: list[_ModalityCount] | None = None
    cache_tokens_details: list[_ModalityCount] | None = None
    candidates_tokens_details: list[_ModalityCount] | None = None


# Keys that identify a shape. Totals are left out on purpose: an object holding only a
# total says nothing about which buckets the tokens belong in.
_CHAT_KEYS = frozenset({"prompt_tokens", "completion_tokens"})
_IO_KEYS = frozenset({"input_tokens", "output_tokens"})
_RESPONSES_KEYS = frozenset({"input_tokens_details", "output_tokens_details"})
_ANTHROPIC_KEYS = frozenset({"cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation"})
_ANY_IO_KEYS = _IO_KEYS | _RESPONSES_KEYS | _ANTHROPIC_KEYS
_REALTIME_KEYS = frozenset({"input_token_details", "output_token_details"})
# The counts only: ``prompt_tokens_details`` is OpenAI Chat's key too.
_GEMINI_FIELDS = tuple(name for name in GeminiUsage.model_fields if name.endswith("_count"))
_GEMINI_SNAKE_KEYS = frozenset(_GEMINI_FIELDS)
_GEMINI_CAMEL_KEYS = frozenset(to_camel(name) for name in _GEMINI_FIELDS)

#: genai-prices' match for Google: any provider name containing one of these.
_GOOGLE = re.compile("google|gemini|vertex")

_UNRECOGNISED = "usage: unrecognised usage object; expected OpenAI, Anthropic or Gemini fields"


def normalize_usage(usage: Mapping[str, Any], provider: str | None = None) -> TokenUsage:
    """Map a provider usage object onto ``TokenUsage``, or raise ``UsageMappingError``.

    ``provider`` only breaks the tie between the OpenAI Responses and Anthropic shapes,
    which share ``input_tokens``/``output_tokens``.
    """
    return TokenUsage(**usage_buckets(usage, provider))


def usage_buckets(usage: Mapping[str, Any], provider: str | None = None) -> Buckets:
    """``normalize_usage`` as a plain dict of the ``TokenUsage`` field names.

    For hot paths (ingest validates tens of thousands of events a second) that copy the
    counts into another model anyway: skips building a ``TokenUsage`` (~1 µs).
    """
    if not isinstance(usage, Mapping):
        raise UsageMappingError.single("usage", "usage: expected an object")
    provider = (provider or "").strip().lower()
    mapper = _mapper_for(usage, provider)
    if mapper is _from_openai_chat and provider != "openai" and _GOOGLE.search(provider):
        return _from_openai_chat(usage, audio_apart=False)
    return mapper(usage)


def _mapper_for(usage: Mapping[str, Any], provider: str) -> Callable[[Mapping[str, Any]], Buckets]:
    """Pick the shape from the keys; refuse objects mixing two shapes rather than guess."""
    keys = usage.keys()
    found: list[tuple[str, Callable[[Mapping[str, Any]], Buckets]]] = []
    if not _CHAT_KEYS.isdisjoint(keys):
        found.append(("OpenAI Chat Completions", _from_openai_chat))
    realtime = not _REALTIME_KEYS.isdisjoint(keys)
    if realtime:
        found.append(("OpenAI Realtime", _from_openai_realtime))
    # Realtime shares input_tokens/output_tokens: another IO shape only when its own keys are there too
    if not (_ANY_IO_KEYS - _IO_KEYS if realtime else _ANY_IO_KEYS).isdisjoint(keys):
        found.append(_io_shape(keys, provider))
    if not _GEMINI_CAMEL_KEYS.isdisjoint(keys):
        found.append(("Gemini (camelCase)", _from_gemini))
    if not _GEMINI_SNAKE_KEYS.isdisjoint(keys):
        found.append(("Gemini (snake_case)", _from_gemini))
    if not found:
        raise UsageMappingError.single("usage", _unrecognised_message(keys))
    if len(found) > 1:
        names = " and ".join(name for name, _ in found)
        raise UsageMappingError.single("usage", f"usage: ambiguous usage object; it mixes {names} fields")
    return found[0][1]


def _io_shape(keys: Any, provider: str) -> tuple[str, Callable[[Mapping[str, Any]], Buckets]]:
    """Tell OpenAI Responses from Anthropic, which both use ``input_tokens``/``output_tokens``.

    With neither shape's own keys present both mappings give the same buckets, so the
    fallback choice cannot change a bill.
    """
    responses = not _RESPONSES_KEYS.isdisjoint(keys)
    anthropic = not _ANTHROPIC_KEYS.isdisjoint(keys)
    if responses and anthropic:
        if provider == "anthropic":
            return ("Anthropic", _from_anthropic)
        if provider == "openai":
            return ("OpenAI Responses", _from_openai_responses)
        raise UsageMappingError.single(
            "usage",
            "usage: ambiguous usage object; it has both OpenAI Responses (*_tokens_details) "
            "and Anthropic (cache_*_input_tokens) fields",
        )
    if anthropic or (not responses and provider == "anthropic"):
        return ("Anthropic", _from_anthropic)
    return ("OpenAI Responses", _from_openai_responses)


def _unrecognised_message(keys: Any) -> str:
    shown = sorted(str(key)[:40] for key in keys)[:8]
    return f"{_UNRECOGNISED} (got keys: {', '.join(shown)})" if shown else f"{_UNRECOGNISED} (got an empty object)"


def _validate(shape: type[_Shape], usage: Mapping[str, Any]) -> Any:
    """Validate one shape, reporting each problem at its ``usage.…`` path."""
    try:
        return shape.model_validate(usage)
    except ValidationError as exc:
        raise UsageMappingError([_issue_from(error) for error in exc.errors(include_url=False)]) from None


def _issue_from(error: Any) -> UsageIssue:
    field = ".".join(["usage", *(str(part) for part in error["loc"])])
    message = "field required" if error["type"] == "missing" else error["msg"]
    return UsageIssue(field, f"{field}: {message}")


def _part(whole_field: str, whole: int, part_field: str, part: int) -> int:
    """``whole - part`` for a count that includes a sub-count; refuse a part bigger than its whole."""
    if part > whole:
        raise UsageMappingError.single(
            f"usage.{part_field}", f"usage.{part_field} ({part}) exceeds usage.{whole_field} ({whole})"
        )
    return whole - part


def _rest(whole_field: str, whole: int, details: str, **parts: int) -> int:
    """``whole`` minus its reported parts (an OpenAI count and its ``*_details``); refuse parts that exceed it."""
    used = {name: count for name, count in parts.items() if count}
    if not used:
        return whole
    if len(used) == 1:
        ((name, count),) = used.items()
        return _part(whole_field, whole, f"{details}.{name}", count)
    total = sum(used.values())
    if total > whole:
        raise UsageMappingError.single(
            f"usage.{details}",
            f"usage.{details}.{' + '.join(used)} ({' + '.join(str(c) for c in used.values())}) exceeds "
            f"usage.{whole_field} ({whole})",
        )
    return whole - total


def _from_openai_chat(usage: Mapping[str, Any], *, audio_apart: bool = True) -> Buckets:
    """prompt_tokens include cached tokens; completion_tokens include reasoning tokens.

    Audio is taken as disjoint from the cache: Chat Completions' prompt caching covers
    messages, images and tools (OpenAI's prompt-caching guide), not audio. A prompt whose
    parts add up to more than itself is refused rather than split by guess. Gemini's
    OpenAI-compatible usage (``audio_apart=False``) keeps its audio in the text buckets: there
    the audio count includes cached audio, with no split of the cache to tell them apart.
    """
    u: OpenAIChatUsage = _validate(OpenAIChatUsage, usage)
    prompt = u.prompt_tokens_details
    completion = u.completion_tokens_details
    cached = (prompt and prompt.cached_tokens) or 0
    written = (prompt and prompt.cache_write_tokens) or 0
    audio_in = ((prompt and prompt.audio_tokens) or 0) if audio_apart else 0
    reasoning = (completion and completion.reasoning_tokens) or 0
    audio_out = ((completion and completion.audio_tokens) or 0) if audio_apart else 0
    return _tokens(
        input_tokens=_rest("prompt_tokens", u.prompt_tokens, "prompt_tokens_details",
                           cached_tokens=cached, cache_write_tokens=written, audio_tokens=audio_in),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        input_audio_tokens=audio_in,
        output_tokens=_rest("completion_tokens", u.completion_tokens or 0, "completion_tokens_details",
                            reasoning_tokens=reasoning, audio_tokens=audio_out),
        reasoning_tokens=reasoning,
        output_audio_tokens=audio_out,
    )


def _from_openai_responses(usage: Mapping[str, Any]) -> Buckets:
    """input_tokens include cached tokens; output_tokens include reasoning tokens."""
    u: OpenAIResponsesUsage = _validate(OpenAIResponsesUsage, usage)
    cached = (u.input_tokens_details and u.input_tokens_details.cached_tokens) or 0
    written = (u.input_tokens_details and u.input_tokens_details.cache_write_tokens) or 0
    reasoning = (u.output_tokens_details and u.output_tokens_details.reasoning_tokens) or 0
    return _tokens(
        input_tokens=_rest("input_tokens", u.input_tokens, "input_tokens_details",
                           cached_tokens=cached, cache_write_tokens=written),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_tokens=_part("output_tokens", u.output_tokens, "output_tokens_details.reasoning_tokens", reasoning),
        reasoning_tokens=reasoning,
    )


def _from_openai_realtime(usage: Mapping[str, Any]) -> Buckets:
    """Input counts every modality, cached or not; the cache's split says which cached tokens are audio
    and images. Without that split, cached tokens next to audio or images cannot be priced exactly."""
    u: OpenAIRealtimeUsage = _validate(OpenAIRealtimeUsage, usage)
    details = u.input_token_details
    audio = (details and details.audio_tokens) or 0
    image = (details and details.image_tokens) or 0
    cached = (details and details.cached_tokens) or 0
    split = details and details.cached_tokens_details
    if split is not None:
        cached_audio, cached_image = split.audio_tokens or 0, split.image_tokens or 0
    elif cached and (audio or image):
        raise UsageMappingError.single(
            "usage.input_token_details.cached_tokens_details",
            "usage.input_token_details.cached_tokens_details: needed to tell cached audio and images from "
            "cached text (cached_tokens comes with audio_tokens or image_tokens)",
        )
    else:
        cached_audio = cached_image = 0
    cached_text = _rest("input_token_details.cached_tokens", cached, "input_token_details.cached_tokens_details",
                        audio_tokens=cached_audio, image_tokens=cached_image)
    whole = u.input_tokens or 0
    if audio + image + cached_text > whole:
        raise UsageMappingError.single(
            "usage.input_token_details",
            f"usage.input_token_details: audio_tokens + image_tokens + cached text ({audio} + {image} + "
            f"{cached_text}) exceeds usage.input_tokens ({whole})",
        )
    out_audio = (u.output_token_details and u.output_token_details.audio_tokens) or 0
    return _tokens(
        input_tokens=whole - audio - image - cached_text,
        cache_read_tokens=cached_text,
        input_audio_tokens=_part("input_token_details.audio_tokens", audio,
                                 "input_token_details.cached_tokens_details.audio_tokens", cached_audio),
        cache_audio_read_tokens=cached_audio,
        input_image_tokens=_part("input_token_details.image_tokens", image,
                                 "input_token_details.cached_tokens_details.image_tokens", cached_image),
        cache_image_read_tokens=cached_image,
        output_tokens=_part("output_tokens", u.output_tokens or 0, "output_token_details.audio_tokens", out_audio),
        output_audio_tokens=out_audio,
    )


def _from_anthropic(usage: Mapping[str, Any]) -> Buckets:
    """Anthropic's counts are already disjoint: input_tokens exclude cache reads and writes.

    ``cache_creation_input_tokens`` counts every write; ``cache_creation`` splits it by cache
    lifetime. The 1-hour part has its own bucket and the rest (5-minute) stays a cache write.
    Without ``cache_creation_input_tokens`` the split's sum is the total.
    """
    u: AnthropicUsage = _validate(AnthropicUsage, usage)
    split = u.cache_creation
    one_hour = (split and split.ephemeral_1h_input_tokens) or 0
    if u.cache_creation_input_tokens is None:
        written = ((split and split.ephemeral_5m_input_tokens) or 0) + one_hour
    else:
        written = u.cache_creation_input_tokens
    return _tokens(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_input_tokens or 0,
        cache_write_tokens=_part("cache_creation_input_tokens", written,
                                 "cache_creation.ephemeral_1h_input_tokens", one_hour),
        cache_write_1h_tokens=one_hour,
    )


def _from_gemini(usage: Mapping[str, Any]) -> Buckets:
    """promptTokenCount includes cached content; candidates exclude thoughts; tool-use prompt is extra input.

    The per-modality details split each count (the prompt's include what the cache served, whose
    own details say which): audio and images (``DOCUMENT`` counts as image, as genai-prices reads
    it) go to their buckets; text, video and anything else stay text. Gemini rows price a modality
    they do not list as text (``services.pricing.catalog``), so the split never leaves one unpriced.
    """
    u: GeminiUsage = _validate(GeminiUsage, usage)
    cached_tokens = u.cached_content_token_count or 0
    camel = not _GEMINI_CAMEL_KEYS.isdisjoint(usage.keys())

    def name(field: str) -> str:  # fields named in errors as the client spelled them
        return to_camel(field) if camel else field

    prompt_audio, prompt_image = _modalities(u.prompt_tokens_details)
    cached_audio, cached_image = _modalities(u.cache_tokens_details)
    out_audio, out_image = _modalities(u.candidates_tokens_details)
    prompt = u.prompt_token_count or 0
    cached_text = _rest(name("cached_content_token_count"), cached_tokens, name("cache_tokens_details"),
                        AUDIO=cached_audio, IMAGE=cached_image)
    input_audio = _part(f"{name('prompt_tokens_details')}.AUDIO", prompt_audio,
                        f"{name('cache_tokens_details')}.AUDIO", cached_audio)
    input_image = _part(f"{name('prompt_tokens_details')}.IMAGE", prompt_image,
                        f"{name('cache_tokens_details')}.IMAGE", cached_image)
    if input_audio or input_image:
        if input_audio + input_image + cached_tokens > prompt:
            raise UsageMappingError.single(
                f"usage.{name('prompt_tokens_details')}",
                f"usage.{name('prompt_tokens_details')}: uncached AUDIO + IMAGE + {name('cached_content_token_count')} "
                f"({input_audio} + {input_image} + {cached_tokens}) exceeds "
                f"usage.{name('prompt_token_count')} ({prompt})",
            )
        text_in = prompt - cached_tokens - input_audio - input_image
    else:
        text_in = _part(name("prompt_token_count"), prompt, name("cached_content_token_count"), cached_tokens)
    return _tokens(
        input_tokens=text_in + (u.tool_use_prompt_token_count or 0),
        cache_read_tokens=cached_text,
        input_audio_tokens=input_audio,
        cache_audio_read_tokens=cached_audio,
        input_image_tokens=input_image,
        cache_image_read_tokens=cached_image,
        output_tokens=_rest(name("candidates_token_count"), u.candidates_token_count or 0,
                            name("candidates_tokens_details"), AUDIO=out_audio, IMAGE=out_image),
        output_audio_tokens=out_audio,
        output_image_tokens=out_image,
        reasoning_tokens=u.thoughts_token_count or 0,
    )


def _modalities(details: list[_ModalityCount] | None) -> tuple[int, int]:
    """(audio, image) tokens of Gemini's per-modality details; ``DOCUMENT`` is image, as genai-prices reads it."""
    audio = image = 0
    for item in details or ():
        kind = str(item.modality).upper()
        if kind.endswith("AUDIO"):
            audio += item.token_count or 0
        elif kind.endswith(("IMAGE", "DOCUMENT")):
            image += item.token_count or 0
    return audio, image


def _tokens(**buckets: int) -> Buckets:
    """Every bucket (absent ones 0); only sums (Gemini's input, Anthropic's split) can pass the bound here."""
    for name, count in buckets.items():
        if count > _MAX_TOKENS:
            raise UsageMappingError.single("usage", f"usage: {name} would be {count}, over the {_MAX_TOKENS:,} limit")
    return {**_ZERO, **buckets}
