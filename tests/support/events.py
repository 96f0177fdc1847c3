"""Events emitted straight into a runtime's outbox, as a booking would emit them."""

from __future__ import annotations

from integration_core.events import RequestEvent
from integration_core.runtime import Runtime


def emit_request(runtime: Runtime, n: int = 1) -> list[str]:
    """Emit ``n`` request events (requests ``req0``…, appointments ``apt0``…) in one
    transaction; returns their event ids."""
    ids = []
    with runtime.db.transaction() as session:
        for i in range(n):
            event = RequestEvent(practice_id="acme", request_id=f"req{i}", appointment_id=f"apt{i}")
            ids.append(runtime.outbox.emit(session, event))
    return ids
