"""Cell text for accounting files: formula-looking text neutralised, amounts in plain digits."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from services.invoicing.amounts import plain, trim

__all__ = ["amount", "cell", "csv_bytes"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """A leading quote where a spreadsheet would evaluate the cell as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def amount(value: Decimal) -> str:
    """``5.25``, ``-0.30``: fixed point, at least two decimals, every digit kept."""
    return plain(trim(value, 2))


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 (no byte-order mark: the importers match the header text exactly), CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()
