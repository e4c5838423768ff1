"""Which documents go into an accounting file, and in what order (so a file is repeatable)."""

from __future__ import annotations

from collections.abc import Iterable

from libs.common.errors import InvalidInput
from services.invoicing.documents.model import InvoiceDocument

__all__ = ["in_file_order"]


def in_file_order(documents: Iterable[InvoiceDocument]) -> list[InvoiceDocument]:
    """Issued and paid invoices, then credit notes, each by number.

    A draft is refused (it has no number to post). A void invoice is left out: neither
    import can create a voided invoice, so it would land as one awaiting payment; an
    invoice voided after it was imported is voided in the accounting system by hand.
    """
    chosen = []
    for document in documents:
        if document.is_draft:
            raise InvalidInput(f"the draft invoice of {document.client_id} for {document.period} cannot be exported")
        if document.status != "void":
            chosen.append(document)
    return sorted(chosen, key=lambda d: (d.kind != "invoice", d.number or ""))
