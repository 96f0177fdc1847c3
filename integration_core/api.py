"""Everything a plugin may use, in one module: ``from integration_core.api import …``.

What is here is the promise; every other module of ``integration_core`` is internal and may
change between releases. The built-in plugins import from nowhere else, which proves it is
enough (a test holds them to it). See ``docs/plugins.md`` for what each group is for.

Shared records. Plugins may *read* the core's ``appointments`` (:class:`Appointment`) and
``appointment_requests`` (:class:`AppointmentRequest`, which owns patient data) tables with
their own queries, and *change* them only through the services below
(:func:`submit_request`, :func:`set_sync_state`). Id links are read and written with
:func:`link`, :func:`external_id` and :func:`local_id`; the audit trail with
:func:`record_audit`. The engine's own tables (events, deliveries, timers, audit, id links,
idempotency keys) are not part of the surface: reach them only through these functions.
Availability-style reads of busy time use :func:`busy_time_query`, one statement for any
number of providers.

A plugin's own tables derive from :class:`Base` (one metadata, one migration history) and may
use :class:`UTCDateTime`, :func:`enum_column` and :func:`new_id`.
"""

from __future__ import annotations

from integration_core import hookimpl
from integration_core.audit import record as record_audit
from integration_core.booking import (
    BookingForm,
    SlotUnavailable,
    Submitted,
    busy_time_query,
    set_sync_state,
    submit_request,
)
from integration_core.channels import Channel, ChannelFactory, Message
from integration_core.checks import EHRFacts, GoLiveCheck
from integration_core.clock import Clock
from integration_core.context import HookContext, idempotency_key
from integration_core.ehr.adapters import AdapterFactory
from integration_core.ehr.change_tables import Attendee, EHRAppointmentState
from integration_core.ehr.matching import Match, same_name
from integration_core.ehr.matching import decide as decide_match
from integration_core.ehr.protocol import (
    AppointmentState,
    ChangeKind,
    ChangePage,
    EHRAdapter,
    EHRAppointment,
    EHRAttendee,
    EHRChange,
    EHRLocation,
    EHRPatient,
    EHRPatientContact,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
    NewAppointment,
    NewPatient,
    PatientQuery,
    WebhookChanges,
)
from integration_core.engine import Engine, EventSink
from integration_core.errors import (
    ConfigError,
    DeliveryError,
    ExternalRejected,
    ExternalTimeout,
    ExternalUnavailable,
    InvalidCursor,
    InvalidWebhook,
    MissingRecord,
    NotFound,
    PermanentError,
    PracticeSyncError,
    RateLimited,
    TransientError,
    error_code,
)
from integration_core.events import (
    AppointmentSyncedEvent,
    CancelEvent,
    CheckinEvent,
    CheckoutEvent,
    ConfirmEvent,
    DeclineEvent,
    DeliveryDeadEvent,
    EHRChangeUnmappedEvent,
    LifecycleEvent,
    RequestEvent,
    RequestSyncedEvent,
    RequestSyncFailedEvent,
    RescheduleEvent,
    TimerEvent,
)
from integration_core.http.app import install_http_guards
from integration_core.http.errors import ApiError, ErrorBody, ErrorDetail, install_error_handlers
from integration_core.http.fields import (
    FIRST_DAY,
    LAST_DAY,
    BoundedDate,
    BoundedDatetime,
    Identifier,
    MultiLine,
    PageCursor,
    SingleLine,
)
from integration_core.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from integration_core.http.idempotency import body_hash
from integration_core.http.idempotency import remember as remember_idempotent
from integration_core.http.idempotency import replay as replay_idempotent
from integration_core.http.inprocess import InProcessTransport
from integration_core.http.pagination import decode_cursor, encode_cursor, keyset_after, next_cursor
from integration_core.http.security import (
    Staff,
    StaffPrincipal,
    get_engine,
    public_rate_limit,
)
from integration_core.http.serving import serve_until_stopped
from integration_core.http.webhooks import (
    SignedMessage,
    accept_once,
    public_url,
    standard_webhook,
    verify_standard_webhook,
)
from integration_core.links import EHR_SYSTEM, LinkConflict, external_id, link, local_id
from integration_core.logs import configure_logging
from integration_core.patients import PatientContact
from integration_core.records import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Origin,
    SyncState,
)
from integration_core.registries import Registry, RouteRegistry, TableRegistry
from integration_core.reviews import PublishedReview, ReviewToRoute
from integration_core.settings import (
    ConfigSection,
    LocationSettings,
    LoggingSettings,
    PracticeSettings,
    ProviderSettings,
    Settings,
    built_once,
    plugin_config,
    unknown_practices,
)
from integration_core.startup import Registries
from integration_core.store import Base, Database, new_id
from integration_core.store.sql import epoch_seconds
from integration_core.store.tables import UTCDateTime, enum_column

__all__ = [
    "ACTIVE_STATUSES",
    "EHR_SYSTEM",
    "FIRST_DAY",
    "IDEMPOTENCY_HEADER",
    "LAST_DAY",
    "AdapterFactory",
    "ApiError",
    "Appointment",
    "AppointmentRequest",
    "AppointmentState",
    "AppointmentStatus",
    "AppointmentSyncedEvent",
    "Attendee",
    "Base",
    "BookingForm",
    "BoundedDate",
    "BoundedDatetime",
    "CancelEvent",
    "ChangeKind",
    "ChangePage",
    "Channel",
    "ChannelFactory",
    "CheckinEvent",
    "CheckoutEvent",
    "Clock",
    "ConfigError",
    "ConfigSection",
    "ConfirmEvent",
    "Database",
    "DeclineEvent",
    "DeliveryDeadEvent",
    "DeliveryError",
    "EHRAdapter",
    "EHRAppointment",
    "EHRAppointmentState",
    "EHRAttendee",
    "EHRChange",
    "EHRChangeUnmappedEvent",
    "EHRFacts",
    "EHRLocation",
    "EHRPatient",
    "EHRPatientContact",
    "EHRPracticeSettings",
    "EHRProvider",
    "EHRVisitReason",
    "Engine",
    "ErrorBody",
    "ErrorDetail",
    "EventSink",
    "ExternalRejected",
    "ExternalTimeout",
    "ExternalUnavailable",
    "GoLiveCheck",
    "HookContext",
    "Identifier",
    "InProcessTransport",
    "InvalidCursor",
    "InvalidWebhook",
    "LifecycleEvent",
    "LinkConflict",
    "LocationSettings",
    "LoggingSettings",
    "Match",
    "Message",
    "MissingRecord",
    "MultiLine",
    "NewAppointment",
    "NewPatient",
    "NotFound",
    "Origin",
    "PageCursor",
    "PatientContact",
    "PatientQuery",
    "PermanentError",
    "PracticeSettings",
    "PracticeSyncError",
    "ProviderSettings",
    "PublishedReview",
    "RateLimited",
    "Registries",
    "Registry",
    "RequestEvent",
    "RequestSyncFailedEvent",
    "RequestSyncedEvent",
    "RescheduleEvent",
    "ReviewToRoute",
    "RouteRegistry",
    "Settings",
    "SignedMessage",
    "SingleLine",
    "SlotUnavailable",
    "Staff",
    "StaffPrincipal",
    "Submitted",
    "SyncState",
    "TableRegistry",
    "TimerEvent",
    "TransientError",
    "UTCDateTime",
    "WebhookChanges",
    "accept_once",
    "body_hash",
    "built_once",
    "busy_time_query",
    "configure_logging",
    "decide_match",
    "decode_cursor",
    "encode_cursor",
    "enum_column",
    "epoch_seconds",
    "error_code",
    "external_id",
    "get_engine",
    "hookimpl",
    "idempotency_key",
    "install_error_handlers",
    "install_http_guards",
    "keyset_after",
    "link",
    "local_id",
    "new_id",
    "next_cursor",
    "plugin_config",
    "public_rate_limit",
    "public_url",
    "record_audit",
    "remember_idempotent",
    "replay_idempotent",
    "same_name",
    "serve_until_stopped",
    "set_sync_state",
    "standard_webhook",
    "submit_request",
    "unknown_practices",
    "verify_standard_webhook",
]
