"""The EHR's states in the core's words, and the lifecycle events between two of them.

An appointment's state follows the highest version the EHR announced, and a change may arrive
after a later one (a check-out before its check-in). So the events are not read off each change
but off the step from the state held here to the newest state: from ``booked`` straight to
``checked_out`` is a check-in then a check-out, each once; the late check-in, being stale,
causes nothing.
"""

from __future__ import annotations

from integration_core.ehr.protocol import AppointmentState
from integration_core.records import AppointmentStatus

__all__ = ["STATUS_OF", "lifecycle_steps"]

STATUS_OF: dict[AppointmentState, AppointmentStatus] = {
    "tentative": AppointmentStatus.TENTATIVE,
    "booked": AppointmentStatus.BOOKED,
    "checked_in": AppointmentStatus.CHECKED_IN,
    "checked_out": AppointmentStatus.CHECKED_OUT,
    "cancelled": AppointmentStatus.CANCELLED,
    "declined": AppointmentStatus.DECLINED,
    "no_show": AppointmentStatus.NO_SHOW,
}
"""The mapping from the protocol's states to the shared record's statuses (policy: the core's)."""

_PATH = (
    AppointmentStatus.TENTATIVE,
    AppointmentStatus.BOOKED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.CHECKED_OUT,
)
_REACHED_BY = {
    AppointmentStatus.BOOKED: "confirm",
    AppointmentStatus.CHECKED_IN: "checkin",
    AppointmentStatus.CHECKED_OUT: "checkout",
}


def lifecycle_steps(old: AppointmentStatus, new: AppointmentStatus) -> list[str]:
    """The lifecycle events (by kind) that lead from ``old`` to ``new``, in order.

    Forward along tentative → booked → checked in → checked out, each step passed is one event;
    a tentative appointment declined is ``decline``; a tentative or booked one cancelled is
    ``cancel``; a no-show passes through ``confirm`` if it was tentative. Going back (a check-in
    undone) or sideways out of an ending causes nothing.
    """
    if old is AppointmentStatus.REQUESTED:
        old = AppointmentStatus.TENTATIVE
    if old == new:
        return []
    if new is AppointmentStatus.DECLINED:
        return ["decline"] if old is AppointmentStatus.TENTATIVE else []
    if new is AppointmentStatus.CANCELLED:
        return ["cancel"] if old in _PATH[:2] else []
    if new is AppointmentStatus.NO_SHOW:
        return ["confirm"] if old is AppointmentStatus.TENTATIVE else []
    if old not in _PATH or new not in _PATH:
        return []
    return [_REACHED_BY[step] for step in _PATH[_PATH.index(old) + 1 : _PATH.index(new) + 1]]
