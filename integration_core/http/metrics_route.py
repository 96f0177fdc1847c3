"""``GET /metrics``: the Prometheus scrape, for whoever holds the deployment's metrics token.

The counts are no patient data, but they are a practice's business (bookings per hour), and
this app also faces patients: without ``metrics.token`` the route answers 403 and says how to
turn it on. Prometheus sends the token with ``authorization: {credentials: …}``.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from integration_core.http.errors import ApiError
from integration_core.http.security import get_runtime
from integration_core.metrics import CONTENT_TYPE, DatabaseState, exposition

__all__ = ["router"]

router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text"}},
)
def metrics(request: Request) -> Response:
    """Every process's counters, and the database's state read now (docs/operations.md)."""
    runtime = get_runtime(request)
    token = runtime.settings.metrics.token
    if token is None:
        raise ApiError(
            403,
            "metrics_disabled",
            "Set metrics.token (PRACTICE_SYNC_METRICS__TOKEN) to scrape /metrics.",
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.get_secret_value().encode(), presented.encode()
    ):
        raise ApiError(
            401,
            "unauthorized",
            "The metrics token is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    state = DatabaseState(runtime.db, runtime.clock, runtime.settings.practices)
    return Response(exposition(state), media_type=CONTENT_TYPE)
