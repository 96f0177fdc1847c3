"""The exception tree that decides what happens to a failed delivery.

::

    PracticeSyncError
    ├── ConfigError                 bad or missing configuration (names the key path)
    ├── NotReady                    what a process needs cannot be reached: it must not start
    ├── NotFound                    a record the caller asked for does not exist
    ├── InvalidWebhook              an inbound webhook did not verify or parse: refuse it
    └── DeliveryError               raised by hook implementations
        ├── TransientError          retried with backoff until the retry limit
        │   ├── ExternalUnavailable the other system is down or answered 5xx
        │   ├── ExternalTimeout     no answer in time (the write may have happened)
        │   └── RateLimited         the other system asked us to slow down
        └── PermanentError          dead-lettered at once: retrying cannot help
            ├── ExternalRejected    the other system refused the data (4xx)
            │   └── InvalidCursor   the EHR does not know the change-feed cursor it was given
            └── MissingRecord       a record the event names is gone

Any other exception escaping a hook is treated as transient (a bug fixed and redeployed
should not lose work); it still dead-letters after the retry limit. Every error carries a
stable ``code`` (snake_case, bounded set) and a message that must never contain PHI: both
are stored on the delivery row and shown to staff.
"""

from __future__ import annotations

import re

__all__ = [
    "ConfigError",
    "DeliveryError",
    "ExternalRejected",
    "ExternalTimeout",
    "ExternalUnavailable",
    "InvalidCursor",
    "InvalidWebhook",
    "MissingRecord",
    "NotFound",
    "NotReady",
    "PermanentError",
    "PracticeSyncError",
    "RateLimited",
    "TransientError",
    "describe_failure",
    "error_code",
]


class PracticeSyncError(Exception):
    """Base of every error this framework raises on purpose."""

    code = "error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigError(PracticeSyncError):
    """Configuration that cannot be used; the message names the full key path."""

    code = "config_invalid"


class NotReady(PracticeSyncError):
    """The database, the broker or an EHR cannot be reached, or the schema is behind; each
    line of the message names what to fix."""

    code = "not_ready"


class NotFound(PracticeSyncError):
    code = "not_found"


class InvalidWebhook(PracticeSyncError):
    """A webhook whose signature, timestamp or body is not what its sender would send."""

    code = "webhook_invalid"


class DeliveryError(PracticeSyncError):
    """Raised by a hook implementation to say how its failure should be handled."""

    code = "delivery_failed"


class TransientError(DeliveryError):
    code = "transient"


class ExternalUnavailable(TransientError):
    code = "external_unavailable"


class ExternalTimeout(TransientError):
    code = "external_timeout"


class RateLimited(TransientError):
    code = "rate_limited"


class PermanentError(DeliveryError):
    code = "permanent"


class ExternalRejected(PermanentError):
    code = "external_rejected"


class InvalidCursor(ExternalRejected):
    """The EHR does not know the change-feed cursor it was given: its feed was reset, or the
    practice now reads another EHR (a sandbox's cursor sent to the real one). Its own type, not
    a plain refusal, because the feed poller then reads the feed again from its start instead
    of failing the same way every interval."""

    code = "ehr_cursor_invalid"


class MissingRecord(PermanentError):
    code = "missing_record"


_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""What a code looks like: it becomes a metric label and a dead letter's column, shown to
operators, so a code that could carry anything else — patient data above all — is not used."""


def error_code(exc: BaseException) -> str:
    """The stable code stored for ``exc``: its own for ours (its class's when the one it was
    given is not snake_case of at most 64 characters), ``unexpected_error`` otherwise."""
    if not isinstance(exc, PracticeSyncError):
        return "unexpected_error"
    for code in (exc.code, type(exc).code):
        if _CODE.fullmatch(code):
            return code
    return PracticeSyncError.code


def describe_failure(exc: BaseException) -> str:
    """One PHI-free line for an operator: our errors' own message, a database failure by its
    kind (a driver's message may quote SQL or parameters), anything else by its type."""
    if isinstance(exc, PracticeSyncError):
        return f"{exc} ({error_code(exc)})"
    kind = type(exc).__name__
    if type(exc).__module__.startswith("sqlalchemy"):
        return f"the database could not be used ({kind}): check database_url and the database"
    return f"{kind} ({error_code(exc)})"
