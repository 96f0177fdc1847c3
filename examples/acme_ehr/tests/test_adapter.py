"""What the kit does not cover: Acme's own API (credentials, paging, references), errors mapped
from answers the fake never gives, and one adapter shared by many threads."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import httpx
import pytest
from integration_core.api import (
    ExternalRejected,
    ExternalTimeout,
    ExternalUnavailable,
    MissingRecord,
    NewAppointment,
    NewPatient,
    PatientQuery,
    PracticeSyncError,
    RateLimited,
)

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_server import FakeAcmeEHR

BORN = date(1922, 2, 22)
# Patient data no id, code or status can contain, to look for in error messages.
SECRET_NAME = "Zephyrine"
SECRET_EMAIL = "zephyrine.quill@example.com"


def patient(first: str = SECRET_NAME, last: str = "Quill") -> NewPatient:
    return NewPatient(
        first_name=first,
        last_name=last,
        date_of_birth=BORN,
        sex="female",
        email=SECRET_EMAIL,
        phone="+16175550142",
    )


def visit(patient_id: str, clinician: str = "cl-lee") -> NewAppointment:
    return NewAppointment(
        patient_id=patient_id,
        provider_id=clinician,
        location_id="st-downtown",
        start=datetime(2031, 3, 4, 15, 30, tzinfo=UTC),
        duration_minutes=20,
        telehealth=False,
        patient_note=f"Reason for visit: {SECRET_NAME}'s knee",
    )


def test_a_wrong_api_key_is_refused(acme_ehr: FakeAcmeEHR) -> None:
    adapter = AcmeEHRAdapter(acme_ehr.base_url, "wrong-key")
    with pytest.raises(ExternalRejected) as caught:
        adapter.read_practice_settings()
    assert caught.value.code == "ehr_unauthorized"
    adapter.close()


def test_the_search_follows_every_page_and_keeps_only_same_name_people(
    acme_ehr: FakeAcmeEHR,
) -> None:
    acme_ehr.records.page_size = 2
    adapter = AcmeEHRAdapter(acme_ehr.base_url, "test-acme-key")
    wanted = {adapter.create_patient(patient(), idempotency_key=f"same-{n}").id for n in range(3)}
    for n in range(4):
        adapter.create_patient(patient(first=f"Other{n}"), idempotency_key=f"other-{n}")
    found = adapter.find_patients(
        PatientQuery(first_name=" zephyrine ", last_name="QUILL", date_of_birth=BORN)
    )
    assert {p.id for p in found} == wanted
    adapter.close()


def test_a_visit_with_a_clinician_acme_does_not_know_is_refused(
    adapter: AcmeEHRAdapter,
) -> None:
    person = adapter.create_patient(patient(), idempotency_key="p1")
    with pytest.raises(ExternalRejected) as caught:
        adapter.create_tentative_appointment(visit(person.id, "cl-nobody"), idempotency_key="v1")
    assert caught.value.code == "ehr_unknown_reference"
    assert SECRET_NAME not in str(caught.value)


def test_one_adapter_shared_by_threads_creates_one_patient_per_key(
    adapter: AcmeEHRAdapter,
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        same = list(
            pool.map(lambda _: adapter.create_patient(patient(), idempotency_key="k").id, range(16))
        )
        distinct = list(
            pool.map(
                lambda n: adapter.create_patient(patient(), idempotency_key=f"k{n}").id, range(16)
            )
        )
    assert len(set(same)) == 1
    assert len(set(distinct)) == 16
    query = PatientQuery(first_name=SECRET_NAME, last_name="Quill", date_of_birth=BORN)
    assert len(adapter.find_patients(query)) == 17


# -- answers the fake never gives, through httpx's mock transport -------------------------------


def mocked(answer: Callable[[httpx.Request], httpx.Response]) -> AcmeEHRAdapter:
    return AcmeEHRAdapter("http://acme.test", "k", transport=httpx.MockTransport(answer))


def test_the_idempotency_key_is_passed_on_as_acmes_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        return httpx.Response(
            201,
            json={"personId": "pp_1", "name": body["name"], "birthDate": body["birthDate"]},
        )

    created = mocked(answer).create_patient(patient(), idempotency_key="event-7:create_patient")
    assert created.id == "pp_1"
    assert seen[0].headers["Idempotency-Token"] == "event-7:create_patient"
    assert seen[0].headers["Authorization"] == "Bearer k"
    assert seen[0].url.path == "/v2/people"


def raises(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc

    return answer


def status(code: int, body: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, json=body)


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        (raises(httpx.ReadTimeout("slow")), ExternalTimeout, "external_timeout"),
        (raises(httpx.ConnectError("refused")), ExternalUnavailable, "external_unavailable"),
        (status(503, {"echo": SECRET_NAME}), ExternalUnavailable, "ehr_unavailable"),
        (status(429, {"echo": SECRET_NAME}), RateLimited, "rate_limited"),
        (status(400, {"fault": {"kind": SECRET_NAME}}), ExternalRejected, "ehr_rejected"),
        (status(404, {"fault": {"kind": "not_found"}}), MissingRecord, "ehr_not_found"),
        (status(404, {"detail": SECRET_NAME}), ExternalRejected, "ehr_no_such_route"),
        (status(401, {"fault": {"kind": "unauthenticated"}}), ExternalRejected, "ehr_unauthorized"),
        (
            status(409, {"fault": {"kind": "idempotency_token_reused"}}),
            ExternalRejected,
            "ehr_idempotency_conflict",
        ),
        (status(200, {"personId": 7, "name": SECRET_NAME}), ExternalUnavailable, "ehr_bad_answer"),
        (
            lambda request: httpx.Response(200, text=f"<html>{SECRET_NAME}</html>"),
            ExternalUnavailable,
            "ehr_bad_answer",
        ),
    ],
)
def test_failures_map_onto_the_error_tree_without_patient_data(
    answer: Callable[[httpx.Request], httpx.Response],
    error: type[PracticeSyncError],
    code: str,
) -> None:
    adapter = mocked(answer)
    with pytest.raises(error) as caught:
        adapter.create_patient(patient(), idempotency_key="k")
    assert caught.value.code == code
    assert SECRET_NAME not in str(caught.value) and SECRET_EMAIL not in str(caught.value)
    # nor chained to httpx's or pydantic's exceptions, which quote URLs and values
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_a_visit_in_a_phase_this_adapter_does_not_know_is_an_unreadable_answer() -> None:
    body = {
        "visitId": "vt_1",
        "format": "individual",
        "attendees": [{"personId": "pp_1", "phase": "pencilled"}],
        "clinicianId": "cl-lee",
        "siteId": "st-downtown",
        "begins": "2031-03-04T15:30:00Z",
        "lengthMinutes": 20,
        "mode": "in_person",
        "phase": "pencilled",
        "visitTypeId": None,
        "forms": [],
        "staffNote": None,
    }
    assert mocked(status(200, body)).read_appointment("vt_1").state == "tentative"
    with pytest.raises(ExternalUnavailable) as caught:
        mocked(status(200, {**body, "phase": "teleported"})).read_appointment("vt_1")
    assert caught.value.code == "ehr_bad_answer"
