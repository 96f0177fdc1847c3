"""The booking platform keeps the patients of appointments made in the EHR (keep_ehr_patient):
one record in use per EHR patient, brought to the EHR's details each time, never merged; an
archived record is matched by neither way in, yet still answers patient_contact."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integration_core import links
from integration_core.events import RequestSyncedEvent
from integration_core.patients import PatientContact
from plugins.growth_platform.tables import Patient
from tests.support.booking import STAFF, booking

PATIENTS = "/v1/practices/acme/patients"


def records(runtime) -> list[Patient]:
    with runtime.db.read() as session:
        return list(session.scalars(select(Patient).order_by(Patient.created_at, Patient.id)))


def contact(runtime, patient_id: str, practice_id: str = "acme") -> PatientContact | None:
    with runtime.db.read() as session:
        answer: PatientContact | None = runtime.pm.hook.patient_contact(
            practice_id=practice_id, patient_id=patient_id, session=session
        )
    return answer


def test_the_patient_of_an_appointment_made_in_the_ehr_is_kept_with_the_ehrs_details(
    runtime, ehr_patients, made_in_ehr
):
    ehr_patients.enter("PAT-1", email="Rosa.Diaz@Example.com", sms_allowed=False)
    kept = made_in_ehr("APT-1")
    (record,) = records(runtime)
    assert kept == {"PAT-1": record.id}
    assert (record.first_name, record.last_name, record.date_of_birth) == (
        "Rosa",
        "Diaz",
        date(1975, 6, 1),
    )
    assert (record.email, record.mobile_phone, record.ehr_patient_id) == (
        "Rosa.Diaz@example.com",
        "+16175550123",  # E.164, as the widget's patients' numbers are
        "PAT-1",
    )
    assert contact(runtime, record.id) == PatientContact(
        patient_id=record.id,
        first_name="Rosa",
        last_name="Diaz",
        email="Rosa.Diaz@example.com",
        mobile_phone="+16175550123",
        email_allowed=True,
        sms_allowed=False,
    )


def test_each_patient_of_a_group_is_kept(runtime, ehr_patients, made_in_ehr):
    ehr_patients.enter("PAT-1")
    ehr_patients.enter("PAT-2", first_name="Sam", email=None, email_allowed=False)
    kept = made_in_ehr("APT-G", attendees={"PAT-1": "booked", "PAT-2": "booked"})
    assert set(kept) == {"PAT-1", "PAT-2"} and None not in kept.values()
    sam = contact(runtime, kept["PAT-2"])
    assert sam is not None and (sam.first_name, sam.email, sam.email_allowed) == (
        "Sam",
        None,
        False,
    )


def test_the_ehr_is_the_source_of_truth_for_a_kept_patients_details(
    client, runtime, ehr_patients, made_in_ehr
):
    ehr_patients.enter("PAT-1")
    first = made_in_ehr("APT-1")["PAT-1"]
    corrected = client.patch(
        f"{PATIENTS}/{first}", json={"email": "typed.here@example.com"}, headers=STAFF
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["ehr_patient"] == "not_changed"

    ehr_patients.enter("PAT-1", last_name="Diaz-Peralta", mobile_phone="617 555 0199")
    again = made_in_ehr("APT-2")["PAT-1"]
    assert again == first  # the same record, not a second one
    (record,) = records(runtime)
    assert (record.last_name, record.email, record.mobile_phone) == (
        "Diaz-Peralta",
        "rosa.diaz@example.com",  # the EHR's again: a local correction does not outlive it
        "+16175550199",
    )


def test_patients_are_never_merged_however_alike(runtime, ehr_patients, made_in_ehr):
    ehr_patients.enter("PAT-1")
    ehr_patients.enter("PAT-2")  # the same name, birthday and contact details
    made_in_ehr("APT-1", attendees={"PAT-1": "booked"})
    made_in_ehr("APT-2", attendees={"PAT-2": "booked"})
    assert sorted(r.ehr_patient_id for r in records(runtime)) == ["PAT-1", "PAT-2"]


def test_details_the_record_cannot_hold_are_kept_unknown_and_close_their_channel(
    runtime, ehr_patients, made_in_ehr
):
    ehr_patients.enter("PAT-1", email="not an address", mobile_phone="12")
    kept = made_in_ehr("APT-1")["PAT-1"]
    assert kept is not None
    reach = contact(runtime, kept)
    assert reach is not None
    assert (reach.email, reach.mobile_phone, reach.email_allowed, reach.sms_allowed) == (
        None,
        None,
        False,
        False,
    )


def test_an_archived_patient_is_not_matched_again_and_is_still_reachable(
    client, runtime, ehr_patients, made_in_ehr
):
    ehr_patients.enter("PAT-1")
    old = made_in_ehr("APT-1")["PAT-1"]
    archived = client.post(f"{PATIENTS}/{old}/archive", headers=STAFF)
    assert archived.status_code == 200, archived.text

    new = made_in_ehr("APT-2")["PAT-1"]
    assert new not in (None, old)
    assert [p["id"] for p in client.get(PATIENTS, headers=STAFF).json()["items"]] == [new]
    still = contact(runtime, old)  # messages about APT-1 still reach the patient
    assert still is not None and still.mobile_phone == "+16175550123"


def test_patient_contact_answers_only_for_the_practices_own_records(
    runtime, ehr_patients, made_in_ehr
):
    ehr_patients.enter("PAT-1")
    kept = made_in_ehr("APT-1")["PAT-1"]
    assert kept is not None
    assert contact(runtime, kept, practice_id="elsewhere") is None
    assert contact(runtime, "pat_unknown") is None


@pytest.fixture
def synced(runtime, client, settle):
    """``synced(ehr_patient, match, **booking)``: a widget request the EHR sync wrote for
    ``ehr_patient`` (``match`` as it decided); the record the booking platform attached it to."""

    def sync(ehr_patient: str, match: str, **overrides) -> str:
        response = client.post("/v1/practices/acme/widget/requests", json=booking(**overrides))
        assert response.status_code == 201, response.text
        submitted = response.json()
        with runtime.db.transaction() as session:
            links.link(
                session,
                practice_id="acme",
                entity="request_patient",
                local=submitted["request_id"],
                system=links.EHR_SYSTEM,
                external=ehr_patient,
                now=runtime.clock.now(),
            )
            runtime.outbox.emit(
                session,
                RequestSyncedEvent(
                    practice_id="acme",
                    request_id=submitted["request_id"],
                    appointment_id=submitted["appointment_id"],
                    match=match,
                ),
            )
        settle()
        with runtime.db.read() as session:
            attached = links.external_id(
                session,
                practice_id="acme",
                entity="request_patient",
                local=submitted["request_id"],
                system="growth_platform",
            )
        assert attached is not None
        return attached

    return sync


# "new": the sync made the EHR patient, and staff booked them in the EHR before the booking
# platform heard the request was synced.
@pytest.mark.parametrize("match", ["attached", "new"])
def test_a_request_and_an_appointment_made_in_the_ehr_meet_on_one_record(
    runtime, ehr_patients, made_in_ehr, synced, match
):
    ehr_patients.enter("PAT-1", first_name="Jane", last_name="Doe")
    kept = made_in_ehr("APT-1")["PAT-1"]
    later = "2027-01-05T10:00:00-05:00"
    assert synced("PAT-1", match, start=later) == kept
    assert len(records(runtime)) == 1


def test_a_request_is_not_attached_to_an_archived_record(client, runtime, synced):
    first = synced("PAT-7", "new")
    (record,) = records(runtime)
    assert (record.email, record.mobile_phone, record.email_allowed, record.sms_allowed) == (
        "jane.doe@example.com",
        "+16175550142",
        True,
        True,  # the request agreed to texts
    )
    assert client.post(f"{PATIENTS}/{first}/archive", headers=STAFF).status_code == 200
    second = synced("PAT-7", "attached", start="2027-01-05T09:30:00-05:00", sms_consent=False)
    assert second != first
    kept = {record.id: record for record in records(runtime)}
    assert (kept[second].ehr_patient_id, kept[second].sms_allowed) == ("PAT-7", False)
    assert kept[second].archived_at is None
    assert kept[first].archived_at is not None  # kept, not merged


def test_one_record_in_use_per_ehr_patient_is_a_rule_of_the_database(runtime):
    now = runtime.clock.now()

    def record(patient_id: str, archived: datetime | None = None) -> Patient:
        return Patient(
            id=patient_id,
            practice_id="acme",
            first_name="Rosa",
            last_name="Diaz",
            date_of_birth=date(1975, 6, 1),
            email=None,
            mobile_phone=None,
            email_allowed=False,
            sms_allowed=False,
            ehr_patient_id="PAT-1",
            archived_at=archived,
            created_at=now,
            updated_at=now,
        )

    with runtime.db.transaction() as session:
        session.add_all([record("pat_a", now - timedelta(days=1)), record("pat_b")])
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(record("pat_c"))
