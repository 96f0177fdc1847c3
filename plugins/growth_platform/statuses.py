"""An appointment's status as the booking platform shows it to staff, in the product's words.

The shared record's statuses are the core's (requested, tentative, booked, …); staff see six:

=================  ================  ==========================================
``status``         label             shared record
=================  ================  ==========================================
pending_request    Pending Request   requested, tentative
booked             Booked            booked
checked_in         Checked in        checked_in
checked_out        Checked out       checked_out
no_show            No-show           no_show
cancelled          Canceled          cancelled, declined
=================  ================  ==========================================

A cancelled appointment says how it ended (``cancellation``): ``declined`` (staff declined
the request in the EHR), ``cancelled_in_ehr``, ``cancelled_here`` (in the booking platform
only: the EHR's appointment stands) or ``released`` (the slot of a request whose EHR sync
failed, freed here).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from integration_core.api import AppointmentStatus

__all__ = ["CORE_STATUSES", "LABELS", "Cancellation", "ShownStatus", "cancellation", "shown"]


class ShownStatus(StrEnum):
    PENDING_REQUEST = "pending_request"
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


LABELS = {
    ShownStatus.PENDING_REQUEST: "Pending Request",
    ShownStatus.BOOKED: "Booked",
    ShownStatus.CHECKED_IN: "Checked in",
    ShownStatus.CHECKED_OUT: "Checked out",
    ShownStatus.NO_SHOW: "No-show",
    ShownStatus.CANCELLED: "Canceled",
}
CORE_STATUSES: dict[ShownStatus, tuple[AppointmentStatus, ...]] = {
    ShownStatus.PENDING_REQUEST: (AppointmentStatus.REQUESTED, AppointmentStatus.TENTATIVE),
    ShownStatus.BOOKED: (AppointmentStatus.BOOKED,),
    ShownStatus.CHECKED_IN: (AppointmentStatus.CHECKED_IN,),
    ShownStatus.CHECKED_OUT: (AppointmentStatus.CHECKED_OUT,),
    ShownStatus.NO_SHOW: (AppointmentStatus.NO_SHOW,),
    ShownStatus.CANCELLED: (AppointmentStatus.CANCELLED, AppointmentStatus.DECLINED),
}
_SHOWN = {core: status for status, cores in CORE_STATUSES.items() for core in cores}

Cancellation = Literal["declined", "cancelled_in_ehr", "cancelled_here", "released"]


def shown(status: AppointmentStatus) -> ShownStatus:
    return _SHOWN[status]


def cancellation(status: AppointmentStatus, cancelled_here: str | None) -> Cancellation | None:
    """How a cancelled appointment ended; ``cancelled_here`` is the booking platform's own
    cancellation of it, if any (``cancelled_here`` or ``released``)."""
    if status is AppointmentStatus.DECLINED:
        return "declined"
    if status is not AppointmentStatus.CANCELLED:
        return None
    if cancelled_here == "released":
        return "released"
    if cancelled_here == "cancelled_here":
        return "cancelled_here"
    return "cancelled_in_ehr"
