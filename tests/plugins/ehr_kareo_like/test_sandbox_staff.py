"""The sandbox EHR's staff API, in process and over real loopback HTTP: each decision is one
change in the feed, with the right type, version and snapshot; what the EHR refuses (a
conflict, a wrong status, a lost telehealth request, bad intake forms) changes nothing; a
group's patients come and go on their own; the feed pages through every change once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from tests.support.commands import sandbox_ehr_server

API_KEY = "staff-desk-key"
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)


class Desk:
    """The sandbox's API as its staff and practice-sync call it, over any httpx-style client
    (a ``TestClient``, or an ``httpx.Client`` on a real server)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: int = 200,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        response = self.client.request(
            method, f"/api/v1{path}", headers={"X-API-Key": API_KEY, **(headers or {})}, **kwargs
        )
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def patient(self, first: str = "Ada", born: date = date(1990, 1, 2)) -> str:
        """A patient as practice-sync creates one."""
        body = {
            "first_name": first,
            "last_name": "Byron",
            "date_of_birth": born.isoformat(),
            "sex": "female",
            "email": "ada@example.com",
            "phone": "+16175550142",
        }
        return str(self.call("POST", "/patients", json=body, expect=201)["id"])

    def request(
        self,
        patient_id: str,
        *,
        start: datetime = START,
        minutes: int = 30,
        telehealth: bool = False,
        provider_id: str = "1001",
        key: str | None = None,
        expect: int = 201,
    ) -> dict[str, Any]:
        """practice-sync's tentative appointment."""
        body = {
            "patient_id": patient_id,
            "provider_id": provider_id,
            "location_id": "main",
            "start": start.isoformat(),
            "duration_minutes": minutes,
            "appointment_type": "Telehealth" if telehealth else "In Person",
            "patient_note": "Reason for visit: checkup",
            "requested_reason": "checkup",
        }
        headers = {"Idempotency-Key": key} if key else None
        return dict(self.call("POST", "/appointments", json=body, headers=headers, expect=expect))

    def staff(self, path: str, *, expect: int = 200, **body: Any) -> Any:
        return self.call("POST", f"/staff{path}", json=body, expect=expect)

    def act(self, appointment_id: str, action: str, *, expect: int = 200, **body: Any) -> Any:
        return self.staff(f"/appointments/{appointment_id}/{action}", expect=expect, **body)

    def book(self, patient_id: str, *, start: datetime = START, **body: Any) -> Any:
        body.setdefault("visit_reason_id", 2)
        return self.staff(
            "/appointments",
            expect=body.pop("expect", 201),
            patient_id=patient_id,
            provider_id=body.pop("provider_id", "1001"),
            location_id="main",
            start=start.isoformat(),
            **body,
        )

    def detail(self, appointment_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/staff/appointments/{appointment_id}"))

    def changes(self, after: str | None = None, limit: int = 500) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        return dict(self.call("GET", "/changes", params=params))

    def cursor(self) -> str:
        """Where the feed ends now."""
        return str(self.changes()["next_cursor"])

    def changes_since(self, cursor: str) -> list[dict[str, Any]]:
        return list(self.changes(cursor)["changes"])


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``practice-sync sandbox-ehr`` on 127.0.0.1 for this module's tests: its database and
    URL."""
    database = f"sqlite:///{tmp_path_factory.mktemp('sandbox-ehr') / 'ehr.db'}"
    with sandbox_ehr_server(database, API_KEY) as url:
        yield database, url


@pytest.fixture(params=["in_process", "loopback"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SandboxStore, Desk]]:
    """The sandbox's database and its API: served in this process, or by the standalone
    server over real HTTP (emptied of records first)."""
    if request.param == "in_process":
        store = SandboxStore(f"sqlite:///{tmp_path / 'sandbox-ehr.db'}")
        with TestClient(create_sandbox_app(store, API_KEY)) as client:
            yield store, Desk(client)
    else:
        database, url = request.getfixturevalue("loopback")
        store = SandboxStore(database)
        store.forget_records()
        with httpx.Client(base_url=url, timeout=10) as client:
            yield store, Desk(client)
    store.dispose()


@pytest.fixture
def desk(sandbox: tuple[SandboxStore, Desk]) -> Desk:
    return sandbox[1]


def one_change(desk: Desk, cursor: str, kind: str, appointment_id: str) -> dict[str, Any]:
    """The single change recorded since ``cursor``, checked against the appointment as staff
    now see it."""
    (change,) = desk.changes_since(cursor)
    detail = desk.detail(appointment_id)
    assert change["type"] == f"appointment.{kind}"
    assert change["appointment_id"] == appointment_id
    assert change["id"].startswith("CHG-")
    assert change["version"] == detail["version"]
    shown = change["appointment"]
    for field in (
        "id",
        "status",
        "provider_id",
        "location_id",
        "duration_minutes",
        "appointment_type",
        "visit_reason_id",
        "intake_forms",
        "group",
        "staff_reason",
    ):
        assert shown[field] == detail[field], field
    assert datetime.fromisoformat(shown["start"]) == datetime.fromisoformat(detail["start"])
    assert datetime.fromisoformat(shown["end"]) == datetime.fromisoformat(detail["end"])
    assert shown["patients"] == [
        {"patient_id": p["patient_id"], "status": p["status"]} for p in detail["patients"]
    ]
    return change


Scenario = Callable[[Desk], tuple[str, Callable[[], object]]]
"""Sets an appointment up; its id and the one action under test."""


def _tentative(desk: Desk) -> str:
    return str(desk.request(desk.patient())["id"])


def _confirmed(desk: Desk) -> str:
    return str(desk.book(desk.patient())["id"])


def _checked_in(desk: Desk) -> str:
    appointment_id = _confirmed(desk)
    desk.act(appointment_id, "check-in")
    return appointment_id


SCENARIOS: dict[str, tuple[Callable[[Desk], str], str, dict[str, Any], dict[str, Any]]] = {
    # kind: (set-up, action, body, what the snapshot then shows)
    "created": (lambda desk: "", "", {}, {"status": "Tentative"}),
    "confirmed": (
        _tentative,
        "confirm",
        {"visit_reason_id": 1, "intake_forms": ["Medical History", "Our own sports form"]},
        {
            "status": "Confirmed",
            "duration_minutes": 45,
            "visit_reason_id": 1,
            "intake_forms": ["Medical History", "Our own sports form"],
        },
    ),
    "declined": (
        _tentative,
        "decline",
        {"reason": "The doctor is away that week."},
        {"status": "Declined", "staff_reason": "The doctor is away that week."},
    ),
    "cancelled": (
        _confirmed,
        "cancel",
        {"reason": "Clinic closed."},
        {"status": "Cancelled", "staff_reason": "Clinic closed."},
    ),
    "rescheduled": (
        _confirmed,
        "reschedule",
        {"start": (START + timedelta(days=1)).isoformat()},
        {"status": "Confirmed", "start": "2027-01-06T14:00:00Z", "duration_minutes": 20},
    ),
    "checked_in": (_confirmed, "check-in", {}, {"status": "Checked In"}),
    "checked_out": (_checked_in, "check-out", {}, {"status": "Checked Out"}),
    "no_show": (_confirmed, "no-show", {}, {"status": "No Show"}),
}


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_each_action_is_one_change_with_the_next_version(desk: Desk, kind: str) -> None:
    set_up, action, body, shows = SCENARIOS[kind]
    appointment_id = set_up(desk)
    before = desk.detail(appointment_id)["version"] if appointment_id else 0
    cursor = desk.cursor()
    if action:
        desk.act(appointment_id, action, **body)
    else:
        appointment_id = str(desk.request(desk.patient())["id"])
    change = one_change(desk, cursor, kind, appointment_id)
    assert change["version"] == before + 1
    assert change["patient_id"] is None
    for field, value in shows.items():
        if field == "start":
            assert datetime.fromisoformat(change["appointment"][field]) == datetime.fromisoformat(
                value
            )
        else:
            assert change["appointment"][field] == value
    # every patient of a single-patient appointment is in the appointment's status
    assert [p["status"] for p in change["appointment"]["patients"]] == [shows["status"]]


def test_versions_count_each_appointment_s_own_changes(desk: Desk) -> None:
    first, second = _tentative(desk), _tentative(desk)
    desk.act(first, "confirm", visit_reason_id=2)
    desk.act(second, "decline")
    desk.act(first, "check-in")
    desk.act(first, "check-out")
    changes = desk.changes()["changes"]
    assert [(c["appointment_id"], c["version"], c["type"]) for c in changes] == [
        (first, 1, "appointment.created"),
        (second, 1, "appointment.created"),
        (first, 2, "appointment.confirmed"),
        (second, 2, "appointment.declined"),
        (first, 3, "appointment.checked_in"),
        (first, 4, "appointment.checked_out"),
    ]
    assert [c["sequence"] for c in changes] == sorted(c["sequence"] for c in changes)


def test_a_replayed_create_records_no_change(desk: Desk) -> None:
    patient = desk.patient()
    created = desk.request(patient, key="request-1")
    cursor = desk.cursor()
    replayed = desk.request(patient, key="request-1", expect=200)
    assert replayed == created
    other = {"Idempotency-Key": "booking-1"}
    booked = desk.call(
        "POST",
        "/staff/appointments",
        expect=201,
        headers=other,
        json={
            "patient_id": patient,
            "provider_id": "1002",
            "location_id": "main",
            "start": START.isoformat(),
            "visit_reason_id": 2,
        },
    )
    after_booking = desk.cursor()
    again = desk.call(
        "POST",
        "/staff/appointments",
        expect=200,
        headers=other,
        json={
            "patient_id": patient,
            "provider_id": "1002",
            "location_id": "main",
            "start": START.isoformat(),
            "visit_reason_id": 2,
        },
    )
    assert again["id"] == booked["id"]
    assert [c["appointment_id"] for c in desk.changes_since(cursor)] == [booked["id"]]
    assert desk.changes_since(after_booking) == []


def test_a_refused_action_records_no_change(desk: Desk) -> None:
    appointment_id = _tentative(desk)
    desk.act(appointment_id, "decline", reason="Full that week.")
    checked_in = _checked_in(desk)
    cursor = desk.cursor()
    refused = desk.act(appointment_id, "confirm", expect=409, visit_reason_id=2)
    assert refused["error"]["code"] == "invalid_transition"
    assert "Declined" in refused["error"]["message"]
    for action in ("check-in", "cancel", "reschedule"):
        body = {"start": START.isoformat()} if action == "reschedule" else {}
        answer = desk.act(appointment_id, action, expect=409, **body)
        assert answer["error"]["code"] == "invalid_transition", action
    for action in ("confirm", "decline", "cancel", "reschedule", "check-in", "no-show"):
        body = {"visit_reason_id": 2} if action == "confirm" else {}
        if action == "reschedule":
            body = {"start": START.isoformat()}
        answer = desk.act(checked_in, action, expect=409, **body)
        assert answer["error"]["code"] == "invalid_transition", action
    assert desk.changes_since(cursor) == []
    assert desk.act("APT-NOSUCH", "check-in", expect=404)["error"]["code"] == "not_found"


def test_conflicts_are_listed_and_a_confirmed_time_is_refused(desk: Desk) -> None:
    first = _tentative(desk)
    second = str(desk.request(desk.patient("Bea"), start=START + timedelta(minutes=15))["id"])
    elsewhere = str(desk.request(desk.patient("Cy"), provider_id="1002")["id"])
    listed = desk.detail(first)["conflicts"]
    assert [(c["kind"], c["id"], c["status"]) for c in listed] == [
        ("appointment", second, "Tentative")
    ]
    assert desk.detail(elsewhere)["conflicts"] == []
    assert desk.detail(elsewhere)["has_conflicts"] is False

    desk.act(first, "confirm", visit_reason_id=2)
    cursor = desk.cursor()
    refused = desk.act(second, "confirm", expect=409, visit_reason_id=2)
    assert refused["error"]["code"] == "scheduling_conflict"
    assert [(c["kind"], c["id"], c["status"]) for c in refused["error"]["conflicts"]] == [
        ("appointment", first, "Confirmed")
    ]
    assert desk.changes_since(cursor) == []
    assert desk.detail(second)["status"] == "Tentative"
    # confirmed at another time, it no longer clashes
    desk.act(second, "confirm", visit_reason_id=2, start=(START + timedelta(hours=1)).isoformat())
    assert desk.detail(first)["conflicts"] == []
    # booking over a confirmed appointment needs the override, and is then listed
    patient = desk.patient("Di")
    assert desk.book(patient, expect=409)["error"]["code"] == "scheduling_conflict"
    doubled = desk.book(patient, allow_double_booking=True)
    assert [c["id"] for c in doubled["conflicts"]] == [first]
    assert doubled["has_conflicts"] is True


def test_a_time_block_refuses_a_move_into_it(desk: Desk) -> None:
    appointment_id = _confirmed(desk)
    lunch = START + timedelta(hours=2)
    block = desk.staff(
        "/time-blocks",
        expect=201,
        provider_id="1001",
        start=lunch.isoformat(),
        end=(lunch + timedelta(hours=1)).isoformat(),
        note="Lunch",
    )
    cursor = desk.cursor()
    refused = desk.act(
        appointment_id, "reschedule", expect=409, start=(lunch + timedelta(minutes=50)).isoformat()
    )
    assert refused["error"]["conflicts"] == [
        {
            "kind": "time_block",
            "id": block["id"],
            "start": block["start"],
            "end": block["end"],
            "status": None,
        }
    ]
    assert desk.changes_since(cursor) == []
    # right after the block is free: overlap is strict
    desk.act(appointment_id, "reschedule", start=(lunch + timedelta(hours=1)).isoformat())
    listed = desk.call("GET", "/staff/time-blocks", params={"provider_id": "1001"})
    assert [b["id"] for b in listed["time_blocks"]] == [block["id"]]
    assert desk.call("GET", "/staff/time-blocks", params={"provider_id": "1002"}) == {
        "time_blocks": []
    }
    desk.call("DELETE", f"/staff/time-blocks/{block['id']}", expect=204)
    desk.call("DELETE", f"/staff/time-blocks/{block['id']}", expect=404)
    bad = desk.staff(
        "/time-blocks",
        expect=422,
        provider_id="1001",
        start=lunch.isoformat(),
        end=START.isoformat(),
    )
    assert bad["error"]["code"] == "invalid_request"


def test_a_group_s_patients_come_and_go_on_their_own(desk: Desk) -> None:
    patients = [desk.patient(name) for name in ("Ann", "Ben", "Cat")]
    group = desk.staff(
        "/group-appointments",
        expect=201,
        patient_ids=patients,
        provider_id="1003",
        location_id="main",
        start=START.isoformat(),
        visit_reason_id=2,
    )
    assert group["group"] is True
    assert [p["status"] for p in group["patients"]] == ["Confirmed"] * 3
    assert desk.call("GET", f"/appointments/{group['id']}")["patient_id"] is None
    ann, ben, cat = patients

    for action, kind, patient, statuses in (
        ("check-in", "checked_in", ann, ["Checked In", "Confirmed", "Confirmed"]),
        ("no-show", "no_show", ben, ["Checked In", "No Show", "Confirmed"]),
        ("check-out", "checked_out", ann, ["Checked Out", "No Show", "Confirmed"]),
    ):
        cursor = desk.cursor()
        desk.act(group["id"], action, patient_id=patient)
        change = one_change(desk, cursor, kind, group["id"])
        assert change["patient_id"] == patient
        assert change["appointment"]["status"] == "Confirmed"
        assert [p["status"] for p in change["appointment"]["patients"]] == statuses

    cursor = desk.cursor()
    unnamed = desk.act(group["id"], "check-in", expect=422)
    assert unnamed["error"]["fields"] == {"patient_id": "required for a group appointment"}
    stranger = desk.act(group["id"], "check-in", expect=422, patient_id=desk.patient("Eve"))
    assert "patient_id" in stranger["error"]["fields"]
    assert desk.act(group["id"], "check-out", expect=409, patient_id=cat)["error"]["code"] == (
        "invalid_transition"
    )
    assert desk.changes_since(cursor) == []  # a new patient is not a change to an appointment
    desk.act(group["id"], "cancel", reason="Instructor ill.")
    cancelled = desk.detail(group["id"])
    assert cancelled["status"] == "Cancelled"
    assert [p["status"] for p in cancelled["patients"]] == ["Checked Out", "No Show", "Cancelled"]

    twice = desk.staff(
        "/group-appointments",
        expect=422,
        patient_ids=[ann, ann],
        provider_id="1003",
        location_id="main",
        start=START.isoformat(),
        visit_reason_id=2,
    )
    assert "patient_ids" in twice["error"]["fields"]


def test_a_requested_virtual_visit_is_confirmed_only_as_telehealth(desk: Desk) -> None:
    appointment_id = str(desk.request(desk.patient(), telehealth=True)["id"])
    assert desk.detail(appointment_id)["telehealth_requested"] is True
    refused = desk.act(
        appointment_id, "confirm", expect=422, visit_reason_id=4, appointment_type="In Person"
    )
    assert refused["error"]["code"] == "telehealth_required"
    confirmed = desk.act(appointment_id, "confirm", visit_reason_id=4)
    assert confirmed["appointment_type"] == "Telehealth"
    # an in-person request may become a telehealth visit
    other = _tentative(desk)
    moved = desk.act(
        other,
        "confirm",
        visit_reason_id=4,
        appointment_type="Telehealth",
        start=(START + timedelta(hours=3)).isoformat(),
    )
    assert moved["appointment_type"] == "Telehealth"


def test_the_visit_reason_sets_the_length(desk: Desk) -> None:
    appointment_id = _tentative(desk)
    for body, field in (
        ({"visit_reason_id": 99}, "visit_reason_id"),
        ({"visit_reason_id": 5}, "duration_minutes"),  # no length of its own: say one
        ({"visit_reason_id": 1, "duration_minutes": 30}, "duration_minutes"),
    ):
        refused = desk.act(appointment_id, "confirm", expect=422, **body)
        assert field in refused["error"]["fields"]
    confirmed = desk.act(appointment_id, "confirm", visit_reason_id=5, duration_minutes=50)
    assert confirmed["duration_minutes"] == 50
    assert confirmed["visit_reason_id"] == 5


def test_intake_forms_are_named_each_once_and_at_most_ten(
    sandbox: tuple[SandboxStore, Desk],
) -> None:
    store, desk = sandbox
    appointment_id = _tentative(desk)
    for forms in (
        [f"Form {n}" for n in range(11)],
        ["Medical History", "Medical History"],
        ["   "],
        ["x" * 101],
    ):
        refused = desk.act(
            appointment_id, "confirm", expect=422, visit_reason_id=2, intake_forms=forms
        )
        assert refused["error"]["code"] == "invalid_request"
        assert any(name.startswith("intake_forms") for name in refused["error"]["fields"])
    store.set_practice_settings(intake_forms_enabled=False)
    try:
        refused = desk.act(
            appointment_id,
            "confirm",
            expect=422,
            visit_reason_id=2,
            intake_forms=["HIPAA Acknowledgement"],
        )
        assert refused["error"]["code"] == "intake_forms_disabled"
        assert desk.act(appointment_id, "confirm", visit_reason_id=2)["intake_forms"] == []
    finally:  # the server outlives this test
        store.set_practice_settings(intake_forms_enabled=True)


def test_the_detail_shows_what_the_patient_asked_for(desk: Desk) -> None:
    patient = desk.patient()
    created = desk.request(patient, telehealth=True)
    assert created["version"] == 1
    assert created["patients"] == [{"patient_id": patient, "status": "Tentative"}]
    detail = desk.detail(created["id"])
    assert detail["requested_reason"] == "checkup"
    assert detail["patient_note"] == "Reason for visit: checkup"
    assert detail["insurance"] is None
    assert detail["visit_reason_id"] is None
    assert detail["patients"] == [
        {"patient_id": patient, "first_name": "Ada", "last_name": "Byron", "status": "Tentative"}
    ]
    assert desk.call("GET", "/staff/appointments/APT-NOSUCH", expect=404)["error"]["code"] == (
        "not_found"
    )


def test_staff_enter_patients_with_their_contact_preferences(desk: Desk) -> None:
    entered = desk.staff(
        "/patients",
        expect=201,
        first_name="Cai",
        last_name="Wong",
        date_of_birth="1975-06-01",
        sex="male",
        email="cai@example.com",
        mobile_phone="+16175550199",
        email_allowed=False,
        sms_allowed=True,
    )
    read = desk.call("GET", f"/patients/{entered['id']}")
    assert read == entered
    assert (read["mobile_phone"], read["email_allowed"], read["sms_allowed"]) == (
        "+16175550199",
        False,
        True,
    )
    unreachable = desk.staff(
        "/patients",
        expect=422,
        first_name="Dee",
        last_name="Wong",
        date_of_birth="1975-06-01",
        sms_allowed=True,
    )
    assert unreachable["error"]["code"] == "invalid_request"
    assert "+1617" not in str(unreachable)
    requested = desk.call("GET", f"/patients/{desk.patient()}")
    assert (
        requested["phone"],
        requested["mobile_phone"],
        requested["email_allowed"],
        requested["sms_allowed"],
    ) == ("+16175550142", "+16175550142", True, False)


def test_the_list_pages_by_start_and_filters(desk: Desk) -> None:
    patient = desk.patient()
    ids = [
        str(desk.request(patient, start=START + timedelta(hours=hour))["id"])
        for hour in (3, 0, 2, 1, 4)
    ]
    by_start = [ids[1], ids[3], ids[2], ids[0], ids[4]]
    desk.act(ids[3], "decline")
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after else {})}
        page = desk.call("GET", "/staff/appointments", params=params)
        seen += [a["id"] for a in page["appointments"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == by_start
    declined = desk.call("GET", "/staff/appointments", params={"status": "Declined"})
    assert [a["id"] for a in declined["appointments"]] == [ids[3]]
    window = desk.call(
        "GET",
        "/staff/appointments",
        params={
            "from": (START + timedelta(hours=1)).isoformat(),
            "to": (START + timedelta(hours=3)).isoformat(),
        },
    )
    assert [a["id"] for a in window["appointments"]] == [ids[3], ids[2]]
    assert desk.call("GET", "/staff/appointments", params={"provider_id": "1002"}) == {
        "appointments": [],
        "next_cursor": None,
    }
    bad = desk.call("GET", "/staff/appointments", params={"after": "nonsense"}, expect=422)
    assert "after" in bad["error"]["fields"]


def test_the_feed_pages_through_every_change_once_in_order(desk: Desk) -> None:
    assert desk.changes() == {"changes": [], "next_cursor": "0"}
    first, second = _tentative(desk), _tentative(desk)
    desk.act(first, "confirm", visit_reason_id=2)
    desk.act(second, "decline")
    desk.act(first, "check-in")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = desk.changes(cursor, limit=1)
        if not page["changes"]:
            assert page["next_cursor"] == cursor  # an empty page: the cursor given
            break
        seen += page["changes"]
        cursor = page["next_cursor"]
    assert seen == desk.changes()["changes"]
    assert [(c["appointment_id"], c["type"].removeprefix("appointment.")) for c in seen] == [
        (first, "created"),
        (second, "created"),
        (first, "confirmed"),
        (second, "declined"),
        (first, "checked_in"),
    ]
    for never_given in ("12345", "abc", "-3", "007"):
        refused = desk.call("GET", "/changes", params={"after": never_given}, expect=422)
        assert refused["error"]["code"] == "invalid_cursor"
    desk.call("GET", "/changes", params={"limit": 501}, expect=422)
