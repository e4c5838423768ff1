"""Request dependencies: the backend, the signed-in admin, the CSRF check, the month in view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.templating import Jinja2Templates

from libs.common.periods import Period, parse_period
from services.dashboard.backend import Backend
from services.dashboard.sessions import SESSION_COOKIE, PortalLinks, Session, Sessions, same_token

__all__ = ["AdminSession", "BackendDep", "CsrfChecked", "Forbidden", "NotSignedIn", "PageError", "month_or_current"]


class NotSignedIn(Exception):
    """No valid session: pages redirect to the sign-in form, POSTs answer 401."""


class Forbidden(Exception):
    """A request the caller may not make (bad CSRF token, bad portal link)."""


class PageError(Exception):
    """Something the person asked for that cannot be shown (shown as a page with the reason)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def _backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


def _session(request: Request) -> Session:
    sessions: Sessions = request.app.state.sessions
    session = sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NotSignedIn()
    return session


def _csrf_checked(session: Annotated[Session, Depends(_session)], csrf: Annotated[str, Form()] = "") -> Session:
    if not same_token(csrf, session.csrf):
        raise Forbidden("The form's security token is missing or stale: reload the page and submit again.")
    return session


BackendDep = Annotated[Backend, Depends(_backend)]
AdminSession = Annotated[Session, Depends(_session)]
CsrfChecked = Annotated[Session, Depends(_csrf_checked)]


def templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates  # type: ignore[no-any-return]


def portal_links(request: Request) -> PortalLinks:
    return request.app.state.portal_links  # type: ignore[no-any-return]


def now() -> datetime:
    return datetime.now(UTC)


def month_or_current(month: str | None, at: datetime) -> Period:
    """The ``?month=YYYY-MM`` in view, this month when absent; a clear 400 page when malformed."""
    if not month:
        return Period.of(at)
    try:
        return parse_period(month)
    except ValueError as exc:
        raise PageError(400, "That month does not exist", f"month: {exc}") from exc
