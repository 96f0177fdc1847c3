"""The sandbox EHR's REST API (``/api/v1``), behind an ``X-API-Key`` header.

What practice-sync calls is here; what the practice's staff do is the staff API
(:mod:`~plugins.ehr_kareo_like.sandbox.staff_api`, ``/staff/...``), and what happened is read
from the change feed (``GET /changes``) or pushed to webhook subscribers, whom a dispatcher
serves while the app runs. See ``docs/sandbox-ehr.md``.

Its directory — providers, locations, visit reasons — is listed by ``GET /providers``,
``/locations`` and ``/visit-reasons``, and an appointment for a provider or a location it does
not list is refused (422, ``unknown_provider`` / ``unknown_location``). Every create honours
``Idempotency-Key`` per endpoint: the same key with the same body returns
the resource created the first time (stored, so it survives restarts); the same key with
another body is a 422. Patient search takes its criteria in a POST body, so no patient data
ends up in a URL or an access log. Like many EHR search endpoints it matches on date of birth
and leaves name comparison to the caller. A tentative appointment practice-sync creates is a
change like any staff decision (``appointment.created``); a replayed create records none.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from integration_core.api import (
    ApiError,
    BoundedDate,
    BoundedDatetime,
    Identifier,
    MultiLine,
    SingleLine,
    install_error_handlers,
    install_http_guards,
)
from plugins.ehr_kareo_like.sandbox import appointments
from plugins.ehr_kareo_like.sandbox.changes import AppointmentSnapshot, feed_router, snapshot
from plugins.ehr_kareo_like.sandbox.idempotency import IdempotencyKey, earlier_resource, remember
from plugins.ehr_kareo_like.sandbox.outbound import WebhookDispatcher, subscriptions_router
from plugins.ehr_kareo_like.sandbox.patients import (
    Name,
    PatientOut,
    patient_out,
    staff_patients_router,
)
from plugins.ehr_kareo_like.sandbox.staff_api import staff_router
from plugins.ehr_kareo_like.sandbox.store import (
    AppointmentType,
    CommunicationSettings,
    OfficeHours,
    PracticeSetting,
    SandboxAppointment,
    SandboxLocation,
    SandboxPatient,
    SandboxProvider,
    SandboxStore,
    VisitReason,
    new_sandbox_id,
    now,
)
from plugins.ehr_kareo_like.sandbox.time_blocks import time_blocks_router

__all__ = ["MAX_BODY_BYTES", "create_sandbox_app"]

MAX_BODY_BYTES = 65_536
"""The largest request body the sandbox takes, on every path: its largest, a group booking of
20 patients, is a few kilobytes. A larger one is a 413 before it is read."""


class PatientSearch(BaseModel):
    first_name: Name
    last_name: Name
    date_of_birth: BoundedDate


class PatientIn(BaseModel):
    first_name: Name
    last_name: Name
    date_of_birth: BoundedDate
    sex: Annotated[str, SingleLine(max_length=16)]
    email: Annotated[str, SingleLine(max_length=254)]
    phone: Annotated[str, SingleLine(max_length=20)]


class PatientList(BaseModel):
    patients: list[PatientOut]


InsuranceId = Annotated[str, SingleLine(max_length=64)]


class AppointmentIn(BaseModel):
    patient_id: Identifier
    provider_id: Identifier
    location_id: Identifier
    start: BoundedDatetime
    duration_minutes: int = Field(ge=5, le=480)
    appointment_type: AppointmentType
    patient_note: Annotated[str, MultiLine(max_length=4000, strip=False)] = ""
    """Kept as practice-sync sent it: the patient's reason and notes, for staff to read."""
    insurance_carrier: Annotated[str, SingleLine(max_length=120)] | None = None
    insurance_member_id: InsuranceId | None = None
    insurance_group: InsuranceId | None = None
    requested_reason: Annotated[str, SingleLine(max_length=100)] | None = None
    """The visit reason the patient chose on the booking platform (its id there)."""


class AppointmentOut(AppointmentSnapshot):
    """The appointment as a change shows it, with its version and (for a single-patient
    appointment) its patient."""

    patient_id: str | None
    """``None`` for a group: its patients are in ``patients``."""
    version: int


class VisitReasonOut(BaseModel):
    id: int
    name: str
    duration_minutes: int | None
    """``None``: no default length (staff set it per appointment)."""
    color: str


class VisitReasonList(BaseModel):
    visit_reasons: list[VisitReasonOut]


class ProviderOut(BaseModel):
    id: str
    name: str
    patient_communications_enabled: bool


class ProviderList(BaseModel):
    providers: list[ProviderOut]


class LocationOut(BaseModel):
    id: str
    name: str


class LocationList(BaseModel):
    locations: list[LocationOut]


class OfficeHoursOut(BaseModel):
    weekday: int
    start: str
    end: str


class CommunicationsOut(BaseModel):
    provider_id: str
    enabled: bool
    reminder_offsets_minutes: list[int]
    channels: list[str]


class PracticeSettingsOut(BaseModel):
    surveys_enabled: bool
    online_scheduler_enabled: bool
    provider_profiles_published: bool
    online_presence_enabled: bool
    intake_forms_enabled: bool


def _appointment_out(row: SandboxAppointment) -> AppointmentOut:
    return AppointmentOut(
        **snapshot(row).model_dump(), patient_id=row.patient_id, version=row.version
    )


def create_sandbox_app(
    store: SandboxStore, api_key: str, *, dispatcher: WebhookDispatcher | None = None
) -> FastAPI:
    """The sandbox EHR as an ASGI app (run standalone, or mounted in-process); ``dispatcher``
    sends its webhooks while it serves (default: one with the standard backoff)."""

    def authorised(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), api_key.encode()):
            raise ApiError(401, "unauthorized", "A valid X-API-Key is required.")

    router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorised)])

    @router.post("/patients/search", response_model=PatientList)
    def search_patients(query: PatientSearch) -> PatientList:
        with store.read() as session:
            rows = session.scalars(
                select(SandboxPatient).where(
                    SandboxPatient.date_of_birth == query.date_of_birth, SandboxPatient.active
                )
            ).all()
        return PatientList(patients=[patient_out(row) for row in rows])

    @router.post("/patients", response_model=PatientOut, status_code=201)
    def create_patient(body: PatientIn, key: IdempotencyKey = None) -> PatientOut | JSONResponse:
        with store.transaction() as session:
            earlier = earlier_resource(session, "patients", key, body)
            if earlier is not None:
                row = session.get_one(SandboxPatient, earlier)
                return JSONResponse(patient_out(row).model_dump(mode="json"))
            row = SandboxPatient(
                id=new_sandbox_id("PAT"),
                created_at=now(),
                mobile_phone=body.phone,
                email_allowed=True,
                sms_allowed=False,
                **body.model_dump(),
            )
            session.add(row)
            remember(session, "patients", key, body, row.id)
        return patient_out(row)

    @router.get("/patients/{patient_id}", response_model=PatientOut)
    def read_patient(patient_id: Identifier) -> PatientOut:
        with store.read() as session:
            row = session.get(SandboxPatient, patient_id)
        if row is None:
            raise ApiError(404, "not_found", "No such patient.")
        return patient_out(row)

    @router.post("/appointments", response_model=AppointmentOut, status_code=201)
    def create_appointment(
        body: AppointmentIn, key: IdempotencyKey = None
    ) -> AppointmentOut | JSONResponse:
        """A tentative appointment: the patient's request, for staff to decide on."""
        with store.transaction() as session:
            earlier = earlier_resource(session, "appointments", key, body)
            if earlier is not None:
                row = session.get_one(SandboxAppointment, earlier)
                return JSONResponse(_appointment_out(row).model_dump(mode="json"))
            visit = appointments.NewVisit(
                patient_ids=[body.patient_id],
                provider_id=body.provider_id,
                location_id=body.location_id,
                start=body.start,
                duration_minutes=body.duration_minutes,
                appointment_type=body.appointment_type,
                requested_reason=body.requested_reason,
                patient_note=body.patient_note,
                insurance_carrier=body.insurance_carrier,
                insurance_member_id=body.insurance_member_id,
                insurance_group=body.insurance_group,
            )
            row = appointments.create(session, visit, tentative=True)
            remember(session, "appointments", key, body, row.id)
            return _appointment_out(row)

    @router.get("/appointments/{appointment_id}", response_model=AppointmentOut)
    def read_appointment(appointment_id: Identifier) -> AppointmentOut:
        with store.read() as session:
            row = session.get(SandboxAppointment, appointment_id)
            if row is None:
                raise ApiError(404, "not_found", "No such appointment.")
            return _appointment_out(row)

    @router.get("/visit-reasons", response_model=VisitReasonList)
    def visit_reasons() -> VisitReasonList:
        with store.read() as session:
            rows = session.scalars(select(VisitReason).order_by(VisitReason.id)).all()
        return VisitReasonList(
            visit_reasons=[
                VisitReasonOut(
                    id=r.id, name=r.name, duration_minutes=r.duration_minutes, color=r.color
                )
                for r in rows
            ]
        )

    @router.get("/providers", response_model=ProviderList)
    def providers() -> ProviderList:
        with store.read() as session:
            rows = session.scalars(select(SandboxProvider).order_by(SandboxProvider.id)).all()
            switches = {
                row.provider_id: row.enabled
                for row in session.scalars(select(CommunicationSettings))
            }
        return ProviderList(
            providers=[
                ProviderOut(
                    id=row.id,
                    name=row.name,
                    patient_communications_enabled=switches.get(row.id, True),
                )
                for row in rows
            ]
        )

    @router.get("/locations", response_model=LocationList)
    def locations() -> LocationList:
        with store.read() as session:
            rows = session.scalars(select(SandboxLocation).order_by(SandboxLocation.id)).all()
        return LocationList(locations=[LocationOut(id=row.id, name=row.name) for row in rows])

    @router.get("/providers/{provider_id}/office-hours", response_model=list[OfficeHoursOut])
    def office_hours(provider_id: Identifier) -> list[OfficeHoursOut]:
        with store.read() as session:
            rows = session.scalars(
                select(OfficeHours)
                .where(OfficeHours.provider_id == provider_id)
                .order_by(OfficeHours.weekday)
            ).all()
        return [OfficeHoursOut(weekday=r.weekday, start=r.start, end=r.end) for r in rows]

    @router.get("/providers/{provider_id}/patient-communications", response_model=CommunicationsOut)
    def communications(provider_id: Identifier) -> CommunicationsOut:
        with store.read() as session:
            known = session.get(SandboxProvider, provider_id) is not None
            row = session.get(CommunicationSettings, provider_id)
        if not known:
            raise ApiError(404, "not_found", "No such provider.")
        if row is None:  # the EHR's default cadence
            return CommunicationsOut(
                provider_id=provider_id,
                enabled=True,
                reminder_offsets_minutes=[4320, 1440, 120],
                channels=["email", "sms"],
            )
        return CommunicationsOut(
            provider_id=provider_id,
            enabled=row.enabled,
            reminder_offsets_minutes=list(row.reminders.get("offsets_minutes", [])),
            channels=list(row.reminders.get("channels", [])),
        )

    @router.get("/practice-settings", response_model=PracticeSettingsOut)
    def practice_settings() -> PracticeSettingsOut:
        with store.read() as session:
            row = session.get(PracticeSetting, 1)
        assert row is not None
        return PracticeSettingsOut(
            surveys_enabled=row.surveys_enabled,
            online_scheduler_enabled=row.online_scheduler_enabled,
            provider_profiles_published=row.provider_profiles_published,
            online_presence_enabled=row.online_presence_enabled,
            intake_forms_enabled=row.intake_forms_enabled,
        )

    router.include_router(staff_router(store))
    router.include_router(staff_patients_router(store))
    router.include_router(time_blocks_router(store))
    router.include_router(feed_router(store))
    router.include_router(subscriptions_router(store))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        """Webhooks are sent while the app serves (not when its routes are called in
        process without it starting, as tests may)."""
        webhooks = dispatcher if dispatcher is not None else WebhookDispatcher(store)
        webhooks.start()
        try:
            yield
        finally:
            await asyncio.to_thread(webhooks.stop)

    app = FastAPI(title="Kareo-like sandbox EHR", version="1", lifespan=lifespan)
    install_error_handlers(app)
    # No route of the sandbox is public: one limit for every path.
    install_http_guards(app, max_body_bytes=MAX_BODY_BYTES, max_public_body_bytes=MAX_BODY_BYTES)
    app.include_router(router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
