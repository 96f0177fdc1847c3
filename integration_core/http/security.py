"""Who may call what: staff bearer tokens, webhook signatures, public rate limits.

* Staff routes take ``Authorization: Bearer <token>``; each practice has *named* tokens (two
  can be valid at once while one is rotated out). The principal carries the token's name for
  the audit trail, never the token.
* Webhooks are verified with Standard Webhooks signatures over the raw body, before anything
  parses it.
* Public routes are limited per client and per practice with the ``limits`` library (memory
  or Redis storage); an exhausted limit answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from limits import parse_many, storage
from limits.strategies import SlidingWindowCounterRateLimiter
from standardwebhooks import Webhook

from integration_core.http.errors import ApiError
from integration_core.settings import RateLimitSettings

if TYPE_CHECKING:
    from integration_core.engine import Engine
    from integration_core.runtime import Runtime

__all__ = [
    "PublicRateLimiter",
    "Staff",
    "StaffPrincipal",
    "get_engine",
    "get_runtime",
    "public_rate_limit",
    "staff_principal",
    "verified_webhook_body",
]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_engine(request: Request) -> Engine:
    """The engine serving ``request``: settings, clock, database, outbox (for plugin routes)."""
    return get_runtime(request)


@dataclass(frozen=True)
class StaffPrincipal:
    practice_id: str
    token_name: str


def staff_principal(practice: str, request: Request) -> StaffPrincipal:
    """Dependency for ``/v1/practices/{practice}/…`` staff routes."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    unauthorized = ApiError(
        401,
        "unauthorized",
        "A valid staff token for this practice is required.",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if scheme.lower() != "bearer" or not presented:
        raise unauthorized
    settings = get_runtime(request).settings
    config = settings.practices.get(practice)
    if config is None:
        raise unauthorized
    matched = None
    for name, secret in config.staff_tokens.items():
        # Compare against every token so timing does not reveal which name matched.
        if hmac.compare_digest(secret.get_secret_value().encode(), presented.encode()):
            matched = name
    if matched is None:
        raise unauthorized
    return StaffPrincipal(practice_id=practice, token_name=matched)


Staff = Annotated[StaffPrincipal, Depends(staff_principal)]
"""Route parameter type for staff routes: ``staff: Staff``."""


def verified_webhook_body(
    secret_for: Callable[[Request], str | None],
) -> Callable[[Request], Awaitable[bytes]]:
    """A dependency returning the raw body once its signature checks out (else 401)."""

    async def dependency(request: Request) -> bytes:
        secret = secret_for(request)
        body = await request.body()
        if not secret:
            raise ApiError(401, "webhook_not_configured", "No webhook secret is configured.")
        try:
            Webhook(secret).verify(body, dict(request.headers), json_parse=False)
        except Exception:
            raise ApiError(
                401, "webhook_signature_invalid", "The webhook signature did not verify."
            ) from None
        return body

    return dependency


class PublicRateLimiter:
    """Two sliding windows: one per (practice, client address), one per practice."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.per_client = parse_many(settings.per_client)
        self.per_practice = parse_many(settings.per_practice)
        # A sliding-window counter: O(1) per check and per key, unlike a moving window's log.
        self.limiter = SlidingWindowCounterRateLimiter(
            storage.storage_from_string(settings.storage_url)
        )

    def check(self, practice: str, client: str) -> None:
        checks: list[tuple[Any, tuple[str, ...]]] = [
            (item, ("client", practice, client)) for item in self.per_client
        ]
        checks += [(item, ("practice", practice)) for item in self.per_practice]
        for item, identifiers in checks:
            if not self.limiter.hit(item, *identifiers):
                stats = self.limiter.get_window_stats(item, *identifiers)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise ApiError(
                    429,
                    "rate_limited",
                    "Too many requests; try again shortly.",
                    headers={"Retry-After": str(retry_after)},
                )


def public_rate_limit(practice: str, request: Request) -> None:
    """Dependency for public routes under ``/v1/practices/{practice}/…``."""
    limiter: PublicRateLimiter = request.app.state.rate_limiter
    client = request.client.host if request.client else "unknown"
    limiter.check(practice, client)
