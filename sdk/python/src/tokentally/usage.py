"""What ``record(usage=...)`` accepts, turned into the JSON ingest maps onto its buckets.

A vendor SDK's usage object (``openai``'s ``CompletionUsage``/``ResponseUsage``,
``anthropic``'s ``Usage``, ``google-genai``'s ``GenerateContentResponseUsageMetadata``: all
pydantic models) is sent as its ``model_dump(mode="json")``, nulls included: ingest reads
those shapes as they are. A whole response is accepted too (its ``usage`` or
``usage_metadata`` is taken), and so is a plain dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["is_usage", "usage_dict"]


def usage_dict(usage: Any) -> dict[str, Any]:
    """The usage object as JSON-ready data; ``TypeError`` for anything else."""
    if isinstance(usage, Mapping):
        return dict(usage)
    for attribute in ("usage", "usage_metadata"):  # a whole response was given
        inner = getattr(usage, attribute, None)
        if inner is not None and not isinstance(inner, (str, bytes)):
            return usage_dict(inner)
    dump = getattr(usage, "model_dump", None)
    if callable(dump):
        data = dump(mode="json")
        if isinstance(data, dict):
            return data
    to_dict = getattr(usage, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict):
            return data
    raise TypeError(f"usage must be a vendor usage object, a response, or a dict; got {type(usage).__name__}")


def is_usage(usage: Any) -> bool:
    """A cheap check that ``usage_dict`` can read this (run on the caller's path)."""
    return type(usage) is dict or hasattr(usage, "model_dump") or isinstance(usage, Mapping) or any(
        hasattr(usage, name) for name in ("usage", "usage_metadata", "to_dict"))
