"""Input types whose OpenAPI schema says exactly what they accept.

Pydantic's lax mode reads more than a document says (``65.0`` but also ``"65"`` and ``true``
for an integer, ``"yes"`` for a boolean) and trims text before checking its length, so a
client that trusts the document is refused what it allows, or accepted what it forbids.
These types close both gaps (``tests/contract`` checks every service with schemathesis):

- ``whole_number(ge, le)``: a JSON integer (``65`` or ``65.0``, both integers in JSON Schema), never a
  string or a boolean;
- ``Flag``: ``true`` or ``false`` only;
- ``trimmed_text(min_length, max_length)``: text trimmed of surrounding spaces, whose
  documented pattern asks for ``min_length`` characters once trimmed;
- ``text_problems``: where a request holds text PostgreSQL cannot store (U+0000, lone
  surrogates), for ``libs.common.api.refuse_unstorable_text``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, StringConstraints, WithJsonSchema

__all__ = ["NO_NUL_PATTERN", "Flag", "text_problems", "trimmed_text", "whole_number"]

NO_NUL_PATTERN = "^[^\\u0000]*$"
"""JSON Schema (ECMA 262) pattern of text without U+0000, which PostgreSQL's text cannot hold."""


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError("must be a JSON integer, e.g. 30")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(*, ge: int, le: int) -> Any:
    """An integer from ``ge`` to ``le`` as JSON Schema means it: ``30`` or ``30.0``, not ``"30"`` or ``true``."""
    return Annotated[int, BeforeValidator(_whole_number), Field(ge=ge, le=le),
                     WithJsonSchema({"type": "integer", "minimum": ge, "maximum": le}, mode="validation")]

Flag = StrictBool
"""``true`` or ``false``, not ``"yes"`` or ``1``."""


def trimmed_text(*, min_length: int = 0, max_length: int) -> Any:
    """Text trimmed of surrounding whitespace, at least ``min_length`` characters once trimmed."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length == 1:
        schema["pattern"] = "\\S"
    elif min_length > 1:
        schema["pattern"] = f"\\S[\\s\\S]{{{min_length - 2},}}\\S"
    if min_length:
        schema["description"] = (f"Trimmed of surrounding spaces, then at least {min_length} "
                                 f"character{'s' if min_length > 1 else ''}.")
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     WithJsonSchema(schema, mode="validation")]


def text_problems(value: Any, path: str = "") -> Iterator[str]:
    """The dotted paths in a parsed JSON value (keys included) whose text PostgreSQL cannot store."""
    if isinstance(value, str):
        if not _storable(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not _storable(str(key)):
                yield (path or "body") if _storable(where) else "body"
            else:
                yield from text_problems(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from text_problems(item, f"{path}.{index}" if path else str(index))


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800")
        return False
    return True
