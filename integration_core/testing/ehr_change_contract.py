"""The change tests of :class:`~integration_core.testing.EHRAdapterContract`, each described in
:mod:`integration_core.testing.ehr_contract`: staff act in the EHR through the ``ehr_staff``
fixture (:class:`~integration_core.testing.EHRStaff`), and the adapter must report each decision
as one change, the same in its feed and in the EHR's webhooks, and each patient's own contact
details."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import uuid4

import pytest

from integration_core.ehr.protocol import (
    AppointmentState,
    ChangeKind,
    EHRAdapter,
    EHRChange,
    EHRPatientContact,
    EHRVisitReason,
    WebhookChanges,
)
from integration_core.errors import InvalidCursor, InvalidWebhook, MissingRecord
from integration_core.testing.ehr_contract_base import (
    UNKNOWN_ID,
    EHRContractBase,
    assert_no_patient_data,
    new_key,
)
from integration_core.testing.ehr_staff import EHRStaff, NewPatientContact, SentWebhook

__all__ = ["EHRChangeContract"]

MAX_PAGES = 1000
"""More pages than any contract test writes changes: a feed still answering changes after as
many pages is going round in circles."""

BEYOND_TOLERANCE = timedelta(minutes=6)
"""How far from its signing time a webhook must no longer verify (replays are refused within a
tolerance of a few minutes)."""

Step = Callable[["_Story"], None]

Attendance = Literal["checked_in", "checked_out", "no_show"]
"""What staff record of a patient who was due: both the change's kind and their new state."""


def _read_on(adapter: EHRAdapter, cursor: str | None) -> tuple[list[EHRChange], str | None]:
    """Every change after ``cursor``, page by page to an empty page, and the cursor that page
    was read from: the end of the feed. A change answered twice fails the test."""
    changes: list[EHRChange] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = adapter.read_changes(cursor)
        if not page.changes:
            return changes, cursor
        for change in page.changes:
            assert change.change_id not in seen, "read_changes answered a change already read"
            seen.add(change.change_id)
        changes.extend(page.changes)
        cursor = page.cursor
    pytest.fail(f"read_changes never came to an empty page in {MAX_PAGES} pages")


def _as_told(change: EHRChange) -> dict[str, Any]:
    """What a change says about its appointment, attendees in a stable order."""
    told = change.model_dump(exclude={"change_id", "occurred_at", "attendees"})
    told["attendees"] = sorted((a.patient_id, a.state) for a in change.attendees)
    return told


def _verify(adapter: EHRAdapter, webhook: SentWebhook, now: datetime) -> WebhookChanges:
    return adapter.parse_webhook(webhook.headers, webhook.body, now=now)


class _Story:
    """One appointment as a test lives it: each step does something to it in the EHR and notes
    the change the EHR must then record, with the appointment as it stands after it."""

    def __init__(
        self,
        contract: EHRChangeContract,
        adapter: EHRAdapter,
        staff: EHRStaff,
        reason: EHRVisitReason,
        *,
        hours_later: int = 0,
        other_place: bool = False,
        telehealth: bool = False,
    ) -> None:
        self.contract, self.adapter, self.staff, self.reason = contract, adapter, staff, reason
        place = int(other_place)
        self.appointment_id = ""
        self.attendees: dict[str, AppointmentState] = {}
        self.held: dict[str, Any] = {
            "provider_id": contract.provider_ids[place],
            "location_id": contract.location_ids[place],
            "start": contract.appointment_start + timedelta(hours=hours_later),
            "duration_minutes": 45,
            "telehealth": telehealth,
            "group": False,
            "visit_reason_id": None,
            "intake_forms": (),
            "staff_reason": None,
        }
        self.expected: list[dict[str, Any]] = []

    def _note(
        self, kind: ChangeKind, state: AppointmentState, *, patient_id: str | None = None
    ) -> None:
        """The EHR must record ``kind``, leaving the appointment in ``state`` (and a single
        patient with it)."""
        if not self.held["group"]:
            self.attendees = dict.fromkeys(self.attendees, state)
        self.held["state"] = state
        self.expected.append(
            {
                **self.held,
                "appointment_id": self.appointment_id,
                "version": len(self.expected) + 1,
                "kind": kind,
                "patient_id": patient_id,
                "attendees": sorted(self.attendees.items()),
            }
        )

    def _take_reason(self) -> None:
        self.held["visit_reason_id"] = self.reason.id
        self.held["duration_minutes"] = self.reason.duration_minutes

    # -- how an appointment begins ------------------------------------------------------

    def request(self) -> None:
        """practice-sync asks for a tentative appointment, as the patient chose it."""
        patient = self.contract._create(self.adapter, self.contract.new_patient(), {})
        wanted = self.contract.new_appointment(
            patient.id,
            provider_id=self.held["provider_id"],
            location_id=self.held["location_id"],
            start=self.held["start"],
            duration_minutes=self.held["duration_minutes"],
            telehealth=self.held["telehealth"],
        )
        created = self.adapter.create_tentative_appointment(wanted, idempotency_key=new_key())
        self.appointment_id = created.id
        self.attendees = {patient.id: "tentative"}
        self._note("created", "tentative")

    def book(self) -> None:
        """Staff book a patient they entered directly."""
        patient_id = self.staff.add_patient(self.contract.new_patient_contact())
        self.appointment_id = self.staff.book(
            patient_id=patient_id,
            provider_id=self.held["provider_id"],
            location_id=self.held["location_id"],
            start=self.held["start"],
            visit_reason_id=self.reason.id,
            telehealth=self.held["telehealth"],
        )
        self._take_reason()
        self.attendees = {patient_id: "booked"}
        self._note("created", "booked")

    def book_group(self, patient_ids: Sequence[str]) -> None:
        self.appointment_id = self.staff.book_group(
            patient_ids=patient_ids,
            provider_id=self.held["provider_id"],
            location_id=self.held["location_id"],
            start=self.held["start"],
            visit_reason_id=self.reason.id,
        )
        self._take_reason()
        self.held["group"] = True
        self.attendees = dict.fromkeys(patient_ids, "booked")
        self._note("created", "booked")

    # -- what staff do next -------------------------------------------------------------

    def confirm(self) -> None:
        self._confirm(self.held["start"])

    def confirm_later(self) -> None:
        """Confirm it an hour later than asked (a reschedule on confirm)."""
        self._confirm(self.held["start"] + timedelta(hours=1))

    def _confirm(self, start: datetime) -> None:
        moved = start if start != self.held["start"] else None
        self.staff.confirm(
            self.appointment_id,
            visit_reason_id=self.reason.id,
            start=moved,
            intake_forms=self.contract.intake_forms,
        )
        self._take_reason()
        self.held["start"] = start
        self.held["intake_forms"] = tuple(self.contract.intake_forms)
        self._note("confirmed", "booked")

    def decline(self) -> None:
        reason = "The provider is away that week"
        self.staff.decline(self.appointment_id, reason=reason)
        self.held["staff_reason"] = reason
        self._note("declined", "declined")

    def cancel(self) -> None:
        reason = "The clinic is closed for the storm"
        self.staff.cancel(self.appointment_id, reason=reason)
        self.held["staff_reason"] = reason
        self._note("cancelled", "cancelled")

    def reschedule(self) -> None:
        start = self.held["start"] + timedelta(days=1)
        self.staff.reschedule(self.appointment_id, start=start)
        self.held["start"] = start
        self._note("rescheduled", self.held["state"])

    def check_in(self) -> None:
        self.attend("checked_in")

    def check_out(self) -> None:
        self.attend("checked_out")

    def no_show(self) -> None:
        self.attend("no_show")

    def attend(self, kind: Attendance, patient_id: str | None = None) -> None:
        """Check the patient (of a group: ``patient_id``) in or out, or mark them not come;
        a group stays booked."""
        act = {
            "checked_in": self.staff.check_in,
            "checked_out": self.staff.check_out,
            "no_show": self.staff.no_show,
        }[kind]
        act(self.appointment_id, patient_id=patient_id)
        if patient_id is None:
            self._note(kind, kind)
        else:
            self.attendees[patient_id] = kind
            self._note(kind, "booked", patient_id=patient_id)

    # -- what the EHR must say ----------------------------------------------------------

    def assert_told_by(self, feed: Sequence[EHRChange]) -> None:
        """The feed's changes of this appointment are one for each step, as noted."""
        told = [_as_told(change) for change in feed if change.appointment_id == self.appointment_id]
        assert [c["kind"] for c in told] == [e["kind"] for e in self.expected], (
            "the feed's changes of the appointment are not one for each thing done to it"
        )
        for number, (got, wanted) in enumerate(zip(told, self.expected, strict=True), start=1):
            wrong = [field for field, value in wanted.items() if got[field] != value]
            assert not wrong, (
                f"change {number} of the appointment ({wanted['kind']}) differs from what was "
                f"done in: {', '.join(wrong)}"
            )


LIVES: dict[str, tuple[Step, ...]] = {
    "requested": (_Story.request,),
    "confirmed": (_Story.request, _Story.confirm),
    "confirmed_later": (_Story.request, _Story.confirm_later),
    "declined": (_Story.request, _Story.decline),
    "cancelled": (_Story.request, _Story.confirm, _Story.cancel),
    "rescheduled": (_Story.request, _Story.confirm, _Story.reschedule),
    "checked_in": (_Story.request, _Story.confirm, _Story.check_in),
    "checked_out": (_Story.request, _Story.confirm, _Story.check_in, _Story.check_out),
    "booked": (_Story.book,),
    "no_show": (_Story.book, _Story.no_show),
}
"""An appointment's life up to the action a test is named for."""

TELEHEALTH_LIVES = {"confirmed", "booked"}
"""Lives of a virtual visit (the others are in person)."""
OTHER_PLACE_LIVES = {"confirmed_later", "declined", "checked_out", "no_show"}
"""Lives with the second provider and location (the others have the first)."""


class EHRChangeContract(EHRContractBase):
    intake_forms: tuple[str, ...] = ("Medical History",)
    """Forms staff ask for when confirming: names the EHR takes."""

    def new_patient_contact(self, **changes: Any) -> NewPatientContact:
        values: dict[str, Any] = {
            "first_name": "Marguerite",
            "last_name": "Okafor",
            "date_of_birth": self.birth_date,
            "sex": "female",
            "email": "marguerite.contract@example.com",
            "mobile_phone": "+16175550142",
            "email_allowed": True,
            "sms_allowed": False,
        }
        values.update(changes)
        return NewPatientContact(**values)

    def other_patient_contact(self) -> NewPatientContact:
        """Someone else, reached and agreeing otherwise."""
        return self.new_patient_contact(
            first_name="Tobias",
            last_name="Lindqvist",
            date_of_birth=self.other_birth_date,
            sex="male",
            email=None,
            mobile_phone="+16175550187",
            email_allowed=False,
            sms_allowed=True,
        )

    def _reason(self, adapter: EHRAdapter) -> EHRVisitReason:
        """A visit reason with a length, other than the 45 minutes the contract requests if
        the EHR has one: confirming with it must change the duration."""
        timed = [reason for reason in adapter.list_visit_reasons() if reason.duration_minutes]
        assert timed, "list_visit_reasons answered no reason with a length to confirm with"
        return next((reason for reason in timed if reason.duration_minutes != 45), timed[0])

    def _story(
        self, adapter: EHRAdapter, staff: EHRStaff, life: Sequence[Step], **place: Any
    ) -> _Story:
        story = _Story(self, adapter, staff, self._reason(adapter), **place)
        for step in life:
            step(story)
        return story

    def _group(self, adapter: EHRAdapter, staff: EHRStaff, **place: Any) -> tuple[_Story, str]:
        """A group of three booked by staff, whose second patient is checked in: the story
        and that patient's id."""
        patients = [
            staff.add_patient(self.new_patient_contact()),
            staff.add_patient(self.other_patient_contact()),
            staff.add_patient(self.new_patient_contact(first_name="Imogen")),
        ]
        story = _Story(self, adapter, staff, self._reason(adapter), **place)
        story.book_group(patients)
        story.attend("checked_in", patients[1])
        return story, patients[1]

    # -- the feed -----------------------------------------------------------------------

    @pytest.mark.parametrize("life", list(LIVES))
    def test_each_thing_done_to_an_appointment_is_one_change(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff, life: str
    ) -> None:
        story = self._story(
            ehr_adapter,
            ehr_staff,
            LIVES[life],
            telehealth=life in TELEHEALTH_LIVES,
            other_place=life in OTHER_PLACE_LIVES,
        )
        story.assert_told_by(_read_on(ehr_adapter, None)[0])

    def test_a_group_lists_each_patient_in_their_own_state(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        story, checked_in = self._group(ehr_adapter, ehr_staff)
        others = [patient for patient in story.attendees if patient != checked_in]
        story.attend("no_show", others[0])
        story.attend("checked_out", checked_in)
        story.assert_told_by(_read_on(ehr_adapter, None)[0])

    def test_the_feed_read_one_change_at_a_time_gives_each_change_once_in_order(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        self._story(ehr_adapter, ehr_staff, LIVES["rescheduled"])
        self._story(ehr_adapter, ehr_staff, LIVES["no_show"], hours_later=3, other_place=True)
        everything = [change.change_id for change in _read_on(ehr_adapter, None)[0]]
        read: list[str] = []
        cursor: str | None = None
        for _ in range(len(everything) + 1):
            page = ehr_adapter.read_changes(cursor, limit=1)
            assert len(page.changes) <= 1, "read_changes answered more changes than its limit"
            if not page.changes:
                break
            change_id = page.changes[0].change_id
            assert change_id not in read, "read_changes answered a change already read"
            read.append(change_id)
            cursor = page.cursor
            rest = [change.change_id for change in _read_on(ehr_adapter, cursor)[0]]
            assert rest == everything[len(read) :], (
                f"reading on from the cursor of page {len(read)} answered other changes than "
                "the ones after it"
            )
        assert read == everything, "read one at a time, the feed skipped or reordered changes"
        assert _read_on(ehr_adapter, page.cursor)[0] == [], (
            "reading from the cursor of the empty last page answered changes already read"
        )

    def test_the_feed_from_its_last_cursor_is_empty_until_a_new_change(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        story = self._story(ehr_adapter, ehr_staff, LIVES["requested"])
        _, end = _read_on(ehr_adapter, None)
        page = ehr_adapter.read_changes(end)
        assert page.changes == (), "reading from the end of the feed answered changes"
        assert ehr_adapter.read_changes(page.cursor).changes == (), (
            "reading from the cursor of an empty page answered changes already read"
        )
        story.confirm()
        after = ehr_adapter.read_changes(page.cursor)
        assert [change.kind for change in after.changes] == ["confirmed"], (
            "reading from the end of the feed after one change did not answer just that change"
        )
        assert ehr_adapter.read_changes(after.cursor).changes == (), (
            "reading on after the new change answered changes already read"
        )

    def test_a_cursor_the_feed_never_gave_is_an_invalid_cursor(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        # On InvalidCursor the core reads the feed again from its start (it was reset, or the
        # practice now reads another EHR); any other answer has it fail, or read nothing, at
        # every poll for ever. 32 random hex digits are no EHR's cursor, and not too long to
        # be sent as one.
        with pytest.raises(InvalidCursor):
            ehr_adapter.read_changes(uuid4().hex)

    # -- webhooks -----------------------------------------------------------------------

    def _webhooks(
        self, adapter: EHRAdapter, staff: EHRStaff
    ) -> tuple[list[SentWebhook], list[EHRChange]]:
        """An appointment requested and confirmed, and a group with one patient checked in:
        the webhooks the EHR sent, and the feed's changes of these appointments."""
        stories = [
            self._story(adapter, staff, LIVES["confirmed"], telehealth=True),
            self._group(adapter, staff, hours_later=3, other_place=True)[0],
        ]
        ours = {story.appointment_id for story in stories}
        feed = [c for c in _read_on(adapter, None)[0] if c.appointment_id in ours]
        sent = staff.webhooks_sent()
        assert sent, "the EHR sent no webhook (or ehr_staff.webhooks_sent found none)"
        return sent, feed

    def test_a_webhook_tells_the_same_change_as_the_feed(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        sent, feed = self._webhooks(ehr_adapter, ehr_staff)
        in_feed = {change.change_id: change for change in feed}
        announced = set()
        for number, webhook in enumerate(sent, start=1):
            verified = _verify(ehr_adapter, webhook, datetime.now(UTC))
            assert verified.message_id, f"webhook {number} verified without a message id"
            for change in verified.changes:
                if change.change_id in in_feed:
                    assert change == in_feed[change.change_id], (
                        f"webhook {number} tells its change otherwise than the feed"
                    )
                    announced.add(change.change_id)
        assert announced == set(in_feed), "some changes in the feed came by no webhook"

    def test_a_tampered_webhook_is_refused(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        sent, _ = self._webhooks(ehr_adapter, ehr_staff)
        headers, body = sent[-1]
        first, second = (f'"{provider_id}"'.encode() for provider_id in self.provider_ids)
        swapped = body.replace(first, b"\0").replace(second, first).replace(b"\0", second)
        tampered = {"a space added": body + b" ", "the providers swapped": swapped}
        patients = [self.new_patient(), self.new_patient_contact(), self.other_patient_contact()]
        for what, forged in tampered.items():
            if forged == body:
                continue  # the body names no provider as a JSON string
            with pytest.raises(InvalidWebhook) as refused:
                ehr_adapter.parse_webhook(headers, forged, now=datetime.now(UTC))
            assert_no_patient_data(refused.value, patients, f"a webhook with {what}")

    def test_a_webhook_signed_with_another_secret_is_refused(
        self, wrong_secret_ehr_adapter: EHRAdapter, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        sent, _ = self._webhooks(ehr_adapter, ehr_staff)
        for webhook in sent:
            with pytest.raises(InvalidWebhook):
                _verify(wrong_secret_ehr_adapter, webhook, datetime.now(UTC))

    @pytest.mark.parametrize("later", [False, True], ids=["before_signing", "after_signing"])
    def test_a_webhook_verified_far_from_its_signing_time_is_refused(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff, later: bool
    ) -> None:
        sent, _ = self._webhooks(ehr_adapter, ehr_staff)
        signed_at = _verify(ehr_adapter, sent[0], datetime.now(UTC)).signed_at
        now = signed_at + BEYOND_TOLERANCE if later else signed_at - BEYOND_TOLERANCE
        with pytest.raises(InvalidWebhook):
            _verify(ehr_adapter, sent[0], now)

    # -- patients -----------------------------------------------------------------------

    def test_each_patient_is_read_with_their_own_contact_details(
        self, ehr_adapter: EHRAdapter, ehr_staff: EHRStaff
    ) -> None:
        entered = [self.new_patient_contact(), self.other_patient_contact()]
        ids = [ehr_staff.add_patient(patient) for patient in entered]
        for number in (0, 1, 0):
            read = ehr_adapter.read_patient(ids[number])
            wanted = EHRPatientContact(id=ids[number], **entered[number].model_dump())
            wrong = [field for field, value in wanted if getattr(read, field) != value]
            assert not wrong, (
                f"read_patient answered patient {number + 1} otherwise than staff entered them "
                f"in: {', '.join(wrong)}"
            )

    def test_an_unknown_patient_is_a_missing_record(self, ehr_adapter: EHRAdapter) -> None:
        with pytest.raises(MissingRecord):
            ehr_adapter.read_patient(UNKNOWN_ID)
