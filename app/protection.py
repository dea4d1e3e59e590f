"""Request-forgery and redirect protection for the whole application.

CSRF: the session cookie is ``SameSite=Lax``, so browsers do not send it on cross-site
POSTs. As a second line, a state-changing request (POST, PUT, PATCH, DELETE) is refused
with 403 when its ``Origin`` header (or, without one, its ``Referer``) names another host
than the one the request was sent to. Browsers send ``Origin`` on every cross-origin POST;
a request carrying neither header is not from a browser page, so it cannot ride on a
victim's cookie and is let through (tests, command-line clients).

Open redirects: a ``next`` target is followed only when it is a path on this site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, abort, request

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def check_same_origin() -> None:
    """Abort with 403 when a state-changing request comes from a page of another site."""
    if request.method not in UNSAFE_METHODS:
        return
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return
    # Privacy-sensitive contexts (sandboxed frames, cross-site redirects) send "null".
    if source == "null" or urlsplit(source).netloc.lower() != request.host.lower():
        abort(403)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Same-origin requests keep their Referer, which the CSRF check above may rely on.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a local path (``/home?x=1``), else None.

    Rejects absolute URLs, scheme-relative ``//host`` and backslash or control-character
    tricks that some browsers normalise into another host.
    """
    if not target:
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def same_host_referrer() -> str | None:
    """The path and query of the Referer when it is a page of this site, else None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc.lower() != request.host.lower():
        return None
    path = parts.path or "/"
    return safe_next(f"{path}?{parts.query}" if parts.query else path)
