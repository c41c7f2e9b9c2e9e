"""What every page shares: the signed-in viewer, rendering, flash messages, and errors in plain words."""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

import gitproductivity
from gitproductivity.core.content import accepts
from gitproductivity.core.errors import DomainError
from gitproductivity.core.http import unit_of_work
from gitproductivity.core.wording import field_path, plain_message, sentence
from gitproductivity.orgs import service as orgs_service
from gitproductivity.orgs.models import Organization
from gitproductivity.orgs.roles import READ_METHODS, Role, at_least, require
from gitproductivity.orgs.service import Principal
from gitproductivity.web.security import SESSION_ID, csrf_token

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")

#: Sent with every page: scripts and styles only from this server, never framed by another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person; every page reads and writes only `organization_id`'s data."""

    user_id: str
    email: str
    organization_id: str
    organization_name: str
    role: str = Role.VIEWER

    @property
    def principal(self) -> Principal:
        return Principal(organization_id=self.organization_id, user_id=self.user_id, role=self.role)

    def may(self, needed: str) -> bool:
        """For templates: show a form only to those whose role may send it (the route checks anyway)."""
        return at_least(self.role, Role(needed))


class SignInRequired(Exception):
    """Raised by `current_viewer`; answered with a redirect to the sign-in page."""


#: Sent by the pages' automatic requests (the bell's poll, progress and delivery refreshes: `hx-headers` on the
#: polling element), so that they do not count as activity for the idle timeout. It can only make a session end
#: sooner, so nothing is gained by sending it, or by leaving it out, against the rules.
BACKGROUND_HEADER = "X-GP-Background"


def current_viewer(request: Request) -> Viewer:
    """The signed-in person, from the server-side session the cookie names (`orgs.service.session_user`): a
    session that was signed out, ended by a password change or ran out is no session, whatever cookie is sent."""
    token = request.session.get(SESSION_ID)
    if not isinstance(token, str):
        raise SignInRequired
    with unit_of_work() as session:
        background = request.headers.get(BACKGROUND_HEADER) == "1"
        user = orgs_service.session_user(session, token=token, activity=not background)
        org = None if user is None else session.get(Organization, user.organization_id)
        viewer = None if user is None or org is None else Viewer(user.id, user.email, org.id, org.name, user.role)
    if viewer is None:
        request.session.pop(SESSION_ID, None)  # ended or expired: the cookie means nothing any more
        raise SignInRequired
    return viewer


def signed_in(request: Request) -> bool:
    try:
        current_viewer(request)
    except SignInRequired:
        return False
    return True


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def page_allows(what: str, *, write: Role = Role.ADMIN) -> Any:
    """The role check of a group of pages, as the router's dependency: the same rule as the API's
    (`orgs.auth.allow`): pages are read by every role, and their forms are sent only by `write` and above."""

    def check(request: Request, viewer: CurrentViewer) -> None:
        if request.method not in READ_METHODS:
            require(viewer.role, write, f"change {what}")

    return Depends(check)


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A message shown once, on the next page rendered (after a redirect)."""
    request.session.setdefault("flash", []).append([kind, message])


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    # Unexpected errors are answered outside the session middleware: render those without a session.
    session: dict[str, Any] = request.session if "session" in request.scope else {}
    flashes = session.pop("flash", []) if not template.startswith("partials/") else []
    ctx = {
        "viewer": viewer,
        "csrf_token": csrf_token(session),
        "flashes": flashes,
        "version": gitproductivity.__version__,
        "nav": request.url.path.strip("/").split("/", 1)[0],
        "extensions": enabled_pages(),
        **context,
    }
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    response.headers.update({**SECURITY_HEADERS, **(headers or {})})
    return response


#: Which optional sections are mounted (filled by `web.install`); the navigation shows only those.
PAGES: dict[str, bool] = {}


def enabled_pages() -> dict[str, bool]:
    return PAGES


# --- errors in plain words ---------------------------------------------------------------------------------


def field_errors(exc: DomainError | ValidationError) -> dict[str, str]:
    """Every error, worded for a person (`"Name: at least 3 characters"`), keyed by form field (`""` for the
    form as a whole); several errors of one field are joined."""
    found: dict[str, list[str]] = {}
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            field = field_path(err.get("loc", ())).split(".", 1)[0]
            found.setdefault(field, []).append(plain_message(err))
    else:
        for detail in exc.details or []:
            if isinstance(detail, dict) and detail.get("field"):
                field = str(detail["field"]).split(".", 1)[0]
                found.setdefault(field, []).append(str(detail.get("message") or _without_field(exc.message, field)))
    if not found:
        return {"": exc.message if isinstance(exc, DomainError) else "The form is not valid."}
    return {field: sentence(field, "; ".join(dict.fromkeys(messages))) for field, messages in found.items()}


def _without_field(message: str, field: str) -> str:
    """`"url: longer than 2000 characters"` -> `"longer than 2000 characters"` (the field is named once)."""
    return message.removeprefix(f"{field}: ")


def _capital(message: str) -> str:
    return message[:1].upper() + message[1:]


def _is_ui(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/v1", "/openapi.json", "/docs", "/redoc", "/healthz")):
        return False
    return accepts(request.headers.get("accept"), "text/html") or "hx-request" in request.headers


async def _delegate(handler: Any, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    if inspect.isawaitable(result):
        result = await result
    return cast(Response, result)


NOT_FOUND = "There is nothing at this address: it may have been deleted, or the link is incomplete."


def _viewer_if_any(request: Request) -> Viewer | None:
    """The signed-in person for an error page, or None (signed out, or the error came before the session was
    read, or the database is what failed: an error page never fails in turn)."""
    if "session" not in request.scope:
        return None
    try:
        return current_viewer(request)
    except Exception:  # any reason to not know the viewer means the page without the header
        return None


def install_error_pages(app: FastAPI) -> None:
    """UI requests get an HTML page in plain words (never a stack trace); API requests keep the JSON shape."""
    json_domain = app.exception_handlers[DomainError]
    json_http = app.exception_handlers[StarletteHTTPException]
    json_validation = app.exception_handlers[RequestValidationError]
    json_unexpected = app.exception_handlers[Exception]

    def error_page(request: Request, status: int, title: str, message: str) -> Response:
        if "hx-request" in request.headers:  # htmx: show the message where the request came from
            html = templates.get_template("partials/error.html").render(message=message)
            return HTMLResponse(html, status_code=status, headers={"HX-Reswap": "innerHTML"})
        viewer = _viewer_if_any(request)  # the header and navigation stay on error pages
        return render(request, "error.html", viewer, status_code=status, title=title, message=message)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = "/login" if target == "/" else f"/login?next={quote(target)}"
        if "hx-request" in request.headers:
            return Response(status_code=204, headers={"HX-Redirect": url})
        return redirect(url)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if not _is_ui(request):
            return await _delegate(json_domain, request, exc)
        titles = {403: "Not allowed", 404: "Not found", 409: "Conflict"}
        # A 404's message names the id that was asked for; a person is told what it means instead.
        # "webhook wh_… not found": the id that was asked for means nothing to a person; other messages are words.
        message = NOT_FOUND if exc.status_code == 404 and exc.message.endswith("not found") else exc.message
        return error_page(request, exc.status_code, titles.get(exc.status_code, "Something is wrong"), message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_ui(request):
            return await _delegate(json_http, request, exc)
        message = NOT_FOUND if exc.status_code == 404 else _capital(str(exc.detail))
        return error_page(request, exc.status_code, "Not found" if exc.status_code == 404 else "Error", message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not _is_ui(request):
            return await _delegate(json_validation, request, exc)
        problems = "; ".join(sentence(field_path(e.get("loc", ())), plain_message(e)) for e in exc.errors())
        return error_page(
            request, 422, "Invalid request", f"The request was not valid ({problems}). Go back and try again."
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if not _is_ui(request):
            return await _delegate(json_unexpected, request, exc)
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_page(
            request, 500, "Something went wrong", "Something went wrong on our side. The details are in the server log."
        )


# --- template filters -------------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 0:
        seconds = -seconds
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size:
                n = seconds // size
                return f"in {n} {unit}{'s' if n != 1 else ''}"
        return "in a moment"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def number(value: int | float | None) -> str:
    """Every figure on every page, one way: whole numbers with a comma between thousands (12,345); the
    dashboard's charts format theirs the same way (`dashboard.js`)."""
    if value is None:
        return ""
    return f"{round(value):,}"


#: Where a URL or path may wrap: after / ? & = # (not inside "//"), so a long one breaks between its parts.
_URL_BREAKS = re.compile(r"(?<=[/?&=#])(?=[^/])")


def url_breaks(value: object) -> Markup:
    """The text, escaped, with a soft wrap point (`<wbr>`) after each separator of a URL: long URLs wrap at
    sensible points rather than mid-word (the text, copied or read, is unchanged)."""
    return Markup("<wbr>").join(escape(part) for part in _URL_BREAKS.split(str(value)))


templates.env.filters["url"] = url_breaks
templates.env.filters["when"] = _when
templates.env.filters["number"] = number
templates.env.filters["ago"] = _ago
