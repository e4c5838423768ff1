"""Who may see what: the admin session cookie, CSRF tokens and the clients' portal links.

Everything is signed with ``DASHBOARD_SECRET_KEY`` (itsdangerous, HMAC-SHA1 over a
timestamped payload), and each use has its own salt so a token of one kind is never
accepted as another.

- **Session**: after sign-in with an admin API key, the cookie holds a random session id
  and the session's CSRF token, signed and timestamped (``DASHBOARD_SESSION_HOURS``). It
  never holds the API key: the dashboard calls the services with its own key. The cookie
  is ``HttpOnly`` and ``SameSite=Lax`` (``Secure`` with ``DASHBOARD_SECURE_COOKIES``).
- **CSRF**: every form carries the session's token in a hidden field and every POST checks
  it (synchronizer token). The sign-in form, which has no session yet, uses a double-submit
  cookie (``tt_login``) so a third-party page cannot sign a browser into a session of its own.
- **Portal links** ``/portal/<token>``: a signed, expiring token naming one client
  (``DASHBOARD_PORTAL_DAYS``). Chosen over handing the client a ``client:<id>`` API key
  because a link needs no key distribution, no key in a browser, and expires by itself;
  the portal only ever renders that client's data, read with the dashboard's own key.
  A link cannot be revoked one by one: rotating the secret ends every link and session.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "PortalLinks", "Session", "Sessions", "same_token"]

SESSION_COOKIE = "tt_session"
LOGIN_COOKIE = "tt_login"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    csrf: str


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; a missing one never matches."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class Sessions:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="tokentally.dashboard.session")
        self.max_age_seconds = max_age_seconds

    def new(self) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        session = Session(secrets.token_urlsafe(16), secrets.token_urlsafe(24))
        return session, self._serializer.dumps({"sid": session.session_id, "csrf": session.csrf})

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None when absent, tampered with or expired."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str) or not isinstance(data.get("csrf"), str):
            return None
        return Session(data["sid"], data["csrf"])


class PortalLinks:
    """Signed, expiring tokens that each open one client's read-only portal."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="tokentally.dashboard.portal")
        self.max_age_seconds = max_age_seconds

    def token(self, client_id: str) -> str:
        return self._serializer.dumps({"client_id": client_id})

    def client_id(self, token: str) -> str | None:
        """The client a token opens; None when it is forged or expired."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age_seconds)
        except SignatureExpired:
            return None
        except BadSignature:
            return None
        client_id = data.get("client_id") if isinstance(data, dict) else None
        return client_id if isinstance(client_id, str) else None
