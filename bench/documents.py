"""Invoice documents and accounting exports: render time, export time, renderer memory.

``uv run --frozen python -m bench.documents`` (about 30 s). Prints one table; the figures
are in BENCHMARKS.md. No servers: it times the renderer and the formatters on their own.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

import psutil

from services.invoicing.documents import render_pdf
from services.invoicing.exports.mapping import default_mapping
from services.invoicing.exports.quickbooks import quickbooks_invoices_csv
from services.invoicing.exports.xero import xero_invoices_csv
from tests.invoicing.factories import usage, worked_document, worked_invoice


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _times(action: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        out.append(time.perf_counter() - start)
    return out


def _row(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"| {name} | {len(seconds)} | {statistics.median(seconds) * 1000:.0f} ms | {p95 * 1000:.0f} ms |"


def main() -> None:
    gc.collect()
    before = _rss_mb()
    brief = worked_document()
    long_invoice = worked_document(invoice=worked_invoice(
        [usage("openai", f"model-{i:03d}", input_tokens=1_000_000 + i, input_per_mtok="1.25") for i in range(60)]))

    start = time.perf_counter()
    render_pdf(brief)
    first = time.perf_counter() - start
    after_first = _rss_mb()
    brief_times = _times(lambda: render_pdf(brief), 30)
    long_times = _times(lambda: render_pdf(long_invoice), 10)
    after_renders = _rss_mb()

    docs = [
        worked_document(number=f"TT-2026-{n:06d}", tax_percent=Decimal("20") if n % 3 == 0 else None,
                        billing_name=f"Client {n:04d}")
        for n in range(1, 1001)
    ]
    xero_map, qbo_map = default_mapping("xero"), default_mapping("quickbooks")
    xero_times = _times(lambda: xero_invoices_csv(docs, xero_map), 5)
    qbo_times = _times(lambda: quickbooks_invoices_csv(docs, qbo_map), 5)
    size = len(xero_invoices_csv(docs, xero_map))

    print("| what | runs | median | p95 |")
    print("|---|---|---|---|")
    print(f"| first PDF in a fresh process (fonts loaded) | 1 | {first * 1000:.0f} ms | |")
    print(_row("PDF of the brief's invoice (3 lines, 1 page)", brief_times))
    print(_row("PDF of a 60-line invoice (2 pages)", long_times))
    print(_row("Xero file, 1,000 issued invoices (4,000 rows)", xero_times))
    print(_row("QuickBooks file, 1,000 issued invoices", qbo_times))
    print()
    print(f"Xero file size: {size / 1024:.0f} KiB")
    print(f"RSS: {before:.0f} MB after imports, {after_first:.0f} MB after the first PDF, "
          f"{after_renders:.0f} MB after {len(brief_times) + len(long_times) + 1} PDFs; peak {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
