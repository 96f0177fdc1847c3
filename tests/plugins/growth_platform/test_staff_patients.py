"""Staff correct a patient's contact details and archive duplicates in the booking platform only:
the answer says the EHR's record is not changed, archived patients leave the list, every read
and change is audited, and no answer repeats what was sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration_core import audit
from tests.support.booking import STAFF

PATIENTS = "/v1/practices/acme/patients"
NINE = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York


@pytest.fixture
def kept(runtime, made_in_ehr, ehr_patients):
    """``kept(*names)``: one patient per name, booked by staff in the EHR and kept by the
    booking platform a second apart; their record ids, in order."""

    def keep(*names: str) -> list[str]:
        ids = []
        for hour, name in enumerate(names):
            ehr_patients.enter(name, first_name=name)
            made = made_in_ehr(
                f"APT-{name}", start=NINE + timedelta(hours=hour), attendees={name: "booked"}
            )
            ids.append(made[name])
            runtime.clock.advance(seconds=1)
        return ids

    return keep


def patch(client, patient_id: str, body: dict):
    return client.patch(f"{PATIENTS}/{patient_id}", json=body, headers=STAFF)


def test_contact_details_are_corrected_here_only(client, runtime, kept):
    (rosa,) = kept("Rosa")
    response = patch(client, rosa, {"email": " Rosa@Example.org ", "mobile_phone": "617-555-0188"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ehr_patient"] == "not_changed"
    assert "the patient's record in the EHR is NOT changed" in answer["message"]
    patient = answer["patient"]
    assert (patient["id"], patient["email"], patient["mobile_phone"]) == (
        rosa,
        "Rosa@example.org",
        "+16175550188",
    )
    assert (patient["email_allowed"], patient["sms_allowed"]) == (True, True)
    assert patient["updated_at"] == runtime.clock.now().isoformat().replace("+00:00", "Z")

    untouched = patch(client, rosa, {}).json()["patient"]
    assert untouched["email"] == "Rosa@example.org"  # a field left out stays as it is


def test_removing_a_contact_detail_closes_its_channel(client, kept):
    (rosa,) = kept("Rosa")
    patient = patch(client, rosa, {"mobile_phone": None}).json()["patient"]
    assert (patient["mobile_phone"], patient["sms_allowed"]) == (None, False)
    assert (patient["email"], patient["email_allowed"]) == ("rosa.diaz@example.com", True)
    again = patch(client, rosa, {"mobile_phone": "617-555-0188"}).json()["patient"]
    assert again["sms_allowed"] is False  # consent is the patient's to give, in the EHR


def test_a_correction_that_does_not_parse_is_refused_naming_the_field(client, kept):
    (rosa,) = kept("Rosa")
    response = patch(client, rosa, {"email": "rosa-at-nowhere", "mobile_phone": "55501"})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"email", "mobile_phone"}
    assert "rosa-at-nowhere" not in response.text and "55501" not in response.text
    unknown_field = patch(client, rosa, {"first_name": "Rose"})  # the EHR's to correct
    assert (unknown_field.status_code, unknown_field.json()["error"]["fields"]) == (
        422,
        {"body": "holds a field this route does not take"},  # a key is never repeated back
    )
    missing = patch(client, "pat_unknown", {"email": "rosa@example.org"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_an_archived_patient_leaves_the_list_and_archiving_again_answers_the_same(client, kept):
    rosa, sam = kept("Rosa", "Sam")
    listed = client.get(PATIENTS, headers=STAFF).json()["items"]
    assert [p["id"] for p in listed] == [rosa, sam]

    response = client.post(f"{PATIENTS}/{rosa}/archive", headers=STAFF)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["patient"]["archived_at"] is not None
    assert answer["ehr_patient"] == "not_changed"
    assert "never matched again" in answer["message"]
    assert "messages about their appointments still go out" in answer["message"]
    assert [p["id"] for p in client.get(PATIENTS, headers=STAFF).json()["items"]] == [sam]
    assert client.post(f"{PATIENTS}/{rosa}/archive", headers=STAFF).json() == answer
    missing = client.post(f"{PATIENTS}/pat_unknown/archive", headers=STAFF)
    assert missing.status_code == 404


def test_the_list_pages_with_a_cursor(client, kept):
    made = kept("Ann", "Ben", "Cy")
    first = client.get(PATIENTS, params={"limit": 2}, headers=STAFF).json()
    second = client.get(
        PATIENTS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=STAFF
    ).json()
    assert [p["id"] for p in first["items"] + second["items"]] == made
    assert second["next_cursor"] is None


def test_reads_and_changes_are_audited_without_patient_data(client, runtime, kept):
    (rosa,) = kept("Rosa")
    client.get(PATIENTS, headers=STAFF)
    patch(client, rosa, {"email": "rosa@example.org"})
    client.post(f"{PATIENTS}/{rosa}/archive", headers=STAFF)
    with runtime.db.read() as session:
        trail = audit.entries(session, "acme")
    assert [(e.actor, e.action, e.entity, e.entity_id, e.outcome) for e in reversed(trail)] == [
        ("front_desk", "read", "patients", None, "1 rows"),
        ("front_desk", "update", "patient", rosa, "ok"),
        ("front_desk", "archive", "patient", rosa, "ok"),
    ]


def test_staff_only(client):
    assert client.get(PATIENTS).status_code == 401
    assert client.post(f"{PATIENTS}/pat_x/archive").status_code == 401
