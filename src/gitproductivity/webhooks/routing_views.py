"""Settings → Webhooks → Routing: the filter (repository and developer pickers plus a raw JSON editor), the
extra headers and the credentials of one endpoint. The pickers suggest as you type (htmx fills a datalist from
`/settings/webhook-suggestions/…`, 20 at a time), so they work with thousands of repositories or developers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from gitproductivity.core.errors import NotFound, ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.developers import service as developers
from gitproductivity.repositories import service as repositories
from gitproductivity.teams import service as teams
from gitproductivity.web.helpers import CurrentViewer, Viewer, flash, page_allows, redirect, render
from gitproductivity.web.security import guard
from gitproductivity.webhooks import endpoints, options
from gitproductivity.webhooks.schemas import WebhookRead, webhook_read

router = APIRouter(prefix="/settings", include_in_schema=False, dependencies=[Depends(guard), page_allows("webhooks")])

#: The filter fields the pickers write; the rest of a filter is shown in the raw editor.
PICKED = {"repositories": ("data", "repository_id"), "developers": ("data", "developer_id")}
SUGGESTIONS = 20
#: Teams offered by the team picker (an organisation with more picks by developer).
MAX_TEAMS = 500


def split_filter(spec: dict[str, Any] | None) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """(ids per picker, the rest of the filter). A picker owns `data.<field>: {"$in": [ids]}`, written dotted or
    nested; anything else about the field stays in the rest."""
    rest = json.loads(json.dumps(spec or {}))
    picks: dict[str, list[str]] = {name: [] for name in PICKED}
    for name, (outer, inner) in PICKED.items():
        dotted = f"{outer}.{inner}"
        nested = rest.get(outer) if isinstance(rest.get(outer), dict) else None
        for holder, key in ((rest, dotted), (nested, inner)):
            value = holder.get(key) if holder is not None else None
            if isinstance(value, dict) and set(value) == {"$in"} and all(isinstance(v, str) for v in value["$in"]):
                picks[name] = list(value["$in"])
                del holder[key]  # type: ignore[union-attr]
                break
        if nested is not None and not nested:
            del rest[outer]
    return picks, rest


def _labels(session: Session, organization_id: str, picks: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    """(id, label) for the chosen ids; an id no longer found (removed since) is shown as it is."""
    labels: dict[str, list[tuple[str, str]]] = {}
    for name, ids in picks.items():
        found: dict[str, str] = {}
        for one in ids[:1000]:
            rows = _search(session, name, organization_id, one, 1)
            if rows and rows[0].id == one:
                found[one] = rows[0].name
        labels[name] = [(one, found.get(one, one)) for one in ids]
    return labels


def _search(session: Session, kind: str, organization_id: str, query: str, limit: int) -> list[Any]:
    service: Any = repositories if kind == "repositories" else developers
    return list(service.search(session, organization_id=organization_id, query=query, limit=limit))


def _teams(session: Session, organization_id: str) -> list[tuple[str, str]]:
    rows, _total, _next = teams.list_(session, organization_id=organization_id, limit=MAX_TEAMS)
    return [(t.id, t.name) for t in rows]


def _team_members(session: Session, organization_id: str, team_id: str) -> list[str]:
    """A team's developers now: the team picker adds them to the developers chosen (a snapshot, said on the
    page: the filter names developers, so a later change to the team does not change it)."""
    try:
        team = teams.get(session, organization_id=organization_id, team_id=team_id)
    except NotFound:  # removed since the page was shown, or not this organisation's
        raise ValidationFailed(
            "teams", details=[{"field": "teams", "message": "That team no longer exists."}]
        ) from None
    ids = list(session.scalars(teams.member_ids(team_id=team.id)))
    if not ids:
        message = f"The team “{team.name}” has no developers yet: add some to it first."
        raise ValidationFailed("teams", details=[{"field": "teams", "message": message}])
    return sorted(ids)


def _page(
    request: Request, viewer: Viewer, hook: WebhookRead, form: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    return render(request, "webhooks/routing.html", viewer, status_code=status, hook=hook, form=form, errors=errors)


@router.get("/webhooks/{webhook_id}/routing")
def routing_page(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        hook = webhook_read(endpoints.get(session, organization_id=viewer.organization_id, webhook_id=webhook_id))
        picks, rest = split_filter(hook.filter)
        chosen = _labels(session, viewer.organization_id, picks)
        team_choices = _teams(session, viewer.organization_id)
    form = {
        "teams": team_choices,
        "chosen": chosen,
        "filter_json": json.dumps(rest, indent=2) if rest else "",
        "headers_text": "\n".join(f"{k}: {v}" for k, v in hook.headers.items()),
        "auth_mode": "keep" if hook.auth else "none",
        "auth_username": "",
        "rate_limit_per_second": "" if hook.rate_limit_per_second is None else f"{hook.rate_limit_per_second:g}",
        "ordering": hook.ordering,
    }
    return _page(request, viewer, hook, form, {}, 200)


@router.get("/webhook-suggestions/{kind}")
def suggestions(
    request: Request, kind: str, viewer: CurrentViewer, add_repository: str = "", add_developer: str = ""
) -> Response:
    """`<option>`s for a picker's datalist: value the id, label the name (and e-mail)."""
    query = (add_repository if kind == "repositories" else add_developer)[:200]
    rows: list[Any] = []
    if kind in PICKED and query.strip():
        with unit_of_work() as session:
            rows = _search(session, kind, viewer.organization_id, query, SUGGESTIONS)
    options = [(r.id, r.name + (f" <{r.email}>" if kind == "developers" else "")) for r in rows]
    return render(request, "webhooks/_suggestions.html", viewer, options=options)


def _resolve(session: Session, kind: str, organization_id: str, text: str) -> str:
    """The id a picker's text names: an id from the suggestions, an exact name (or e-mail), or the only match."""
    rows = _search(session, kind, organization_id, text, 2)
    what = kind[:-3] + "y" if kind == "repositories" else kind[:-1]
    exact = [r for r in rows if text.strip().lower() in (r.id, r.name.lower(), getattr(r, "email", None))]
    if len(exact) == 1 or len(rows) == 1:
        return str((exact or rows)[0].id)
    if not rows:
        raise ValidationFailed(
            f"no {what} matches {text!r}", details=[{"field": kind, "message": f"No {what} matches “{text}”."}]
        )
    raise ValidationFailed(
        f"several match {text!r}",
        details=[{"field": kind, "message": f"Several match “{text}”: pick one from the list."}],
    )


def _headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValidationFailed(
                "headers", details=[{"field": "headers", "message": f"Line {number}: write “Name: value”."}]
            )
        headers[name.strip()] = value.strip()
    return headers


def _auth(mode: str, username: str, secret: str) -> Any:
    if mode == "keep":
        return endpoints.UNCHANGED
    if mode == "none":
        return None
    if not secret:
        raise ValidationFailed("auth", details=[{"field": "auth", "message": "Enter the password or token to save."}])
    if mode == "basic":
        return {"type": "basic", "username": username, "password": secret}
    return {"type": "bearer", "token": secret}


def _errors(exc: ValidationFailed) -> dict[str, str]:
    """Form errors by section: every filter error with its path, the first of the others."""
    errors: dict[str, str] = {}
    for detail in exc.details or [{"field": "", "message": exc.message}]:
        field = str(detail.get("field", ""))
        section = field.split(".")[0].split("[")[0] or "filter"
        message = str(detail.get("message") or exc.message)
        if section == "filter" and field != "filter":
            message = f"{field.removeprefix('filter.')}: {message}"
        errors[section] = f"{errors[section]}; {message}" if section in errors else message
    return errors


@router.post("/webhooks/{webhook_id}/routing")
def save_routing(
    request: Request,
    webhook_id: str,
    viewer: CurrentViewer,
    repository_ids: Annotated[list[str] | None, Form()] = None,
    add_repository: Annotated[str, Form()] = "",
    developer_ids: Annotated[list[str] | None, Form()] = None,
    add_developer: Annotated[str, Form()] = "",
    add_team: Annotated[str, Form()] = "",
    filter_json: Annotated[str, Form()] = "",
    headers_text: Annotated[str, Form()] = "",
    auth_mode: Annotated[str, Form()] = "keep",
    auth_username: Annotated[str, Form()] = "",
    auth_secret: Annotated[str, Form()] = "",
    rate_limit_per_second: Annotated[str, Form()] = "",
    ordering: Annotated[str, Form()] = "none",
) -> Response:
    chosen = {"repositories": list(repository_ids or []), "developers": list(developer_ids or [])}
    form: dict[str, Any] = {
        "filter_json": filter_json,
        "headers_text": headers_text,
        "auth_mode": auth_mode,
        "auth_username": auth_username,
        "add_repository": add_repository,
        "add_developer": add_developer,
        "rate_limit_per_second": rate_limit_per_second,
        "ordering": ordering,
    }
    with unit_of_work() as session:
        hook = endpoints.get(session, organization_id=viewer.organization_id, webhook_id=webhook_id)
        errors: dict[str, str] = {}
        for kind, text in (("repositories", add_repository), ("developers", add_developer)):
            if text.strip():
                try:
                    found = _resolve(session, kind, viewer.organization_id, text)
                    chosen[kind] += [found] if found not in chosen[kind] else []
                except ValidationFailed as exc:
                    errors.update(_errors(exc))
        if add_team.strip():
            try:
                members = _team_members(session, viewer.organization_id, add_team.strip())
                chosen["developers"] += [d for d in members if d not in chosen["developers"]]
            except ValidationFailed as exc:
                errors.update(_errors(exc))
        try:
            rest = json.loads(filter_json) if filter_json.strip() else {}
        except ValueError as exc:
            rest, errors["filter"] = {}, f"Not valid JSON: {exc}"
        if not isinstance(rest, dict):
            rest, errors["filter"] = {}, 'Write a JSON object, like {"type": "metrics.updated"}.'
        spec = dict(rest)
        for kind, ids in chosen.items():
            if ids:
                spec[".".join(PICKED[kind])] = {"$in": ids}
        if not errors:
            try:
                endpoints.update_(
                    session,
                    organization_id=viewer.organization_id,
                    webhook_id=webhook_id,
                    event_filter=spec or None,
                    headers=_headers(headers_text),
                    auth=_auth(auth_mode, auth_username, auth_secret),
                    rate_limit_per_second=options.rate_from_text(rate_limit_per_second),
                    ordering=ordering,
                )
            except ValidationFailed as exc:
                errors.update(_errors(exc))
        if errors:
            session.rollback()
            form["chosen"] = _labels(session, viewer.organization_id, chosen)
            form["teams"] = _teams(session, viewer.organization_id)
            return _page(request, viewer, webhook_read(hook), form, errors, 422)
    flash(request, "Routing saved: it applies to the next event.")
    return redirect(f"/settings/webhooks/{webhook_id}")
