"""Browser sessions and CSRF protection for the web UI.

Who is signed in is kept on the server (`orgs.models.UserSession`): the cookie carries only the session's random
id (`SESSION_ID`), so signing out or changing the password ends the session for every copy of the cookie at
once, and expiry (absolute and idle) is the server's to enforce. The cookie itself is a signed, HttpOnly cookie
(Starlette's `SessionMiddleware`, keyed with `settings.secret_key`, or a key generated once and kept in the data
directory) that also holds the CSRF token and flash messages. It only ever authenticates UI routes: the `/v1`
API ignores it and keeps requiring `Authorization: Bearer`, so a page on another site cannot drive the API with
a signed-in user's cookie.

Every state-changing UI request must carry the session's CSRF token, as the `csrf_token` form field or the
`X-CSRF-Token` header (htmx sends it from `hx-headers` on `<body>`). `guard` checks that on every page
router, and refuses NUL characters in the page's address with a message instead of a server error (forms,
query strings and JSON bodies are checked app-wide by `core.content.refuse_unstorable_text`).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware

from gitproductivity.core.content import media_type
from gitproductivity.core.errors import Forbidden, ValidationFailed
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "gp_session"
#: The key of the server-side session's id inside the signed cookie.
SESSION_ID = "sid"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def secret_key() -> str:
    """The configured key, else one generated on first use and kept (mode 0600) in the data directory.

    Several servers behind one load balancer must share a key: set GITPRODUCTIVITY_SECRET_KEY on all of them.
    """
    settings = get_settings()
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    path = Path(settings.data_dir) / "secret_key"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    log.info("generated a session key in %s (set GITPRODUCTIVITY_SECRET_KEY to choose one)", path)
    return key


def install_sessions(app: FastAPI) -> None:
    settings = get_settings()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(),
        session_cookie=SESSION_COOKIE,
        max_age=int(settings.session_max_age),  # the browser forgets it when the server would refuse it
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )


def csrf_token(session: dict[str, Any]) -> str:
    """This session's token, created on first use (also before sign-in, so the sign-in form has one)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def guard(request: Request) -> None:
    """Router dependency of every page: the CSRF check, and no NUL characters in the page's address.

    PostgreSQL text cannot hold NUL, so such input would otherwise surface as a server error.
    """
    if any("\x00" in str(value) for value in request.path_params.values()):
        raise ValidationFailed("The address of this page contains a NUL character.")
    if request.method in _SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    kind = media_type(request.headers.get("content-type"))  # `Application/X-WWW-Form-URLencoded` is a form too
    if sent is None and kind is not None and kind.is_form:
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again.",
            details=[{"field": CSRF_FIELD, "message": "missing or wrong CSRF token"}],
        )
