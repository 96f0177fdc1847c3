"""Lifecycle events: typed, versioned payloads that carry ids, never PHI.

An event's ``kind`` names its hook (``request`` → ``on_request``). Payloads are deliberately
thin: a hook implementation reads the records it needs (requests, appointments, patients)
through the core's services, so patient data stays in the tables that own it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AppointmentSyncedEvent",
    "CancelEvent",
    "CheckinEvent",
    "CheckoutEvent",
    "ConfirmEvent",
    "DeclineEvent",
    "DeliveryDeadEvent",
    "EHRChangeUnmappedEvent",
    "LifecycleEvent",
    "RequestEvent",
    "RequestSyncFailedEvent",
    "RequestSyncedEvent",
    "RescheduleEvent",
    "TimerEvent",
    "event_type",
    "event_types",
]

_REGISTRY: dict[str, type[LifecycleEvent]] = {}


class LifecycleEvent(BaseModel):
    """Base of every event; subclasses set ``kind`` and bump ``version`` on breaking change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str] = ""
    version: ClassVar[int] = 1

    practice_id: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _REGISTRY[cls.kind] = cls

    @classmethod
    def hook_name(cls) -> str:
        return f"on_{cls.kind}"


def event_type(kind: str) -> type[LifecycleEvent]:
    """The model class for a stored event's ``kind``."""
    return _REGISTRY[kind]


def event_types() -> dict[str, type[LifecycleEvent]]:
    return dict(_REGISTRY)


class RequestEvent(LifecycleEvent):
    """A patient submitted a booking request; its appointment is ``requested``."""

    kind = "request"
    request_id: str
    appointment_id: str


class RequestSyncedEvent(LifecycleEvent):
    """The request is a tentative appointment in the EHR."""

    kind = "request_synced"
    request_id: str
    appointment_id: str
    match: str
    """``new`` (no EHR match), ``attached`` (exactly one) or ``ambiguous`` (several → new)."""


class RequestSyncFailedEvent(LifecycleEvent):
    """The request could not be written to the EHR; staff must act."""

    kind = "request_sync_failed"
    request_id: str
    appointment_id: str
    reason_code: str
    delivery_id: str | None = None
    """The EHR sync's dead delivery, which ``practice-sync dead-letters replay`` retries once
    the cause is fixed; ``None`` in events stored before it was carried."""


class ConfirmEvent(LifecycleEvent):
    """Staff confirmed a tentative appointment in the EHR: it is booked."""

    kind = "confirm"
    appointment_id: str


class DeclineEvent(LifecycleEvent):
    """Staff declined a tentative appointment: it is cancelled and the patient told."""

    kind = "decline"
    appointment_id: str


class CancelEvent(LifecycleEvent):
    """A booked appointment was cancelled."""

    kind = "cancel"
    appointment_id: str


class RescheduleEvent(LifecycleEvent):
    """An appointment moved; ``previous_start`` is ISO 8601 UTC."""

    kind = "reschedule"
    appointment_id: str
    previous_start: str


class CheckinEvent(LifecycleEvent):
    """The patient was checked in; for a group, the attendee who was."""

    kind = "checkin"
    appointment_id: str
    attendee: str | None = None
    """The attendee's EHR patient id when the appointment is a group's; ``None`` otherwise."""


class CheckoutEvent(LifecycleEvent):
    """The visit is over; the feedback workflow starts from here."""

    kind = "checkout"
    appointment_id: str
    attendee: str | None = None
    """The attendee's EHR patient id when the appointment is a group's; ``None`` otherwise."""


class AppointmentSyncedEvent(LifecycleEvent):
    """An appointment created or changed in the EHR (any origin) was mirrored locally."""

    kind = "appointment_synced"
    appointment_id: str


class EHRChangeUnmappedEvent(LifecycleEvent):
    """The EHR announced a change for a provider or location the configuration does not know:
    it was recorded, not applied, and staff must map it (or ignore it)."""

    kind = "ehr_change_unmapped"
    change_id: str
    ehr_appointment_id: str
    reason_code: str
    """``unknown_provider`` or ``unknown_location``."""
    ehr_id: str
    """The provider's or location's id in the EHR that is not configured."""


class DeliveryDeadEvent(LifecycleEvent):
    """A delivery exhausted its retries or failed permanently."""

    kind = "delivery_dead"
    event_id: str
    event_kind: str
    plugin: str
    reason_code: str


class TimerEvent(LifecycleEvent):
    """A durable timer came due; delivered only to the plugin that set it."""

    kind = "timer"
    timer_id: str
    timer_kind: str
    key: str
    payload: dict[str, str]
