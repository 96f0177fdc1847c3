"""Acme's journal as ``read_changes`` reads it, beyond the kit: the revisions of visits changed in
turn, what Acme's front desk refuses, what it shows staff, and journal answers the adapter
refuses (the kit proves the feed itself: each change once, in order, groups, cursors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from acme_staff import AcmeStaff
from conftest import START
from integration_core.api import (
    EHRAppointment,
    EHRAttendee,
    ExternalUnavailable,
    InvalidCursor,
)

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_server import FakeAcmeEHR

SECRET_REASON = "Zephyrine's knee is worse"  # staff's free text: patient data


def test_versions_count_each_visits_own_changes(
    adapter: AcmeEHRAdapter, staff: AcmeStaff, pencilled: EHRAppointment
) -> None:
    other = staff.book(
        patient_id=pencilled.patient_id,
        provider_id="cl-patel",
        location_id="st-uptown",
        start=START + timedelta(days=1),
        visit_reason_id="vt-annual",
        telehealth=True,
    )
    staff.confirm(pencilled.id, visit_reason_id="vt-annual")
    staff.check_in(other)
    staff.check_out(other)
    changes = adapter.read_changes(None).changes
    assert [(c.appointment_id, c.kind, c.version, c.state) for c in changes] == [
        (pencilled.id, "created", 1, "tentative"),
        (other, "created", 1, "booked"),
        (pencilled.id, "confirmed", 2, "booked"),
        (other, "checked_in", 2, "checked_in"),
        (other, "checked_out", 3, "checked_out"),
    ]
    booked = changes[1]
    assert (booked.telehealth, booked.duration_minutes, booked.visit_reason_id) == (
        True,
        30,
        "vt-annual",
    )
    assert changes[-1].attendees == (
        EHRAttendee(patient_id=pencilled.patient_id, state="checked_out"),
    )


def test_what_acme_does_not_allow_leaves_no_change(
    adapter: AcmeEHRAdapter, staff: AcmeStaff, pencilled: EHRAppointment
) -> None:
    staff.confirm(pencilled.id, visit_reason_id="vt-annual")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        staff.decline(pencilled.id, reason="too late for that")
    assert refused.value.response.json() == {"fault": {"kind": "wrong_phase", "field": None}}
    assert [c.kind for c in adapter.read_changes(None).changes] == ["created", "confirmed"]


def test_the_visit_type_the_patient_asked_for_is_shown_to_staff(
    acme_ehr: FakeAcmeEHR, pencilled: EHRAppointment
) -> None:
    assert acme_ehr.records.visit(pencilled.id)["requestedReason"] == "checkup"


def test_a_cursor_acme_never_gave_is_an_invalid_cursor(adapter: AcmeEHRAdapter) -> None:
    with pytest.raises(InvalidCursor) as caught:
        adapter.read_changes("jr_7")
    assert caught.value.code == "ehr_cursor_invalid"


def test_a_journal_entry_the_adapter_cannot_read_carries_no_patient_data() -> None:
    visit = {
        "visitId": "vt_1",
        "format": "individual",
        "attendees": [{"personId": "pp_1", "phase": "cancelled"}],
        "clinicianId": "cl-lee",
        "siteId": "st-downtown",
        "begins": "2031-03-04T15:30:00Z",
        "lengthMinutes": 20,
        "mode": "in_person",
        "phase": "cancelled",
        "visitTypeId": None,
        "forms": [],
        "staffNote": SECRET_REASON,
    }
    entry = {
        "entryId": "je_1",
        "visitId": "vt_1",
        "revision": 2,
        "action": "teleported",  # an action this adapter does not know
        "recordedAt": datetime(2031, 3, 1, tzinfo=UTC).isoformat(),
        "personId": None,
        "visit": visit,
    }
    answer = {"entries": [entry], "resumeAfter": "jr_1"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    adapter = AcmeEHRAdapter("http://acme.test", "k", transport=transport)
    with pytest.raises(ExternalUnavailable) as caught:
        adapter.read_changes(None)
    assert caught.value.code == "ehr_bad_answer"
    assert "Zephyrine" not in str(caught.value) and caught.value.__cause__ is None
