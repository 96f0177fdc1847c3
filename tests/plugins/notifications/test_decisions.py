"""What patients are told when the practice confirms, declines, cancels or moves an appointment
in the EHR: the real events (``apply_change``), a real mail server, texts to a folder."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from integration_core.ehr.protocol import EHRAttendee, EHRChange
from integration_core.errors import ConfigError
from integration_core.store import Delivery, DeliveryStatus
from integration_core.testing import drain
from integration_core.testing.booking import book_end_to_end
from tests.plugins.notifications.stand_ins import (
    REQUEST_APPOINTMENT,
    REQUEST_PATIENT,
    StandIns,
    ehr_patient,
)
from tests.support.ehr_changes import apply, change

NOW = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
START = datetime(2027, 3, 16, 13, 30, tzinfo=UTC)
"""Tue 16 Mar 2027: 09:30 in Boston, 08:30 in Chicago (both on summer time since the 14th)."""

PRACTICE: dict[str, Any] = {
    "name": "Acme Family Medicine",
    "ehr_adapter": "stub_ehr",
    "locations": {
        "downtown": {
            "name": "Downtown",
            "time_zone": "America/New_York",
            "address": "12 Main Street, Boston MA 02108",
        },
        "lakeside": {"name": "Lakeside", "time_zone": "America/Chicago", "ehr_id": "lake"},
    },
    "providers": {
        "dr_lee": {"name": "Dr. Lee", "ehr_id": "1001", "locations": ["downtown"]},
        "np_garcia": {
            "name": "NP Garcia",
            "ehr_id": "1003",
            "locations": ["lakeside"],
            "telehealth": True,
        },
    },
}
JANE = {
    "first_name": "Janessa",
    "last_name": "Doerr",
    "email": "janessa.doerr@example.com",
    "phone": "+16175550142",
}
GROUP = [
    ehr_patient(
        "PAT-A", "Annika", email="annika@example.com", mobile="+16175550101", sms_allowed=True
    ),
    ehr_patient("PAT-B", "Benedikt", email="family@example.com", mobile="+16175550102"),
    ehr_patient("PAT-C", "Cyrilla", email="family@example.com"),
    ehr_patient("PAT-D", "Dagny", email="dagny@example.com", email_allowed=False),
]


@pytest.fixture
def stand_ins() -> StandIns:
    stand_ins = StandIns()
    stand_ins.ehr.patients = {patient.id: patient for patient in GROUP}
    return stand_ins


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    return tmp_path / "texts"


@pytest.fixture
def runtime_with(ps_runtime_factory, ps_clock, stand_ins, smtp_server, texts):
    """A runtime whose practice's notification settings are laid over texting patients."""
    _, port = smtp_server
    ps_clock.set(NOW)

    def build(**practice: Any) -> Any:
        notifications = {
            "email": {"host": "127.0.0.1", "port": port, "sender": "appointments@acme.example"},
            "file_folder": str(texts),
            "practices": {
                "acme": {
                    "email_channel": "email",
                    "sms_channel": "file",
                    "text_patients": True,
                    **practice,
                }
            },
        }
        return ps_runtime_factory(
            practices={"acme": PRACTICE},
            extra_plugins={"stand_ins": stand_ins},
            plugins={
                "enabled": ["ehr_sync", "notifications"],
                "config": {"notifications": notifications},
            },
        )

    return build


@pytest.fixture
def runtime(runtime_with):
    return runtime_with(booking_url="https://acme.example/book")


@pytest.fixture
def inbox(smtp_server):
    return smtp_server[0]


def ehr_change(
    appointment_id: str, version: int, state: str = "booked", **fields: Any
) -> EHRChange:
    """Version ``version`` of EHR appointment ``appointment_id``: Dr. Lee's at downtown on
    :data:`START`, the request's patient attending (unless ``attendees=``)."""
    fields.setdefault("start", START)
    fields.setdefault("occurred_at", NOW)  # news: made while practice-sync follows the EHR
    fields.setdefault("attendees", (EHRAttendee(patient_id=REQUEST_PATIENT, state=state),))
    return change(version, state, appointment_id=appointment_id, **fields)


def group_change(version: int, state: str = "booked", **fields: Any) -> EHRChange:
    attendees = tuple(EHRAttendee(patient_id=patient.id, state=state) for patient in GROUP)
    return ehr_change("GRP-1", version, state, group=True, attendees=attendees, **fields)


def request(runtime, **form: Any) -> str:
    """A patient's request from the widget, in the EHR as a tentative appointment."""
    where = {"provider_id": "dr_lee", "location_id": "downtown"}
    where.update({key: form.pop(key) for key in ("provider_id", "location_id") if key in form})
    booked = book_end_to_end(runtime, practice_id="acme", start=START, **where, **{**JANE, **form})
    assert booked.ehr_appointment_id == REQUEST_APPOINTMENT
    return booked.appointment.id


def mail(inbox, subject_ends: str) -> dict[str, list[str]]:
    """The bodies of the emails whose subject ends with ``subject_ends``, by recipient."""
    found: dict[str, list[str]] = {}
    for message in inbox.emails():
        if str(message["Subject"]).endswith(subject_ends):
            body = message.get_content().replace("\r\n", "\n")  # as sent, not as on the wire
            found.setdefault(str(message["To"]), []).append(body)
    return found


def sent_texts(folder: Path, containing: str) -> dict[str, list[str]]:
    """The texts the file channel wrote that contain ``containing``, by number."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.glob("sms-*.txt")) if folder.exists() else []:
        head, body = path.read_text().split("\n\n", 1)
        if containing in body:
            found.setdefault(head.splitlines()[0].removeprefix("To: "), []).append(body)
    return found


def test_a_confirmed_request_tells_when_where_with_whom_and_which_forms(runtime, inbox, texts):
    request(runtime, sms_consent=True)
    forms = ("Health history", "Insurance card")
    confirmed = ehr_change(REQUEST_APPOINTMENT, 2, intake_forms=forms)
    assert apply(runtime, confirmed).events[0] == "confirm"
    drain(runtime)

    (body,) = mail(inbox, ": your appointment is scheduled")[JANE["email"]]
    assert body.startswith("Hello Janessa,\n")
    assert "is scheduled" in body
    assert "When:  Tue 16 Mar 2027, 09:30 EDT\n" in body  # the location's clock, not UTC
    assert "With:  Dr. Lee\n" in body
    assert "Where: Downtown, 12 Main Street, Boston MA 02108\n" in body
    assert "please fill in these forms" in body
    assert "  - Health history\n  - Insurance card\n" in body
    assert "video" not in body
    (text,) = sent_texts(texts, "is scheduled")["+16175550142"]  # she agreed to texts
    assert "Tue 16 Mar 2027, 09:30 EDT" in text and "Downtown" in text
    assert "intake forms" in text and "Reply STOP" in text


@pytest.mark.parametrize("link", [None, "https://video.example/acme-lakeside"])
def test_a_confirmed_video_visit_says_so_and_how_to_join(runtime_with, inbox, texts, link):
    runtime = runtime_with(telehealth_link=link)
    request(runtime, provider_id="np_garcia", location_id="lakeside", virtual=True)
    confirmed = ehr_change(
        REQUEST_APPOINTMENT, 2, provider_id="1003", location_id="lake", telehealth=True
    )
    apply(runtime, confirmed)
    drain(runtime)

    (body,) = mail(inbox, ": your appointment is scheduled")[JANE["email"]]
    assert "When:  Tue 16 Mar 2027, 08:30 CDT\n" in body
    assert "With:  NP Garcia\n" in body
    assert "Where: online, a video visit\n" in body
    assert "Lakeside" not in body
    assert "This is a video visit." in body
    if link is None:
        assert "The office will send you the link to join it before the visit." in body
    else:
        assert f"join it at:\n  {link}\n" in body
    assert "forms" not in body  # none were asked for
    assert sent_texts(texts, "is scheduled") == {}  # no texts without her agreement


def test_a_declined_request_invites_another_time_and_never_quotes_staff(runtime, inbox, texts):
    request(runtime, sms_consent=True)
    reason = "Dr. Lee is away; Janessa still owes $300"
    declined = ehr_change(REQUEST_APPOINTMENT, 2, "declined", kind="declined", staff_reason=reason)
    apply(runtime, declined)
    drain(runtime)

    (body,) = mail(inbox, ": we could not schedule your appointment")[JANE["email"]]
    assert "could not schedule the appointment you requested" in body
    assert "When:  Tue 16 Mar 2027, 09:30 EDT\n" in body
    assert "choose another time at https://acme.example/book" in body
    (text,) = sent_texts(texts, "could not schedule")["+16175550142"]
    for message in (body, text):
        assert "away" not in message and "owes" not in message


def test_a_request_moved_before_it_is_confirmed_is_told_it_still_waits(runtime, inbox):
    request(runtime)
    later = START + timedelta(hours=3)
    moved = ehr_change(REQUEST_APPOINTMENT, 2, "tentative", kind="rescheduled", start=later)
    assert apply(runtime, moved).events[0] == "reschedule"
    drain(runtime)

    (body,) = mail(inbox, ": your appointment has a new time")[JANE["email"]]
    assert "Your appointment request with Acme Family Medicine has moved" in body
    assert "When:  Tue 16 Mar 2027, 12:30 EDT\n" in body
    assert "It was on Tue 16 Mar 2027, 09:30 EDT. The office has not confirmed it yet" in body


def test_each_patient_of_a_group_gets_their_own_message(runtime, inbox, texts, caplog):
    caplog.set_level(logging.DEBUG)
    apply(runtime, group_change(1, kind="created"))
    drain(runtime)  # the booking platform keeps the four patients
    moved = START + timedelta(days=1)
    assert "reschedule" in apply(runtime, group_change(2, kind="rescheduled", start=moved)).events
    drain(runtime)

    moved_mail = mail(inbox, ": your appointment has a new time")
    assert set(moved_mail) == {"annika@example.com", "family@example.com"}  # Dagny: no email
    assert [body.splitlines()[0] for body in moved_mail["family@example.com"]] == [
        "Hello Benedikt,",
        "Hello Cyrilla,",
    ]
    for body in [*moved_mail["annika@example.com"], *moved_mail["family@example.com"]]:
        assert "When:  Wed 17 Mar 2027, 09:30 EDT\n" in body
        assert "It was on Tue 16 Mar 2027, 09:30 EDT." in body
    moved_texts = sent_texts(texts, "has moved to")
    assert set(moved_texts) == {"+16175550101"}  # only Annika agreed to texts
    (text,) = moved_texts["+16175550101"]
    assert "Tue 16 Mar 2027, 09:30 EDT has moved to Wed 17 Mar 2027, 09:30 EDT" in text

    apply(runtime, group_change(3, "cancelled", kind="cancelled", start=moved))
    drain(runtime)
    cancelled = mail(inbox, ": your appointment is cancelled")
    assert {to: len(bodies) for to, bodies in cancelled.items()} == {
        "annika@example.com": 1,
        "family@example.com": 2,
    }
    assert "Wed 17 Mar 2027, 09:30 EDT" in cancelled["annika@example.com"][0]
    assert set(sent_texts(texts, "has been cancelled")) == {"+16175550101"}

    needles = [
        *(patient.first_name for patient in GROUP),
        *(patient.email for patient in GROUP if patient.email),
        *(patient.mobile_phone for patient in GROUP if patient.mobile_phone),
        "6175550101",
    ]
    ours = [record for record in caplog.records if not record.name.startswith("mail.")]
    assert any(record.getMessage() == "patients told" for record in ours)
    for record in ours:  # (mail.* is the test's mail server, the recipients' side)
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for needle in needles:
            assert needle not in text, f"{record.name} logged patient data"


def test_a_cancelled_group_tells_only_the_patients_it_cancelled(runtime, inbox, texts):
    """Annika came, Benedikt did not: they keep their statuses and hear nothing of it."""
    apply(runtime, group_change(1, kind="created"))
    drain(runtime)
    states = {"PAT-A": "checked_out", "PAT-B": "no_show"}
    ended = tuple(
        EHRAttendee(patient_id=patient.id, state=states.get(patient.id, "cancelled"))
        for patient in GROUP
    )
    apply(
        runtime, ehr_change("GRP-1", 2, "cancelled", kind="cancelled", group=True, attendees=ended)
    )
    drain(runtime)
    cancelled = mail(inbox, ": your appointment is cancelled")
    assert [body.splitlines()[0] for body in cancelled["family@example.com"]] == ["Hello Cyrilla,"]
    assert "annika@example.com" not in cancelled
    assert sent_texts(texts, "has been cancelled") == {}


def notification_deliveries(runtime) -> list[Delivery]:
    with runtime.db.read() as session:
        return list(session.scalars(select(Delivery).where(Delivery.plugin == "notifications")))


def replay_all(runtime) -> None:
    """Run every notification delivery again, as replays after a later failure would."""
    rows = notification_deliveries(runtime)
    with runtime.db.transaction() as session:
        for row in rows:
            dead = session.get_one(Delivery, row.id)
            dead.status, dead.last_error_code = DeliveryStatus.DEAD, "external_unavailable"
    assert all(runtime.runner.replay(row.id) for row in rows)
    drain(runtime)


def test_each_message_goes_once_however_often_it_is_delivered(runtime, inbox, texts):
    request(runtime, sms_consent=True)
    confirmed = ehr_change(REQUEST_APPOINTMENT, 2)
    assert apply(runtime, confirmed, via="webhook").outcome == "applied"
    assert apply(runtime, confirmed, via="poll").outcome == "duplicate"
    drain(runtime)
    replay_all(runtime)

    assert {to: len(b) for to, b in mail(inbox, "").items()} == {JANE["email"]: 2}  # received,
    assert len(mail(inbox, ": your appointment is scheduled")[JANE["email"]]) == 1  # scheduled
    assert {to: len(b) for to, b in sent_texts(texts, "").items()} == {"+16175550142": 2}


def test_a_group_message_that_failed_halfway_reaches_the_rest_once(runtime, inbox, texts):
    apply(runtime, group_change(1, kind="created"))
    drain(runtime)
    inbox.refused.add("family@example.com")
    apply(runtime, group_change(2, kind="rescheduled", start=START + timedelta(hours=2)))
    drain(runtime)
    (dead,) = [d for d in notification_deliveries(runtime) if d.status is DeliveryStatus.DEAD]
    assert dead.last_error_code == "email_rejected"
    assert set(mail(inbox, "new time")) == {"annika@example.com"}

    inbox.refused.clear()
    assert runtime.runner.replay(dead.id)
    drain(runtime)
    replay_all(runtime)
    told = mail(inbox, "new time")
    assert {to: len(bodies) for to, bodies in told.items()} == {
        "annika@example.com": 1,
        "family@example.com": 2,
    }
    assert {to: len(b) for to, b in sent_texts(texts, "has moved").items()} == {"+16175550101": 1}


def test_a_confirmation_read_after_the_cancellation_tells_only_the_cancellation(runtime, inbox):
    request(runtime)
    apply(runtime, ehr_change(REQUEST_APPOINTMENT, 2))
    apply(runtime, ehr_change(REQUEST_APPOINTMENT, 3, "cancelled", kind="cancelled"))
    drain(runtime)
    assert mail(inbox, "is scheduled") == {}
    assert len(mail(inbox, "is cancelled")[JANE["email"]]) == 1


def test_a_patient_the_booking_platform_has_not_kept_yet_is_told_once_kept(
    runtime, inbox, stand_ins, ps_clock
):
    stand_ins.ehr.down = True
    one = (EHRAttendee(patient_id="PAT-A", state="booked"),)
    apply(runtime, ehr_change("APT-9", 1, kind="created", attendees=one))
    drain(runtime)  # reading the patient from the EHR fails: not kept
    later = START + timedelta(hours=1)
    apply(runtime, ehr_change("APT-9", 2, kind="rescheduled", start=later, attendees=one))
    drain(runtime)
    waiting = [d for d in notification_deliveries(runtime) if d.status is DeliveryStatus.PENDING]
    assert [d.last_error_code for d in waiting] == ["patient_not_kept_yet"]
    assert mail(inbox, "new time") == {}

    stand_ins.ehr.down = False
    for _ in range(6):
        ps_clock.advance(seconds=120)
        runtime.tick()
        drain(runtime)
    assert {to: len(b) for to, b in mail(inbox, "new time").items()} == {"annika@example.com": 1}


def test_texting_patients_needs_the_sms_settings(runtime_with):
    with pytest.raises(ConfigError) as caught:
        runtime_with(sms_channel="sms")
    assert str(caught.value).startswith(
        "plugins.config.notifications.sms: not configured "
        "(practice acme sends texts to patients through channel 'sms'"
    )
