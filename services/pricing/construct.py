"""Building already-validated models without pydantic's per-field machinery.

``model_construct`` walks every field in Python (defaults, aliases, the fields-set
bookkeeping) and measured ~4-8 µs per model: more than pricing the event. Pricing
builds two models per event from values that are validated already (the consumed
event's own fields) or computed exactly here (Decimals), so it sets them directly.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def construct(model: type[M], fields: dict[str, Any]) -> M:
    """``model.model_construct(**fields)`` for a ``fields`` that names every field (no defaults)."""
    instance = model.__new__(model)
    _set(instance, "__dict__", fields)
    _set(instance, "__pydantic_fields_set__", set(fields))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance
