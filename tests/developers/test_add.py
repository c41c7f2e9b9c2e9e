"""`developers.service.add` (what `POST /v1/developers` calls: the developer in plain values, no ORM objects) gives
the same answer, rows, events and errors as `create` (what the web page and the CLI call), case by case: a new
developer with aliases (duplicates, an alias equal to the primary), a bot, a removed developer brought back, a
conflict, and an address from git history (`validate=False`). Each case runs once per function, in an
organisation of its own; ids and times differ, everything else must not."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.core.errors import DomainError
from gitproductivity.developers import service
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.developers.schemas import DeveloperRead
from gitproductivity.events.models import Event
from tests.conftest import make_tenant

Setup = Callable[[Any, str], None]


def _nothing(_session: Any, _org: str) -> None:
    return None


def _removed_sam(session: Any, org: str) -> None:
    dev = service.create(session, organization_id=org, name="Sam", email="sam@example.com", aliases=["s@x.example"])
    service.remove(session, organization_id=org, developer_id=dev.id)


def _ann(session: Any, org: str) -> None:
    service.create(session, organization_id=org, name="Ann", email="ann@example.com", aliases=["ann@old.example"])


CASES: dict[str, tuple[Setup, dict[str, Any]]] = {
    "new with aliases": (
        _nothing,
        {
            "name": " Kim ",
            "email": " Kim@Example.com",
            "aliases": ["z@a.example", "K@B.example", "z@a.example", "KIM@example.com"],
        },
    ),
    "no aliases": (_nothing, {"name": "Jo", "email": "jo@example.com"}),
    "a bot": (_nothing, {"name": "ci-bot", "email": "ci@bots.example", "is_bot": True}),
    "brought back": (
        _removed_sam,
        {"name": "Sam B", "email": "SAM@example.com", "aliases": ["z@new.example", "a@new.example"]},
    ),
    "brought back, no name": (_removed_sam, {"name": " ", "email": "sam@example.com"}),
    "primary taken": (_ann, {"name": "Bob", "email": "ANN@example.com"}),
    "alias taken": (_ann, {"name": "Bob", "email": "bob@example.com", "aliases": ["n@example.com", "ann@old.example"]}),
    "removed one's alias": (_removed_sam, {"name": "Tom", "email": "tom@example.com", "aliases": ["s@x.example"]}),
    "invalid": (_nothing, {"name": "X", "email": "not an address"}),
    "from history": (_nothing, {"name": "Git", "email": "Weird Thing@@Host", "validate": False}),
}


def _outcome(database: Database, org: str, setup: Setup, call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        with database.session() as session:
            setup(session, org)
            session.commit()
            answer = DeveloperRead.model_validate(call(session, organization_id=org, **kwargs)).model_dump()
    except DomainError as exc:
        return ("error", exc.status_code, exc.code, exc.message, exc.details)
    with database.session() as session:
        dev = session.get_one(Developer, answer["id"])
        stored = DeveloperRead.model_validate(dev).model_dump()
        emails = session.execute(
            select(DeveloperEmail.email, DeveloperEmail.is_primary, DeveloperEmail.developer_id)
            .where(DeveloperEmail.organization_id == org)
            .order_by(DeveloperEmail.email)
        ).all()
        events = session.scalars(
            select(Event.payload).where(Event.organization_id == org).order_by(Event.txid, Event.seq)
        ).all()
    assert (answer["id"], answer["created_at"], answer["removed_at"]) == (
        stored["id"],
        stored["created_at"],
        stored["removed_at"],
    )
    assert sorted(answer["aliases"]) == stored["aliases"]  # the answer lists them as given, the store by address
    rows = [(email, primary, developer == answer["id"]) for email, primary, developer in emails]
    data = [_event_data(payload, answer["id"]) for payload in events]
    return {**answer, "id": None, "created_at": None}, rows, data


def _event_data(payload: str, developer_id: str) -> tuple[str, dict[str, Any]]:
    envelope = json.loads(payload)
    data = envelope["data"]
    return envelope["type"], {**data, "developer_id": data["developer_id"] == developer_id}


@pytest.mark.parametrize("case", list(CASES))
def test_add_answers_what_create_answers(client: TestClient, database: Database, case: str) -> None:
    setup, kwargs = CASES[case]
    org_create = make_tenant(database, "create@example.com").organization_id
    org_add = make_tenant(database, "add@example.com").organization_id
    by_create = _outcome(database, org_create, setup, service.create, kwargs)
    by_add = _outcome(database, org_add, setup, service.add, kwargs)
    assert by_add == by_create
    if case in ("primary taken", "alias taken", "removed one's alias", "invalid"):
        assert by_add[0] == "error"
    else:
        assert by_add[0] != "error" and by_add[1], case  # a developer was written, with its addresses
