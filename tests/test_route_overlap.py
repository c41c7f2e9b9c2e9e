"""No path is matched by two routes of the app (for one method), so the order in which `app.create_app` includes
its routers changes no answer: it puts the busiest first, as FastAPI tries them in order (docs/benchmarks.md,
"Fourth pass"). A new route that shadows, or is shadowed by, another fails here unless listed with its reason."""

from __future__ import annotations

import itertools
import re

from fastapi.routing import iter_route_contexts

from gitproductivity.core.db import Database

#: Overlaps on purpose, the literal route first in the same router (its path is never matched by the other).
INTENDED = {("/settings/webhooks/new", "/settings/webhooks/{webhook_id}")}


def _regex(path_format: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path_format)
    pattern = "".join(
        (".*" if part.endswith(":path}") else "[^/]+") if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{pattern}$")


def _meeting(a: str, b: str) -> str:
    """A path `a` matches with, at each of its parameters, what `b` has there when `b` has a literal segment."""
    theirs = b.split("/")
    return "/".join(
        (theirs[i] if i < len(theirs) and "{" not in theirs[i] else "x1") if "{" in segment else segment
        for i, segment in enumerate(a.split("/"))
    )


def overlaps(routes: list[tuple[str, frozenset[str]]]) -> set[tuple[str, str]]:
    found = set()
    for (a, methods_a), (b, methods_b) in itertools.combinations(routes, 2):
        if not methods_a & methods_b:
            continue
        if a == b or any(
            _regex(x).match(_meeting(x, y)) and _regex(y).match(_meeting(x, y)) for x, y in ((a, b), (b, a))
        ):
            found.add((a, b))
    return found


def test_the_overlap_check_finds_a_shadowed_route() -> None:
    assert overlaps([("/v1/x/{id}", frozenset({"GET"})), ("/v1/x/new", frozenset({"GET"}))]) == {
        ("/v1/x/{id}", "/v1/x/new")
    }
    assert overlaps([("/v1/x/{id}", frozenset({"GET"})), ("/v1/x/new", frozenset({"POST"}))]) == set()
    assert overlaps([("/v1/a/{id}/b", frozenset({"GET"})), ("/v1/a/c/{x}", frozenset({"GET"}))]) == {
        ("/v1/a/{id}/b", "/v1/a/c/{x}")
    }
    assert overlaps([("/v1/x", frozenset({"GET"})), ("/v1/x", frozenset({"GET", "HEAD"}))]) == {("/v1/x", "/v1/x")}
    assert overlaps([("/v1/x/{id}", frozenset({"GET"})), ("/v1/y/{id}", frozenset({"GET"}))]) == set()


def test_no_two_routes_of_the_app_match_one_path(database: Database) -> None:
    from gitproductivity.app import create_app

    app = create_app(run_workers=False)
    routes = [
        (c.path_format, frozenset(c.methods))
        for c in iter_route_contexts(app.router.routes)
        if c.path_format and c.methods
    ]
    assert len(routes) > 100 and ("/v1/events", frozenset({"GET"})) in routes
    assert overlaps(routes) == INTENDED
