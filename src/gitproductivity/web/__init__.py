"""The web UI: server-rendered Jinja2 pages with htmx, signed-cookie sessions and CSRF protection."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from gitproductivity.web.helpers import PAGES, WEB_DIR, install_error_pages
from gitproductivity.web.security import install_sessions


def install(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Mount the pages, the static files, the session middleware and the HTML error pages."""
    install_error_pages(app)
    install_sessions(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    prefixes = set()
    for router in routers:
        app.include_router(router)
        prefixes.add(router.prefix)
    PAGES.update(
        dashboard="/dashboard" in prefixes,
        webhooks="/settings" in prefixes,
        notifications="/notifications" in prefixes,
        members="/members" in prefixes,
    )
