"""Who may call what: staff bearer tokens, public rate limits (webhooks: :mod:`.webhooks`).

* Staff routes take ``Authorization: Bearer <token>``; each practice has *named* tokens (two
  can be valid at once while one is rotated out). The principal carries the token's name for
  the audit trail, never the token.
* Public routes are limited per client and per practice with the ``limits`` library (memory
  or Redis storage); an exhausted limit answers 429 with ``Retry-After``.
* Failed staff authentications are limited per client the same way: past
  ``rate_limits.staff_auth_failures`` every staff request from that client answers 429
  (``too_many_failed_attempts``) until the window allows another try. Each failure and each
  refusal is a WARNING line naming the practice and the client, never the token.

The client is the address the server resolved (``request.client``): uvicorn takes it from
``X-Forwarded-For`` only when the connection comes from one of ``http.forwarded_allow_ips``,
so a client cannot name itself a fresh rate-limit bucket.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many, storage
from limits.strategies import SlidingWindowCounterRateLimiter

from integration_core.http.errors import ApiError
from integration_core.settings import RateLimitSettings

if TYPE_CHECKING:
    from integration_core.engine import Engine
    from integration_core.runtime import Runtime

__all__ = [
    "PublicRateLimiter",
    "Staff",
    "StaffAuthLimiter",
    "StaffPrincipal",
    "client_address",
    "get_engine",
    "get_runtime",
    "public_rate_limit",
    "staff_principal",
]

log = logging.getLogger(__name__)


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


def client_address(request: Request) -> str:
    """The client's address as the server resolved it (through trusted proxies only)."""
    return request.client.host if request.client else "unknown"


def _loggable(client: str) -> object:
    # An address object, not a string: the log scrubber takes a long dotted address for a
    # phone number, and this line is only worth having with the address in it.
    try:
        return ipaddress.ip_address(client)
    except ValueError:
        return client[:64]


def _matched_token(practice: str, presented: str, request: Request) -> str | None:
    config = get_runtime(request).settings.practices.get(practice)
    if config is None or not presented:
        return None
    matched = None
    for name, secret in config.staff_tokens.items():
        # Compare against every token so timing does not reveal which name matched.
        if hmac.compare_digest(secret.get_secret_value().encode(), presented.encode()):
            matched = name
    return matched


def staff_principal(practice: str, request: Request) -> StaffPrincipal:
    """Dependency for ``/v1/practices/{practice}/…`` staff routes."""
    client = client_address(request)
    limiter: StaffAuthLimiter = request.app.state.staff_auth_limiter
    where = {"practice": practice[:64], "client": _loggable(client)}
    try:
        limiter.check(client)
    except ApiError:
        log.warning("staff request refused: too many failed authentications", extra=where)
        raise
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    matched = _matched_token(practice, presented, request) if scheme.lower() == "bearer" else None
    if matched is None:
        limiter.failed(client)
        log.warning("staff authentication failed", extra=where)
        raise ApiError(
            401,
            "unauthorized",
            "A valid staff token for this practice is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return StaffPrincipal(practice_id=practice, token_name=matched)


Staff = Annotated[StaffPrincipal, Depends(staff_principal)]
"""Route parameter type for staff routes: ``staff: Staff``."""


def rate_limit_storage(settings: RateLimitSettings) -> storage.Storage:
    """The counters' storage named by ``rate_limits.storage_url``, for the limiters to share."""
    found = storage.storage_from_string(settings.storage_url)
    if not isinstance(found, storage.Storage):  # an async storage (async+redis://…)
        raise ValueError(f"rate_limits.storage_url: {settings.storage_url} is not a sync storage")
    return found


def _sliding_window(store: storage.Storage) -> SlidingWindowCounterRateLimiter:
    # A sliding-window counter: O(1) per check and per key, unlike a moving window's log.
    return SlidingWindowCounterRateLimiter(store)


def _too_many(
    limiter: SlidingWindowCounterRateLimiter,
    item: RateLimitItem,
    identifiers: tuple[str, ...],
    code: str,
    message: str,
) -> ApiError:
    stats = limiter.get_window_stats(item, *identifiers)
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    return ApiError(429, code, message, headers={"Retry-After": str(retry_after)})


class PublicRateLimiter:
    """Two sliding windows: one per (practice, client address), one per practice."""

    def __init__(self, settings: RateLimitSettings, store: storage.Storage | None = None) -> None:
        self.per_client = parse_many(settings.per_client)
        self.per_practice = parse_many(settings.per_practice)
        self.prefix = settings.key_prefix
        self.limiter = _sliding_window(store or rate_limit_storage(settings))

    def check(self, practice: str, client: str) -> None:
        checks: list[tuple[Any, tuple[str, ...]]] = [
            (item, (self.prefix, "client", practice, client)) for item in self.per_client
        ]
        checks += [(item, (self.prefix, "practice", practice)) for item in self.per_practice]
        for item, identifiers in checks:
            if not self.limiter.hit(item, *identifiers):
                raise _too_many(
                    self.limiter,
                    item,
                    identifiers,
                    "rate_limited",
                    "Too many requests; try again shortly.",
                )


class StaffAuthLimiter:
    """Failed staff authentications per client address, in a sliding window.

    :meth:`check` comes first on every staff request: a client past the limit is refused
    (429) without its token being looked at, so guessing cannot go on at a slower pace
    either. Only :meth:`failed` counts: successful requests never do.
    """

    def __init__(self, settings: RateLimitSettings, store: storage.Storage | None = None) -> None:
        self.items = parse_many(settings.staff_auth_failures)
        self.prefix = settings.key_prefix
        self.limiter = _sliding_window(store or rate_limit_storage(settings))

    def _identifiers(self, client: str) -> tuple[str, ...]:
        return (self.prefix, "staff_auth_failures", client)

    def check(self, client: str) -> None:
        """Raise a 429 :class:`ApiError` (``too_many_failed_attempts``) if ``client`` has no
        failed attempt left in the window."""
        identifiers = self._identifiers(client)
        for item in self.items:
            if not self.limiter.test(item, *identifiers):
                raise _too_many(
                    self.limiter,
                    item,
                    identifiers,
                    "too_many_failed_attempts",
                    "Too many failed staff authentications from this client; try again later.",
                )

    def failed(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        for item in self.items:
            self.limiter.hit(item, *self._identifiers(client))


def public_rate_limit(practice: str, request: Request) -> None:
    """Dependency for public routes under ``/v1/practices/{practice}/…``."""
    limiter: PublicRateLimiter = request.app.state.rate_limiter
    limiter.check(practice, client_address(request))
