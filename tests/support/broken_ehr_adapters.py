"""Deliberately broken EHR adapters, each a ``KareoLikeAdapter`` with one plausible bug that
the contract kit must catch."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from integration_core.api import (
    ChangePage,
    EHRAppointment,
    EHRAttendee,
    EHRChange,
    EHRLocation,
    EHRPatient,
    EHRPatientContact,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
    ExternalRejected,
    ExternalUnavailable,
    InvalidCursor,
    InvalidWebhook,
    MissingRecord,
    NewAppointment,
    PatientQuery,
    PermanentError,
    TransientError,
    same_name,
)
from integration_core.http.webhooks import STANDARD_WEBHOOK_TOLERANCE
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.sandbox.changes import FIRST_CURSOR

__all__ = [
    "CaseSensitiveNames",
    "ContactsCachedByAccount",
    "DirectoryEmptyWhenDown",
    "EchoesTheSearchedSpelling",
    "GroupReadAsOnePatient",
    "IdempotencyKeyNotSent",
    "InventsTheSearchedPatient",
    "KeyPerBody",
    "LocationNameAsId",
    "NotFoundAsRejected",
    "OutageErrorsNameThePatient",
    "OverlapsFullPages",
    "PeeksOneChangeAhead",
    "ProviderAndLocationCrossed",
    "ProviderNameAsId",
    "RefusalsQuoteTheRequest",
    "RefusedCursorAsRejected",
    "ReportsANewAppointmentBooked",
    "SearchBestEffortWhenDown",
    "SearchCacheWithoutBirthDate",
    "SearchCacheWithoutFirstName",
    "SearchCacheWithoutLastName",
    "SettingsDefaultWhenDown",
    "SignatureNotChecked",
    "StaleWebhooksAccepted",
    "StandardSlotLength",
    "StartsOverAfterAnEmptyPage",
    "StartsOverOnARefusedCursor",
    "TelehealthNotSent",
    "TelehealthReadFromVisitReason",
    "UnicodeFormSensitiveNames",
    "UnknownPatientRetried",
    "UnsetDurationAsZero",
    "WallClockSentAsUTC",
    "WhitespaceSensitiveNames",
]


# -- searches ---------------------------------------------------------------------------


class _RemembersSearches(KareoLikeAdapter):
    """Remembers a search's candidates once they include the patient searched for, and
    answers a repeat from memory: harmless under first name + last name + date of birth."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remembered: dict[Hashable, list[EHRPatient]] = {}

    def search_key(self, query: PatientQuery) -> Hashable:
        raise NotImplementedError

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        key = self.search_key(query)
        if key in self.remembered:
            return self.remembered[key]
        found = super().find_patients(query)
        if any(
            same_name(patient.first_name, query.first_name)
            and same_name(patient.last_name, query.last_name)
            and patient.date_of_birth == query.date_of_birth
            for patient in found
        ):
            self.remembered[key] = found
        return found


class SearchCacheWithoutFirstName(_RemembersSearches):
    """Remembers searches by last name and date of birth: a twin created later is never found."""

    def search_key(self, query: PatientQuery) -> Hashable:
        return query.last_name, query.date_of_birth


class SearchCacheWithoutLastName(_RemembersSearches):
    """Remembers searches by first name and date of birth: a namesake with another surname
    created later is never found."""

    def search_key(self, query: PatientQuery) -> Hashable:
        return query.first_name, query.date_of_birth


class SearchCacheWithoutBirthDate(_RemembersSearches):
    """Remembers searches by name alone: a namesake born another day is never found."""

    def search_key(self, query: PatientQuery) -> Hashable:
        return query.first_name, query.last_name


class _KeepsMatchingNames(KareoLikeAdapter):
    """Passes on only the candidates whose names match, to spare the core a long list."""

    def spelling(self, name: str) -> str:
        raise NotImplementedError

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        first, last = self.spelling(query.first_name), self.spelling(query.last_name)
        return [
            patient
            for patient in super().find_patients(query)
            if self.spelling(patient.first_name) == first
            and self.spelling(patient.last_name) == last
        ]


class CaseSensitiveNames(_KeepsMatchingNames):
    """Compares names with their case: "ZOË" is not "Zoë"."""

    def spelling(self, name: str) -> str:
        return " ".join(unicodedata.normalize("NFC", name).split())


class UnicodeFormSensitiveNames(_KeepsMatchingNames):
    """Compares names without normalising them: a decomposed "ë" is not a composed one."""

    def spelling(self, name: str) -> str:
        return " ".join(name.casefold().split())


class WhitespaceSensitiveNames(_KeepsMatchingNames):
    """Trims names but keeps repeated spaces inside them: "Zoë   Ann" is not "Zoë Ann"."""

    def spelling(self, name: str) -> str:
        return unicodedata.normalize("NFC", name).casefold().strip()


class InventsTheSearchedPatient(KareoLikeAdapter):
    """When the EHR knows no one, answers with a provisional patient made from the query, so
    the caller always has someone to attach to."""

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        return super().find_patients(query) or [EHRPatient(id="provisional", **query.model_dump())]


class EchoesTheSearchedSpelling(KareoLikeAdapter):
    """Shows staff the name as it was typed: candidates whose names match are returned with the
    query's spelling instead of the one the EHR holds."""

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        return [
            patient.model_copy(
                update={"first_name": query.first_name, "last_name": query.last_name}
            )
            if same_name(patient.first_name, query.first_name)
            and same_name(patient.last_name, query.last_name)
            else patient
            for patient in super().find_patients(query)
        ]


# -- appointments -----------------------------------------------------------------------


class ReportsANewAppointmentBooked(KareoLikeAdapter):
    """Reports the appointment it just created as booked, as the booking platform calls it,
    although the EHR holds it tentative."""

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment:
        created = super().create_tentative_appointment(appointment, idempotency_key=idempotency_key)
        return created.model_copy(update={"state": "booked"})


class StandardSlotLength(KareoLikeAdapter):
    """Books the EHR's standard 30-minute slot whatever length was asked for."""

    @staticmethod
    def _appointment_payload(appointment: NewAppointment) -> dict[str, Any]:
        return KareoLikeAdapter._appointment_payload(appointment) | {"duration_minutes": 30}


class WallClockSentAsUTC(KareoLikeAdapter):
    """Sends the start's wall-clock time labelled as UTC: the appointment moves by the
    location's offset."""

    @staticmethod
    def _appointment_payload(appointment: NewAppointment) -> dict[str, Any]:
        start = appointment.start.replace(tzinfo=UTC).isoformat()
        return KareoLikeAdapter._appointment_payload(appointment) | {"start": start}


class TelehealthNotSent(KareoLikeAdapter):
    """Leaves the appointment type at the EHR's default, in person."""

    @staticmethod
    def _appointment_payload(appointment: NewAppointment) -> dict[str, Any]:
        return KareoLikeAdapter._appointment_payload(appointment) | {
            "appointment_type": "In Person"
        }


class ProviderAndLocationCrossed(KareoLikeAdapter):
    """Reads the EHR's provider id as the location and the location id as the provider."""

    @staticmethod
    def _appointment(body: dict[str, Any]) -> EHRAppointment:
        crossed = {"provider_id": body["location_id"], "location_id": body["provider_id"]}
        return KareoLikeAdapter._appointment(body | crossed)


class TelehealthReadFromVisitReason(KareoLikeAdapter):
    """Reads back telehealth from the visit reason (the EHR's "Telehealth consult"), which a
    booking from the platform never sets."""

    def read_appointment(self, appointment_id: str) -> EHRAppointment:
        body = self._call("GET", f"/appointments/{appointment_id}")
        return self._appointment(body).model_copy(
            update={"telehealth": body["visit_reason_id"] == 4}  # "Telehealth consult"
        )


class UnknownPatientRetried(KareoLikeAdapter):
    """Looks the patient up first and, not finding them, takes them for one created a moment
    ago that the EHR does not show yet: asks for a retry instead of refusing."""

    def create_tentative_appointment(
        self, appointment: NewAppointment, *, idempotency_key: str
    ) -> EHRAppointment:
        try:
            self._call("GET", f"/patients/{appointment.patient_id}")
        except MissingRecord:
            raise ExternalUnavailable("the EHR does not show the patient yet") from None
        return super().create_tentative_appointment(appointment, idempotency_key=idempotency_key)


# -- the directory ----------------------------------------------------------------------


class ProviderNameAsId(KareoLikeAdapter):
    """Lists each provider under their name, as staff know them, instead of the EHR's id."""

    def list_providers(self) -> list[EHRProvider]:
        return [
            provider.model_copy(update={"id": provider.name})
            for provider in super().list_providers()
        ]


class LocationNameAsId(KareoLikeAdapter):
    """Lists each location under its name instead of the EHR's id."""

    def list_locations(self) -> list[EHRLocation]:
        return [
            location.model_copy(update={"id": location.name})
            for location in super().list_locations()
        ]


class UnsetDurationAsZero(KareoLikeAdapter):
    """Reports a visit reason without a default length as lasting 0 minutes."""

    def list_visit_reasons(self) -> list[EHRVisitReason]:
        return [
            reason.model_copy(update={"duration_minutes": reason.duration_minutes or 0})
            for reason in super().list_visit_reasons()
        ]


class DirectoryEmptyWhenDown(KareoLikeAdapter):
    """Answers an empty directory when the EHR cannot be reached, so a check can go on."""

    def list_providers(self) -> list[EHRProvider]:
        try:
            return super().list_providers()
        except TransientError:
            return []

    def list_locations(self) -> list[EHRLocation]:
        try:
            return super().list_locations()
        except TransientError:
            return []

    def list_visit_reasons(self) -> list[EHRVisitReason]:
        try:
            return super().list_visit_reasons()
        except TransientError:
            return []


# -- changes ---------------------------------------------------------------------------


class PeeksOneChangeAhead(KareoLikeAdapter):
    """Asks the feed for one change more than the limit, to know whether more follow, and
    keeps the limit's worth with the cursor of all it read: a full page loses its last."""

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        page = super().read_changes(cursor, limit=limit + 1)
        return page.model_copy(update={"changes": page.changes[:limit]})


class OverlapsFullPages(KareoLikeAdapter):
    """After a full page, starts the next one at that page's last change, in case the EHR
    wrote another in the same instant: that change comes twice."""

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        page = super().read_changes(cursor, limit=limit)
        if len(page.changes) < limit:
            return page
        before_last = super().read_changes(cursor, limit=limit - 1).cursor if limit > 1 else cursor
        return page.model_copy(update={"cursor": before_last or FIRST_CURSOR})


class StartsOverAfterAnEmptyPage(KareoLikeAdapter):
    """Takes an empty page for a feed that was reset, and answers the cursor of its start:
    reading on reads every change again."""

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        page = super().read_changes(cursor, limit=limit)
        return page if page.changes else page.model_copy(update={"cursor": FIRST_CURSOR})


class RefusedCursorAsRejected(KareoLikeAdapter):
    """Reports a cursor the EHR refused as any other refusal, with the EHR's status and code:
    the poller cannot tell it from a refused request, and fails on it every interval."""

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        try:
            return super().read_changes(cursor, limit=limit)
        except InvalidCursor:
            raise ExternalRejected(
                "the EHR refused the request (422, ehr_rejected)", code="ehr_rejected"
            ) from None


class StartsOverOnARefusedCursor(KareoLikeAdapter):
    """Reads the feed from its start when the EHR refuses the cursor, to recover by itself:
    the core takes the EHR's whole history for news, and tells patients of it again."""

    def read_changes(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        try:
            return super().read_changes(cursor, limit=limit)
        except InvalidCursor:
            return super().read_changes(None, limit=limit)


class GroupReadAsOnePatient(KareoLikeAdapter):
    """Reads every appointment's patients as a single patient's: the first one, in the
    appointment's state."""

    @staticmethod
    def _change(body: dict[str, Any]) -> EHRChange:
        change = KareoLikeAdapter._change(body)
        first = EHRAttendee(patient_id=change.attendees[0].patient_id, state=change.state)
        return change.model_copy(update={"attendees": (first,)})


class SignatureNotChecked(KareoLikeAdapter):
    """Checks that a webhook was signed lately but not its signature, since only the EHR knows
    the address: a forged or altered message passes."""

    def _verify(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> tuple[str, datetime]:
        signed_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        if abs(now - signed_at) > STANDARD_WEBHOOK_TOLERANCE:
            raise InvalidWebhook("the webhook was not signed close to now")
        return headers["webhook-id"], signed_at


class StaleWebhooksAccepted(KareoLikeAdapter):
    """Verifies a webhook at the time it says it was signed, so that a retry the EHR kept for
    hours still passes: so does a replay of it days later."""

    def _verify(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> tuple[str, datetime]:
        signed_at = datetime.fromtimestamp(int(headers.get("webhook-timestamp", "0")), UTC)
        return super()._verify(headers, body, signed_at)


class ContactsCachedByAccount(KareoLikeAdapter):
    """Keeps contact details by the part of a patient's id before the dash, taking ``PAT-…``
    for a family account whose members share them: every patient gets the first one read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contacts: dict[str, EHRPatientContact] = {}

    def read_patient(self, patient_id: str) -> EHRPatientContact:
        account = patient_id.partition("-")[0]
        if account not in self.contacts:
            self.contacts[account] = super().read_patient(patient_id)
        return self.contacts[account]


# -- idempotency ------------------------------------------------------------------------


def _dumps(body: Any) -> str:
    return json.dumps(body, sort_keys=True)


class IdempotencyKeyNotSent(KareoLikeAdapter):
    """Forgets to pass the idempotency key on: a retried create makes a second record, and a
    different body under the same key is simply created."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return super()._call(method, path, json=json, params=params)


class KeyPerBody(KareoLikeAdapter):
    """Makes each key unique to its payload "to be safe": a changed body under a reused key is
    accepted as a new create."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if key is not None:
            digest = hashlib.sha256(_dumps(json).encode()).hexdigest()[:12]
            key = f"{key}-{digest}"
        return super()._call(method, path, json=json, key=key, params=params)


# -- failures ---------------------------------------------------------------------------


class NotFoundAsRejected(KareoLikeAdapter):
    """Treats every 4xx, 404 included, as a refusal."""

    @staticmethod
    def _failure(response: httpx.Response) -> Exception | None:
        failure = KareoLikeAdapter._failure(response)
        if isinstance(failure, MissingRecord):
            return ExternalRejected("the EHR refused the request (404)", code="ehr_rejected")
        return failure


class SearchBestEffortWhenDown(KareoLikeAdapter):
    """Answers "no one" when the EHR cannot be reached, so a booking need not wait."""

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        try:
            return super().find_patients(query)
        except TransientError:
            return []


class SettingsDefaultWhenDown(KareoLikeAdapter):
    """Falls back to the sandbox's default settings when the EHR cannot be reached."""

    def read_practice_settings(self) -> EHRPracticeSettings:
        try:
            return super().read_practice_settings()
        except TransientError:
            return EHRPracticeSettings(
                surveys_enabled=False,
                online_scheduler_enabled=False,
                provider_profiles_published=False,
                online_presence_enabled=False,
                intake_forms_enabled=True,
            )


class OutageErrorsNameThePatient(KareoLikeAdapter):
    """Says whose search failed, to help staff follow up when the EHR is down."""

    def find_patients(self, query: PatientQuery) -> list[EHRPatient]:
        try:
            return super().find_patients(query)
        except ExternalUnavailable as error:
            raise ExternalUnavailable(
                f"could not search for {query.first_name} {query.last_name}"
            ) from error


class RefusalsQuoteTheRequest(KareoLikeAdapter):
    """Adds the request it sent to every refusal, for debugging."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            return super()._call(method, path, json=json, key=key, params=params)
        except PermanentError as error:
            raise type(error)(f"{error}: {_dumps(json)}", code=error.code) from None
