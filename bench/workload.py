"""Realistic usage events for the benchmark, and the totals they must add up to.

An agency's traffic, roughly: a few hundred clients with Zipf-like volumes, a mix of
OpenAI, Anthropic and Google models (most priced by the bundled catalog, two private
models by the agency's own price overrides), prompt and completion sizes with long
tails, cached prompts on about a third of the calls, cache writes on some Anthropic
calls, reasoning tokens on reasoning models, and ~1% of calls sent again (a client's
retry: same event id, same content), sometimes in the same batch, usually later.

Expected totals are kept per (client, month, price line) with integer token sums, and
cost is computed at the end as ``Σ tokens × price / 1,000,000`` per bucket, exactly,
with ``Decimal``: the same number the pipeline must reach by pricing each event and
summing, since every price here is linear (no tiers).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from libs.common.money import TOKENS_PER_MILLION

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    provider: str
    model: str
    weight: float
    override: tuple[str, str, str, str, str] | None = None
    """The agency's own price (input, output, cache read, cache write, reasoning per MTok), or
    ``None`` for a model priced by the bundled catalog."""
    reasoning: bool = False
    cache_writes: bool = False


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("openai", "gpt-4o", 18),
    ModelSpec("openai", "gpt-4o-mini", 24),
    ModelSpec("openai", "gpt-4.1-mini", 10),
    ModelSpec("openai", "o4-mini", 5, reasoning=True),
    ModelSpec("anthropic", "claude-3-5-sonnet", 14, cache_writes=True),
    ModelSpec("anthropic", "claude-3-5-haiku", 9, cache_writes=True),
    ModelSpec("google", "gemini-2.0-flash", 8),
    ModelSpec("google", "gemini-2.5-flash", 6, reasoning=True),
    ModelSpec("openai", "ft:gpt-4o-mini:agency:support-bot", 4,
              override=("0.30", "1.20", "0.15", "0.30", "1.20")),
    ModelSpec("anthropic", "claude-agency-private", 2, cache_writes=True,
              override=("4.00", "20.00", "0.40", "5.00", "20.00")),
)

PROJECTS = ("support-bot", "summaries", "search", "code-review", "voice-agent", None)
FEATURES = ("chat", "rag", "classify", "extract", "agent-step")


@dataclass(frozen=True, slots=True)
class LinePrice:
    """Per-million-token prices of one price line, bucket by bucket (``TOKEN_FIELDS`` order)."""

    per_mtok: tuple[Decimal, Decimal, Decimal, Decimal, Decimal]


def catalog_price(provider: str, model: str) -> LinePrice:
    """The list price genai-prices' bundled data gives, mapped as the README documents
    (cache read/write default to the input price, reasoning to the output price).

    Read straight from genai-prices, not through our pricing code, so the check is
    independent of it. Only flat, unconditional prices: the benchmark's prices must be
    linear for per-line recomputation to be exact, so anything else fails loudly here.
    """
    from genai_prices.data import providers
    from genai_prices.data_snapshot import find_provider_by_id
    from genai_prices.types import TieredPrices

    found = find_provider_by_id(providers, provider)
    info = found.find_model(model, all_providers=providers) if found else None
    if info is None or isinstance(info.prices, list):
        raise ValueError(f"{provider}/{model}: not a flat, unconditional catalog price; pick another model")
    raw = {key: getattr(info.prices, key, None)
           for key in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok")}
    if any(isinstance(value, TieredPrices) for value in raw.values()) or raw["input_mtok"] is None:
        raise ValueError(f"{provider}/{model}: tiered or missing catalog price; pick another model")
    as_decimal = {key: None if value is None else Decimal(str(value)) for key, value in raw.items()}
    input_price = as_decimal["input_mtok"]
    assert input_price is not None
    output_price = as_decimal["output_mtok"] or Decimal(0)
    return LinePrice((
        input_price,
        output_price,
        as_decimal["cache_read_mtok"] if as_decimal["cache_read_mtok"] is not None else input_price,
        as_decimal["cache_write_mtok"] if as_decimal["cache_write_mtok"] is not None else input_price,
        as_decimal["output_reasoning_mtok"] if as_decimal["output_reasoning_mtok"] is not None else output_price,
    ))


def model_prices(models: tuple[ModelSpec, ...] = MODELS) -> dict[tuple[str, str], LinePrice]:
    """Every benchmark model's price, from its override or the catalog."""
    return {
        (spec.provider, spec.model): (
            LinePrice(tuple(Decimal(p) for p in spec.override))  # type: ignore[arg-type]
            if spec.override else catalog_price(spec.provider, spec.model)
        )
        for spec in models
    }


def override_bodies(models: tuple[ModelSpec, ...] = MODELS) -> list[dict[str, str]]:
    """``POST /v1/prices`` bodies for the models the agency prices itself."""
    keys = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "reasoning_per_mtok")
    return [
        {"provider": spec.provider, "model": spec.model, "effective_from": "2020-01-01T00:00:00Z",
         **dict(zip(keys, spec.override, strict=True)), "note": "benchmark: the agency's negotiated price"}
        for spec in models if spec.override
    ]


# --------------------------------------------------------------------------- expected totals


@dataclass
class Expected:
    """What the pipeline must end up with: unique events per (client, month, provider, model)."""

    lines: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    """(client, YYYY-MM, provider, model) → [events, five token sums]."""
    seen: set[str] = field(default_factory=set)
    sent: int = 0
    duplicates: int = 0

    def add(self, event: dict[str, Any]) -> None:
        """Count one sent event; a repeated event id is a duplicate and adds nothing."""
        self.sent += 1
        key = event["client_id"] + "\x00" + event["event_id"]
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        line_key = (event["client_id"], event["timestamp"][:7], event["provider"], event["model"])
        line = self.lines.get(line_key)
        if line is None:
            line = self.lines[line_key] = [0, 0, 0, 0, 0, 0]
        line[0] += 1
        line[1] += event.get("input_tokens", 0)
        line[2] += event.get("output_tokens", 0)
        line[3] += event.get("cache_read_tokens", 0)
        line[4] += event.get("cache_write_tokens", 0)
        line[5] += event.get("reasoning_tokens", 0)

    @property
    def unique(self) -> int:
        return self.sent - self.duplicates

    def cost(self, prices: dict[tuple[str, str], LinePrice]) -> dict[tuple[str, str, str, str], Decimal]:
        """Exact cost per line: Σ over buckets of (token sum × price / 1,000,000)."""
        return {
            key: sum(
                (Decimal(tokens) * price / TOKENS_PER_MILLION
                 for tokens, price in zip(line[1:], prices[(key[2], key[3])].per_mtok, strict=True)),
                Decimal(0),
            )
            for key, line in self.lines.items()
        }


# --------------------------------------------------------------------------- generation


class Workload:
    """A deterministic stream of events (seeded), shared by every phase of one run."""

    def __init__(self, clients: int, seed: int = 2026, run_id: str = "bench", now: datetime | None = None) -> None:
        self._rng = random.Random(seed)
        self.now = now or datetime.now(UTC)
        self.month_start = self.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        self.clients = [f"{run_id}-c{i:04d}" for i in range(clients)]
        self._client_weights = _cumulative([1 / (rank + 1) ** 1.1 for rank in range(clients)])
        self._model_weights = _cumulative([spec.weight for spec in MODELS])
        self._recent: list[dict[str, Any]] = []
        self.expected = Expected()

    def events(self, count: int, duplicate_share: float = 0.01) -> list[dict[str, Any]]:
        """``count`` events as the ingest API takes them; about ``duplicate_share`` are resends."""
        out: list[dict[str, Any]] = []
        rng = self._rng
        for _ in range(count):
            if self._recent and rng.random() < duplicate_share:
                event = rng.choice(self._recent)  # a retry: same id, same content
            else:
                event = self._new_event()
                if len(self._recent) < 5_000:
                    self._recent.append(event)
                else:
                    self._recent[rng.randrange(5_000)] = event
            self.expected.add(event)
            out.append(event)
        return out

    def probe_event(self, client_id: str) -> dict[str, Any]:
        """A fresh event of ``client_id`` happening now (the freshness probes' events)."""
        event = self._new_event()
        event["client_id"] = client_id
        event["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.expected.add(event)
        return event

    def _new_event(self) -> dict[str, Any]:
        rng = self._rng
        spec = MODELS[_pick(self._model_weights, rng.random())]
        prompt = min(int(rng.lognormvariate(7.1, 1.3)) + 1, 180_000)
        event: dict[str, Any] = {
            "event_id": f"{rng.getrandbits(128):032x}",
            "client_id": self.clients[_pick(self._client_weights, rng.random())],
            "provider": spec.provider,
            "model": spec.model,
            "timestamp": self._timestamp(rng),
            "output_tokens": min(int(rng.lognormvariate(5.5, 1.0)), 32_000),
        }
        if rng.random() < 0.35:  # a cached prompt: most of it read from the cache
            cached = int(prompt * rng.uniform(0.3, 0.95))
            event["cache_read_tokens"] = cached
            prompt -= cached
        if spec.cache_writes and rng.random() < 0.15:
            written = int(prompt * rng.uniform(0.5, 0.9))
            event["cache_write_tokens"] = written
            prompt -= written
        event["input_tokens"] = prompt
        if spec.reasoning:
            event["reasoning_tokens"] = min(int(rng.lognormvariate(6.0, 1.1)), 64_000)
        project = PROJECTS[rng.randrange(len(PROJECTS))]
        if project is not None:
            event["project"] = project
        if rng.random() < 0.5:
            event["tags"] = {"feature": FEATURES[rng.randrange(len(FEATURES))],
                             "env": "prod" if rng.random() < 0.9 else "staging"}
        return event

    def _timestamp(self, rng: random.Random) -> str:
        """Within the last six hours, and in the current month."""
        at = max(self.now - timedelta(seconds=rng.uniform(0, 6 * 3600)), self.month_start)
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cumulative(weights: list[float]) -> list[float]:
    total = sum(weights)
    running, out = 0.0, []
    for weight in weights:
        running += weight / total
        out.append(running)
    out[-1] = 1.0
    return out


def _pick(cumulative: list[float], x: float) -> int:
    from bisect import bisect_left

    return min(bisect_left(cumulative, x), len(cumulative) - 1)


def batches(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]
