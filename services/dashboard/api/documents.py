"""Issued invoices' PDFs, for the client page (admin) and the portal (its client's only).

Both read invoicing's ``/v1/clients/{client_id}/documents/{number}``, which refuses (403)
a document of another client, so a portal link can never fetch another client's PDF
whatever number is typed into its address.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response

from services.dashboard.api.clients import checked_client_id
from services.dashboard.backend import Backend, DocumentForbidden
from services.dashboard.deps import AdminSession, BackendDep, Forbidden, PageError, portal_links

router = APIRouter(include_in_schema=False)

_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


async def _pdf(backend: Backend, client_id: str, number: str) -> Response:
    if not _NUMBER.match(number):
        raise PageError(404, "No such document", "number: not a document number")
    try:
        document = await backend.document_pdf(client_id, number)
    except DocumentForbidden as exc:
        raise Forbidden(f"Document {number} is not one of this client's.") from exc
    if document is None:
        raise PageError(404, "No such document", f"There is no issued document numbered {number}.")
    body, filename = document
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


@router.get("/clients/{client_id}/documents/{number}.pdf", name="client_document_pdf")
async def client_document_pdf(client_id: str, number: str, session: AdminSession, backend: BackendDep) -> Response:
    return await _pdf(backend, checked_client_id(client_id), number)


@router.get("/portal/{token}/documents/{number}.pdf", name="portal_document_pdf")
async def portal_document_pdf(request: Request, token: str, number: str, backend: BackendDep) -> Response:
    client_id = portal_links(request).client_id(token)
    if client_id is None:
        raise Forbidden("This portal link is not valid or has expired: ask your account manager for a new one.")
    return await _pdf(backend, checked_client_id(client_id), number)
