"""``StaffClient`` sends what the staff API documents and turns every failure into one
``StaffApiError``: the API's code, message, status, fields and conflicts, or no status at all
when the sandbox never answered; against the sandbox itself, a clash names what it clashed
with."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from integration_core.api import InProcessTransport
from integration_core.testing.processes import free_port
from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.staff_client import StaffApiError, StaffClient
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.sandbox_ehr import API_KEY

EASTERN = timezone(timedelta(hours=-4))


def answering(status: int, body: object, seen: list[httpx.Request]) -> StaffClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    return StaffClient("http://sandbox/", "key", transport=httpx.MockTransport(handle))


def test_an_action_posts_its_body_under_the_api_prefix_with_the_key() -> None:
    seen: list[httpx.Request] = []
    staff = answering(200, {"id": "APT-1", "status": "Confirmed"}, seen)
    start = datetime(2031, 5, 6, 21, 15, tzinfo=EASTERN)
    answer = staff.confirm("APT-1", visit_reason_id=2, start=start, intake_forms=["HIPAA"])
    assert answer["status"] == "Confirmed"
    (request,) = seen
    assert (request.method, request.url.path) == (
        "POST",
        "/api/v1/staff/appointments/APT-1/confirm",
    )
    assert request.headers["X-API-Key"] == "key"
    assert json.loads(request.content) == {
        "visit_reason_id": 2,
        "start": "2031-05-06T21:15:00-04:00",
        "intake_forms": ["HIPAA"],
    }


def test_a_list_sends_only_the_filters_given() -> None:
    seen: list[httpx.Request] = []
    staff = answering(200, {"appointments": [], "next_cursor": None}, seen)
    staff.list_appointments(status="Tentative", start_from=datetime(2031, 5, 6, tzinfo=UTC))
    assert dict(seen[0].url.params) == {"status": "Tentative", "from": "2031-05-06T00:00:00+00:00"}


def test_a_time_without_offset_is_refused_before_sending() -> None:
    seen: list[httpx.Request] = []
    staff = answering(200, {}, seen)
    with pytest.raises(ValueError, match="UTC offset"):
        staff.reschedule("APT-1", start=datetime(2031, 5, 6, 9, 0))
    assert seen == []


def test_a_conflict_carries_the_apis_code_message_status_and_conflicts() -> None:
    clash = {
        "kind": "time_block",
        "id": "TB-1",
        "start": "2031-05-06T21:00:00-04:00",
        "end": "2031-05-06T22:00:00-04:00",
        "status": None,
    }
    error = {
        "error": {
            "code": "scheduling_conflict",
            "message": "The provider is busy then.",
            "fields": {"start": "taken"},
            "conflicts": [clash],
        }
    }
    staff = answering(409, error, [])
    with pytest.raises(StaffApiError) as caught:
        staff.confirm("APT-1", visit_reason_id=1)
    assert caught.value.code == "scheduling_conflict"
    assert caught.value.message == "The provider is busy then."
    assert caught.value.status == 409
    assert caught.value.fields == {"start": "taken"}
    assert caught.value.conflicts == [clash]


def test_an_answer_outside_the_error_shape_is_named_by_its_status() -> None:
    staff = answering(502, ["bad gateway"], [])
    with pytest.raises(StaffApiError) as caught:
        staff.show("APT-1")
    assert (caught.value.code, caught.value.status, caught.value.conflicts) == ("http_502", 502, [])


def test_a_sandbox_that_is_not_running_is_unreachable() -> None:
    with (
        StaffClient(f"http://127.0.0.1:{free_port()}", "key") as staff,
        pytest.raises(StaffApiError) as caught,
    ):
        staff.list_appointments()
    assert (caught.value.code, caught.value.status) == ("unreachable", None)


def test_a_removal_answers_nothing() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    staff = StaffClient("http://sandbox", "key", transport=httpx.MockTransport(handle))
    staff.remove_time_block("TB-1")
    assert (seen[0].method, seen[0].url.path) == ("DELETE", "/api/v1/staff/time-blocks/TB-1")


def test_the_sandbox_names_the_time_block_a_booking_clashes_with(tmp_path: Path) -> None:
    store = SandboxStore(f"sqlite:///{tmp_path / 'ehr.db'}")
    start = datetime(2031, 5, 6, 9, 0, tzinfo=EASTERN)
    with StaffClient(
        "http://sandbox-ehr",
        API_KEY,
        transport=InProcessTransport(create_sandbox_app(store, API_KEY)),
    ) as staff:
        patient = staff.add_patient(
            first_name="Marguerite",
            last_name="Okafor",
            date_of_birth=date(1911, 11, 11),
            sex="female",
        )
        block = staff.block_time(provider_id="1001", start=start, end=start + timedelta(hours=2))
        with pytest.raises(StaffApiError) as caught:
            staff.book(
                patient_id=patient["id"],
                provider_id="1001",
                location_id="downtown",
                start=start + timedelta(minutes=30),
                visit_reason_id=2,
            )
        assert [listed["id"] for listed in staff.list_time_blocks(provider_id="1001")] == [
            block["id"]
        ]
    store.dispose()
    assert (caught.value.status, caught.value.code) == (409, "scheduling_conflict")
    assert [(c["kind"], c["id"]) for c in caught.value.conflicts] == [("time_block", block["id"])]


@pytest.mark.parametrize("record_id", ["../../changes", "X/../APT-1", ""])
def test_an_id_never_names_another_route(record_id):
    """An id is one path segment: ``..`` and ``/`` are sent escaped, and an empty id is
    refused before anything is sent."""
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "No such."}})

    client = StaffClient("http://sandbox", "key", transport=httpx.MockTransport(answer))
    with client, pytest.raises(StaffApiError) as refused:
        client.show(record_id)
    if record_id:
        assert refused.value.code == "not_found"
        assert sent == [f"/api/v1/staff/appointments/{quote(record_id, safe='')}"]
    else:
        assert (refused.value.code, sent) == ("invalid_id", [])
