"""Models built without validation on pricing's hot path behave as validated ones."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from libs.common.events import CostBreakdown
from services.pricing.construct import construct

AMOUNTS = {name: Decimal("0.5") for name in CostBreakdown.model_fields}


def test_a_constructed_frozen_model_equals_the_validated_one_and_dumps_alike() -> None:
    built = construct(CostBreakdown, dict(AMOUNTS))
    validated = CostBreakdown(**AMOUNTS)
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == set(CostBreakdown.model_fields)
    assert built.model_dump_json(exclude_unset=True) == validated.model_dump_json(exclude_unset=True)


def test_a_copy_with_changes_does_not_touch_the_set_its_siblings_share() -> None:
    first, second = construct(CostBreakdown, dict(AMOUNTS)), construct(CostBreakdown, dict(AMOUNTS))
    changed = first.model_copy(update={"extra_note": "x"})
    assert "extra_note" in changed.model_fields_set
    assert "extra_note" not in second.model_fields_set and "extra_note" not in first.model_fields_set


class Mutable(BaseModel):
    model_config = ConfigDict(frozen=False)
    a: int
    b: int


def test_a_mutable_model_gets_a_set_of_its_own() -> None:
    one, two = construct(Mutable, {"a": 1, "b": 2}), construct(Mutable, {"a": 3, "b": 4})
    one.a = 5
    assert one.model_fields_set is not two.model_fields_set
