"""EHR appointments the core could not mirror, for staff to map: their provider or location in
the EHR is not in the configuration.

One row per EHR appointment (``ehr_change_unmapped`` tells each change not applied), with ids
and a reason code only. Action Required shows those whose reason still holds under the
running configuration, with the key to set; once the id is configured the appointment is
mirrored at its next change in the EHR, and that change clears the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, delete, or_, select

from integration_core.api import (
    EHR_SYSTEM,
    AppointmentSyncedEvent,
    EHRChangeUnmappedEvent,
    HookContext,
    PracticeSettings,
    external_id,
    hookimpl,
    new_id,
)
from plugins.growth_platform.tables import UnmappedChange

__all__ = [
    "UnmappedChangeItem",
    "item",
    "on_appointment_synced",
    "on_ehr_change_unmapped",
    "still_unmapped",
]

_WHAT = {"unknown_provider": "providers", "unknown_location": "locations"}


class UnmappedChangeItem(BaseModel):
    kind: Literal["ehr_change"] = "ehr_change"
    id: str
    ehr_appointment_id: str
    change_id: str = Field(description="the latest of its changes not applied")
    reason_code: Literal["unknown_provider", "unknown_location"]
    ehr_id: str = Field(description="the EHR's id of the provider or location not configured")
    changes: int = Field(description="how many of the appointment's changes were not applied")
    first_seen_at: datetime
    last_seen_at: datetime
    configure: str = Field(description="the configuration key to set, and to what")
    message: str


@hookimpl
def on_ehr_change_unmapped(event: EHRChangeUnmappedEvent, ctx: HookContext) -> None:
    session = ctx.session
    now = ctx.clock.now()
    row = session.scalars(
        select(UnmappedChange)
        .where(
            UnmappedChange.practice_id == ctx.practice_id,
            UnmappedChange.ehr_appointment_id == event.ehr_appointment_id,
        )
        .with_for_update()
    ).first()
    if row is None:
        row = UnmappedChange(
            id=new_id("unm_"),
            practice_id=ctx.practice_id,
            ehr_appointment_id=event.ehr_appointment_id,
            changes=0,
            first_seen_at=now,
        )
        session.add(row)
    row.change_id = event.change_id
    row.reason_code = event.reason_code
    row.ehr_id = event.ehr_id
    row.changes += 1
    row.last_seen_at = now


@hookimpl
def on_appointment_synced(event: AppointmentSyncedEvent, ctx: HookContext) -> None:
    """A change of the appointment was applied: whatever was not applied before is past."""
    ehr_appointment = external_id(
        ctx.session,
        practice_id=ctx.practice_id,
        entity="appointment",
        local=event.appointment_id,
        system=EHR_SYSTEM,
    )
    if ehr_appointment is not None:
        ctx.session.execute(
            delete(UnmappedChange).where(
                UnmappedChange.practice_id == ctx.practice_id,
                UnmappedChange.ehr_appointment_id == ehr_appointment,
            )
        )


def still_unmapped(practice_id: str, practice: PracticeSettings) -> Select[UnmappedChange]:
    """The practice's rows whose provider or location the configuration still does not know."""
    providers = [provider.ehr_id for provider in practice.providers.values()]
    locations = [place.ehr_id or slug for slug, place in practice.locations.items()]
    return select(UnmappedChange).where(
        UnmappedChange.practice_id == practice_id,
        or_(
            and_(
                UnmappedChange.reason_code == "unknown_provider",
                UnmappedChange.ehr_id.not_in(providers),
            ),
            and_(
                UnmappedChange.reason_code == "unknown_location",
                UnmappedChange.ehr_id.not_in(locations),
            ),
        ),
    )


def item(row: UnmappedChange, practice_id: str) -> UnmappedChangeItem:
    what = _WHAT.get(row.reason_code, "providers")
    one = what.removesuffix("s")
    key = f'practices.{practice_id}.{what}.<{one}>.ehr_id = "{row.ehr_id}"'
    return UnmappedChangeItem.model_validate(
        {
            "id": row.id,
            "ehr_appointment_id": row.ehr_appointment_id,
            "change_id": row.change_id,
            "reason_code": row.reason_code,
            "ehr_id": row.ehr_id,
            "changes": row.changes,
            "first_seen_at": row.first_seen_at,
            "last_seen_at": row.last_seen_at,
            "configure": key,
            "message": (
                f"The EHR's {one} {row.ehr_id} is not configured, so this appointment is not "
                f"shown or blocking the widget's slots. Set {key} for the {one} it is (or add "
                f"the {one}); the appointment is then mirrored at its next change in the EHR."
            ),
        }
    )
