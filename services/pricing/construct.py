"""Building already-validated models without pydantic's per-field machinery.

``model_construct`` walks every field in Python (defaults, aliases, the fields-set
bookkeeping) and measured ~4-8 µs per model: more than pricing the event. Pricing
builds two models per event from values that are validated already (the consumed
event's own fields) or computed exactly here (Decimals), so it sets them directly.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


@cache
def _shared_fields_set(model: type[BaseModel]) -> set[str] | None:
    """Every field name of a frozen model, one set for all the instances built here, or ``None``.

    Building that set per instance was 11 % of pricing's CPU (two models per event). A frozen
    model never adds to it (only assignment does; ``model_copy`` copies it first), so sharing is safe.
    """
    return set(model.model_fields) if model.model_config.get("frozen") else None


def construct(model: type[M], fields: dict[str, Any]) -> M:
    """``model.model_construct(**fields)`` for a ``fields`` that names every field (no defaults)."""
    instance = model.__new__(model)
    _set(instance, "__dict__", fields)
    shared = _shared_fields_set(model)
    _set(instance, "__pydantic_fields_set__", shared if shared is not None else set(fields))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance
