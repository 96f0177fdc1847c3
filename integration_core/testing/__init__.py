"""The test kit for plugin and adapter authors (loaded as a pytest plugin).

* :class:`HookRecorder` — a plugin that records every lifecycle hook call it receives.
* :class:`QueueDispatcher` — collects delivery ids instead of using a broker, so a test runs
  deliveries exactly when it says (``drain``).
* :mod:`integration_core.testing.services` — fresh PostgreSQL schemas and Redis prefixes per
  run, skipping (or failing, with ``PRACTICE_SYNC_REQUIRE_SERVICES=1``) when a service is absent.
* :mod:`integration_core.testing.processes` — a free port, and waiting for a started server
  process to answer.
"""

from integration_core.testing.dispatch import QueueDispatcher
from integration_core.testing.ehr_contract import EHRAdapterContract
from integration_core.testing.recorder import HookCall, HookRecorder

__all__ = ["EHRAdapterContract", "HookCall", "HookRecorder", "QueueDispatcher"]
