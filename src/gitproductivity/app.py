"""The ASGI application: API routers, the web UI, error mapping, and (optionally) the in-process workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

import gitproductivity
from gitproductivity import observability, startup, web, worker
from gitproductivity.analysis import views as analysis_views
from gitproductivity.analysis.api import router as analysis_router
from gitproductivity.core.content import refuse_unstorable_text
from gitproductivity.core.db import get_database
from gitproductivity.core.http import BodySizeLimit, Limits, NoStore, install_error_handlers
from gitproductivity.core.settings import get_settings
from gitproductivity.developers import views as developers_views
from gitproductivity.developers.api import router as developers_router
from gitproductivity.events.api import router as events_router
from gitproductivity.events.api import types_router as event_types_router
from gitproductivity.members import views as members_views
from gitproductivity.members.api import router as members_router
from gitproductivity.metrics import activity_views
from gitproductivity.metrics import views as metrics_views
from gitproductivity.metrics.activity_api import router as activity_router
from gitproductivity.metrics.api import router as metrics_router
from gitproductivity.notifications import views as notifications_views
from gitproductivity.notifications.api import router as notifications_router
from gitproductivity.orgs.api import keys_router, me_router
from gitproductivity.orgs.api import router as orgs_router
from gitproductivity.profiles import views as profiles_views
from gitproductivity.repositories import views as repositories_views
from gitproductivity.repositories.api import router as repositories_router
from gitproductivity.teams import views as teams_views
from gitproductivity.teams.api import router as teams_router
from gitproductivity.web import views as web_views
from gitproductivity.webhooks import cert_views, routing_views
from gitproductivity.webhooks import views as webhooks_views
from gitproductivity.webhooks.api import deliveries_router
from gitproductivity.webhooks.api import router as webhooks_router
from gitproductivity.webhooks.openapi import document_webhooks

log = logging.getLogger(__name__)

DESCRIPTION = """\
GitProductivity turns git history into per-developer metrics and tells your systems what happened through
signed, retried webhooks. Authenticate with an API key: `Authorization: Bearer gpk_…`.
Every error has the body `{"error": {"code", "message", "details"}}`.
"""


def create_app(*, run_workers: bool | None = None) -> FastAPI:
    startup.install()
    settings = get_settings()
    if run_workers is None:
        run_workers = settings.run_workers_in_server

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop)) if run_workers else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)

    app = FastAPI(
        title="GitProductivity",
        version=gitproductivity.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_text)],  # NUL / lone surrogates: 422 in words, never a 500
    )
    install_error_handlers(app)
    app.state.limits = Limits.from_settings(settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(NoStore)  # Cache-Control: no-store on every response but /static files
    # FastAPI tries the included routers in this order, route by route: the busiest first (docs/benchmarks.md,
    # "Fourth pass"). No path is matched by two routes (tests/test_route_overlap.py), so the order changes no answer.
    for router in (
        events_router,
        developers_router,
        orgs_router,
        keys_router,
        me_router,
        members_router,
        teams_router,
        repositories_router,
        event_types_router,
        webhooks_router,
        deliveries_router,
        notifications_router,
        analysis_router,
        metrics_router,
        activity_router,
    ):
        app.include_router(router)
    document_webhooks(app)
    observability.install(app, settings)  # /metrics and the request counter (outermost middleware)

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """Liveness and readiness: 200 when the database answers, 503 when it does not."""
        try:
            get_database().ping()  # takes no lock: never waits behind a writer
        except Exception as exc:
            log.warning("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    # The web UI (signed-cookie sessions; the cookie never authenticates /v1, which keeps requiring API keys).
    web.install(
        app,
        routers=(
            web_views.router,
            developers_views.router,
            profiles_views.router,
            teams_views.router,
            analysis_views.router,
            repositories_views.router,
            webhooks_views.router,
            routing_views.router,
            cert_views.router,
            notifications_views.router,
            metrics_views.router,
            activity_views.router,
            members_views.router,
            members_views.invitations_router,
        ),
    )

    return app
