"""The FastAPI app factory: core routes, plugin routers, one error shape.

Around every route, plugins' included: request bodies over ``http.max_body_bytes`` (the
smaller ``http.max_public_body_bytes`` on public routes) are refused with 413 before they are
read (:mod:`integration_core.http.body_limit`), and a 405 names in ``Allow`` every method the
path accepts, whichever router serves each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException

import integration_core
from integration_core.http import ehr_webhooks, metrics_route, operations
from integration_core.http.body_limit import BodyLimit, RouteTable, route_path
from integration_core.http.errors import ErrorBody, error_response, install_error_handlers
from integration_core.http.security import (
    PublicRateLimiter,
    StaffAuthLimiter,
    rate_limit_storage,
)
from integration_core.plugins import call_each
from integration_core.registries import RouteRegistry
from integration_core.store.migrate import applied_revisions, head_revisions

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse

    from integration_core.runtime import Runtime

__all__ = ["create_app", "install_http_guards"]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    schema_at_head: bool
    broker: bool


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 in the error shape, ``Allow`` listing the methods of every route at the path (the
    router's own lists only those of the first route it found there)."""
    assert isinstance(exc, HTTPException)
    allowed = RouteTable(request.app.routes).allowed_methods(route_path(request.scope))
    return error_response(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed here; the Allow header lists what is.",
        headers={**(exc.headers or {}), "Allow": ", ".join(allowed)},
    )


def install_http_guards(app: FastAPI, *, max_body_bytes: int, max_public_body_bytes: int) -> None:
    """Guard ``app`` as practice-sync's own API is guarded, so that any app served beside it
    (the sandbox EHR's) refuses alike: bodies over the limits are a 413 before they are read
    (:class:`~integration_core.http.body_limit.BodyLimit`, public limit for public routes and
    unknown paths), and a 405 lists in ``Allow`` every method its path takes. Call it before
    adding other middleware, so that theirs wraps the 413 too."""
    app.add_exception_handler(405, _method_not_allowed)
    app.add_middleware(
        BodyLimit,
        max_body_bytes=max_body_bytes,
        max_public_body_bytes=max_public_body_bytes,
        routes=lambda: app.routes,
    )


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="practice-sync",
        version=integration_core.__version__,
        responses={"default": {"model": ErrorBody}},
    )
    app.state.runtime = runtime
    limits = runtime.settings.rate_limits
    store = rate_limit_storage(limits)
    app.state.rate_limiter = PublicRateLimiter(limits, store)
    app.state.staff_auth_limiter = StaffAuthLimiter(limits, store)
    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    heads = head_revisions(runtime.pm)

    @app.get("/readyz", response_model=Readiness, tags=["ops"])
    def readyz() -> Readiness | JSONResponse:
        """The database answers with its schema at head, and the broker answers."""
        try:
            schema = applied_revisions(runtime.db) == heads
            database = True
        except Exception:
            database = schema = False
        broker = runtime.dramatiq.ping()
        if not (database and schema and broker):
            return error_response(
                503, "not_ready", f"database={database} schema_at_head={schema} broker={broker}"
            )
        return Readiness(status="ready", database=database, schema_at_head=schema, broker=broker)

    app.include_router(operations.router)
    app.include_router(ehr_webhooks.router)
    app.include_router(metrics_route.router)
    routes = RouteRegistry()
    call_each(runtime.pm, "register_routes", routes=routes, settings=runtime.settings)
    for router in routes.routers:
        app.include_router(router)
    http = runtime.settings.http
    # Added first, so plugins' middleware (the widget's CORS) wraps it and its 413 too.
    install_http_guards(
        app, max_body_bytes=http.max_body_bytes, max_public_body_bytes=http.max_public_body_bytes
    )
    for middleware, options in routes.middleware:
        app.add_middleware(middleware, **options)  # type: ignore[arg-type]
    return app
