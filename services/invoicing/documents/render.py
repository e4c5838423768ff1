"""HTML and PDF of an invoice document: one Jinja2 template and stylesheet, WeasyPrint for PDF.

Deterministic: the same document gives the same bytes. The PDF's dates come from the
document (``as_of``) through the HTML's ``dcterms`` meta, its file identifier is a hash
of the HTML, and nothing is fetched (only inline ``data:`` images are loaded), so no
clock, randomness or network reaches the output. Fonts are the machine's (Liberation
Sans, else DejaVu Sans): another machine with other fonts gives other, equally stable, bytes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import cast

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from services.invoicing.documents.model import InvoiceDocument
from services.invoicing.documents.view import view_of

__all__ = ["render_html", "render_pdf", "pdf_filename"]

_TEMPLATE = "invoice.html.j2"


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("services.invoicing.documents", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _stylesheet() -> Markup:
    text = resources.files("services.invoicing.documents").joinpath("templates/invoice.css").read_text("utf-8")
    return Markup(text)  # our own file, placed inside <style>


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string that is also safe inside an HTML ``<style>`` element."""
    escaped = "".join(
        f"\\{ord(char):x} " if char in '"\\<>&\n\r' or ord(char) < 0x20 else char for char in text
    )
    return Markup(f'"{escaped}"')


def render_html(document: InvoiceDocument) -> str:
    """The document as a standalone HTML page (styles inline, logo inline): a browser view."""
    view = view_of(document)
    return _environment().get_template(_TEMPLATE).render(
        v=view, css=_stylesheet(), page_ref_css=css_string(view.page_ref)
    )


def render_pdf(document: InvoiceDocument) -> bytes:
    """The document as PDF bytes, identical for identical documents."""
    html = render_html(document)
    fetcher = URLFetcher(allowed_protocols={"data"})  # an agency's logo is inline; never touch the network
    identifier = hashlib.md5(html.encode(), usedforsecurity=False).hexdigest().encode()
    # Without a target, write_pdf returns the bytes.
    return cast(bytes, HTML(string=html, url_fetcher=fetcher, media_type="print").write_pdf(pdf_identifier=identifier))


def pdf_filename(document: InvoiceDocument) -> str:
    if document.number:
        return f"{document.number}.pdf"
    return f"draft-invoice-{document.client_id}-{document.period}.pdf"
