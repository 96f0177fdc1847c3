"""The test kit for plugin and adapter authors (loaded as a pytest plugin).

* Fixtures (:mod:`integration_core.testing.pytest_plugin`): ``ps_database_url``,
  ``ps_clock``, ``ps_runtime_factory`` (a :data:`RuntimeFactory` building a migrated
  :class:`Runtime`), ``ps_recorder``. Tests load only :data:`BUILT_IN_PLUGINS` plus the
  plugins they name.
* :func:`drain` — run every queued delivery now; :class:`QueueDispatcher` keeps them until
  then, instead of a broker.
* :func:`book_end_to_end` — a booking request through the core and the EHR sync, returning
  the local appointment, its EHR id and the match decision (:class:`EndToEndBooking`), or
  raising :class:`SyncDidNotHappen`.
* :class:`HookRecorder` — a plugin that records every lifecycle hook call it receives.
* :class:`EHRAdapterContract` — the conformance suite an EHR adapter's tests subclass, with
  :class:`EHRStaff` — what the EHR's staff do, which its ``ehr_staff`` fixture provides
  (:class:`NewPatientContact` to enter a patient, :class:`SentWebhook` for what the EHR sent).
* :mod:`integration_core.testing.services` — fresh PostgreSQL schemas and Redis prefixes per
  run, skipping (or failing, with ``PRACTICE_SYNC_REQUIRE_SERVICES=1``) when a service is absent.
* :mod:`integration_core.testing.processes` — a free port, and waiting for a started server
  process to answer.
"""

from integration_core.runtime import Runtime
from integration_core.testing.booking import (
    TEST_FORM,
    EndToEndBooking,
    SyncDidNotHappen,
    book_end_to_end,
)
from integration_core.testing.dispatch import QueueDispatcher, drain
from integration_core.testing.ehr_contract import EHRAdapterContract
from integration_core.testing.ehr_staff import EHRStaff, NewPatientContact, SentWebhook
from integration_core.testing.processes import free_port, wait_until, wait_until_ready
from integration_core.testing.pytest_plugin import (
    BUILT_IN_PLUGINS,
    TEST_PRACTICE,
    RuntimeFactory,
    build_settings,
)
from integration_core.testing.recorder import HookCall, HookRecorder

__all__ = [
    "BUILT_IN_PLUGINS",
    "TEST_FORM",
    "TEST_PRACTICE",
    "EHRAdapterContract",
    "EHRStaff",
    "EndToEndBooking",
    "HookCall",
    "HookRecorder",
    "NewPatientContact",
    "QueueDispatcher",
    "Runtime",
    "RuntimeFactory",
    "SentWebhook",
    "SyncDidNotHappen",
    "book_end_to_end",
    "build_settings",
    "drain",
    "free_port",
    "wait_until",
    "wait_until_ready",
]
