"""Sign-in with an admin API key, and sign-out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from libs.common.auth import KeyRing
from services.dashboard.deps import CsrfChecked, Forbidden, templates
from services.dashboard.sessions import LOGIN_COOKIE, SESSION_COOKIE, Sessions, same_token

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only a path on this site (never ``//evil.example`` or a full URL)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _login_page(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = templates(request).TemplateResponse(
        request, "login.html", {"next": _safe_next(next_path), "login_token": token, "error": error,
                                "signed_in": False}, status_code=status)
    response.set_cookie(LOGIN_COOKIE, token, max_age=1800, httponly=True, samesite="strict",
                        secure=request.app.state.settings.secure_cookies)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, next)


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    login_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not same_token(login_token, request.cookies.get(LOGIN_COOKIE)):
        raise Forbidden("The sign-in form expired or did not come from this site: reload it and try again.")
    keyring: KeyRing = request.app.state.keyring
    principal = keyring.authenticate(api_key.strip()) if api_key.strip() else None
    if principal is None or not principal.is_admin:
        return _login_page(request, next, "That is not an admin API key.", status=401)
    sessions: Sessions = request.app.state.sessions
    _, cookie = sessions.new()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=sessions.max_age_seconds, httponly=True, samesite="lax",
                        secure=request.app.state.settings.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(_: CsrfChecked) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
