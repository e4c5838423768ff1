"""Masking secrets in notification URLs before they are shown to anyone but an admin."""

from __future__ import annotations

from urllib.parse import urlsplit


def mask_url(url: str) -> str:
    """``mailtos://user:pw@smtp.example.com?to=a`` → ``mailtos://***@smtp.example.com/***``.

    Apprise URLs carry credentials in the user part, the path (webhook tokens) and the
    query; only the scheme and a host name that looks like one (has a dot) survive.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "***"
    scheme = parts.scheme or "?"
    if "." not in host:
        return f"{scheme}://***"
    user = "***@" if parts.username or parts.password else ""
    rest = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{scheme}://{user}{host}{rest}"
