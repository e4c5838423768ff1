"""Invoice documents: the model of what is printed, its HTML/PDF rendering, and builders."""

from services.invoicing.documents.model import DocumentLine, InvoiceDocument, UsageBucket
from services.invoicing.documents.render import pdf_filename, render_html, render_pdf

__all__ = ["DocumentLine", "InvoiceDocument", "UsageBucket", "pdf_filename", "render_html", "render_pdf"]
