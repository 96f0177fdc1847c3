"""``EHRAdapterContract``: the conformance suite every EHR adapter passes.

Subclass it in your tests and provide four fixtures::

    class TestMyEHR(EHRAdapterContract):
        provider_ids = ("doc-17", "doc-23")  # two providers your EHR's directory lists
        location_ids = ("main", "annex")  # and two locations

        @pytest.fixture
        def ehr_adapter(self) -> EHRAdapter:
            # a fresh EHR: no patient born on the contract's dates, no change in its feed;
            # verifying webhooks with the secret the EHR signs those to ehr_staff's receiver
            return MyEHRAdapter(..., webhook_secret=SECRET)

        @pytest.fixture
        def ehr_staff(self) -> EHRStaff:
            return MyEHRStaff(...)  # the hands of the same EHR's staff, and its webhooks

        @pytest.fixture
        def unreachable_ehr_adapter(self) -> EHRAdapter:
            return MyEHRAdapter("http://127.0.0.1:9", ...)  # nothing answers there

        @pytest.fixture
        def wrong_secret_ehr_adapter(self) -> EHRAdapter:
            return MyEHRAdapter(..., webhook_secret=OTHER_SECRET)  # not the EHR's secret

``ehr_staff`` (:class:`~integration_core.testing.EHRStaff`) does what a practice's staff do in
the EHR — confirm, decline, cancel, reschedule, check in and out, mark a no-show, enter a
patient, book one patient or a group — and hands over the webhooks the EHR sent meanwhile,
which the contract verifies at the time it reads them.

The contract's patients are born on ``birth_date`` or ``other_birth_date``: every patient the
EHR knows on those days must be one the running test created (override the dates if your EHR
already has patients born then). Appointments start at ``appointment_start``, an evening in a
zone behind UTC, so a slip between local and UTC time changes the day. Matches are decided by
the core's policy (:func:`integration_core.ehr.matching.decide`), so a search may return extra
real candidates, but every candidate born on a contract date must be a patient the test
created, with the demographics the EHR answered the create with.

Staff confirm and book with the first visit reason ``list_visit_reasons`` answers with a length
other than the 45 minutes the contract requests (or any with a length), asking for
``intake_forms`` (default ``("Medical History",)``: override it with forms your EHR takes).
Appointments of one test are hours apart, so no decision clashes with another.

What the tests prove:

* ``test_a_created_patient_is_found_by_name_and_birth_date`` — create answers with the
  demographics given, and a search attaches that patient.
* ``test_near_namesakes_are_told_apart`` — patients differing only in first name, last name or
  date of birth, each searched for before and after it is created, are matched exactly (a
  search that ignores a field or answers from a stale cache fails).
* ``test_a_patient_is_found_whatever_the_spelling[case|unicode_form|whitespace]`` — a search
  finds the patient whatever the case, Unicode form (NFC/NFD) or white space of the names.
* ``test_a_person_never_created_is_new`` — a search invents no one (an accent is a difference).
* ``test_a_patient_created_twice_with_one_key_is_one_patient`` and
  ``test_an_appointment_created_twice_with_one_key_is_one_appointment`` — a replayed create
  answers with the first resource.
* ``test_a_patient_key_reused_with_another_body_is_refused`` and
  ``test_an_appointment_key_reused_with_another_body_is_refused`` — ``ExternalRejected``.
* ``test_a_tentative_appointment_is_created_as_asked[in_person|telehealth]`` — create and
  ``read_appointment`` both answer tentative, with the start, duration, provider, location and
  telehealth flag asked for (both providers and both locations are used).
* ``test_an_appointment_for_an_unknown_patient_is_refused`` — ``ExternalRejected`` or
  ``MissingRecord``.
* ``test_an_unknown_appointment_is_a_missing_record`` — ``MissingRecord``.
* ``test_an_unreachable_ehr_is_a_transient_error[<method>]`` — every protocol method that calls
  the EHR raises ``ExternalUnavailable`` or ``ExternalTimeout`` (the directory listings and
  the feed too: an empty list would read as "no such provider", an empty page as "no change").
* ``test_an_outage_error_carries_no_patient_data`` and
  ``test_a_refusal_carries_no_patient_data`` — no name, email, phone, date of birth, insurance
  or patient note in an error's message, its arguments or the exceptions chained to it.
* ``test_practice_settings_are_readable``.
* ``test_the_providers_it_knows_are_listed`` and ``test_the_locations_it_knows_are_listed`` —
  ``list_providers`` / ``list_locations`` answer with ``provider_ids`` / ``location_ids`` among
  them, each id once, each with a name.
* ``test_visit_reasons_are_listed_with_positive_durations`` — at least one visit reason, each
  id once, each with a name and a duration that is positive or ``None`` (no default length:
  never 0).
* ``test_each_thing_done_to_an_appointment_is_one_change[<life>]`` — an appointment requested
  by practice-sync or booked by staff, then confirmed (at the time asked or an hour later),
  declined, cancelled, rescheduled, checked in, checked out or marked a no-show, is one change
  in the feed per step, in order, with versions 1, 2, 3 …, each with the step's kind and the
  appointment as it then stood: state, start, duration (a confirm's or a booking's visit reason
  sets it), telehealth, provider, location, visit reason, intake forms, staff's reason, and
  its patient in the appointment's state (``patient_id`` ``None``: a single patient's change
  concerns the whole appointment). Lives use both providers and locations, in person and
  telehealth.
* ``test_a_group_lists_each_patient_in_their_own_state`` — in a group booked by staff, one
  patient checked in, another marked a no-show and the first checked out are each a change
  naming that patient, the group staying booked and listing every patient once, each in their
  own state.
* ``test_the_feed_read_one_change_at_a_time_gives_each_change_once_in_order`` — pages of one
  (``limit=1``) give every change once, in the order of the whole feed, and reading on from any
  page's cursor, the empty last page's included, gives exactly the changes after it (a cursor
  that skips one, repeats one or goes back fails).
* ``test_the_feed_from_its_last_cursor_is_empty_until_a_new_change`` — reading from the end of
  the feed, or from an empty page's cursor, answers nothing until staff act, then just that
  change.
* ``test_a_cursor_the_feed_never_gave_is_an_invalid_cursor`` — ``read_changes`` from a cursor
  the EHR never gave raises ``InvalidCursor``: the core then reads the feed again from its
  start, as history, where any other refusal would stop it at every interval.
* ``test_a_webhook_tells_the_same_change_as_the_feed`` — every webhook ``ehr_staff`` reports
  verifies, with a message id, and tells its changes exactly as the feed does; every change of
  the test's appointments comes by a webhook.
* ``test_a_tampered_webhook_is_refused`` — a webhook with a space added to its body, or its
  providers swapped, is ``InvalidWebhook``, with no patient data in the error.
* ``test_a_webhook_signed_with_another_secret_is_refused`` — ``wrong_secret_ehr_adapter``
  refuses every webhook with ``InvalidWebhook``.
* ``test_a_webhook_verified_far_from_its_signing_time_is_refused[before_signing|after_signing]``
  — six minutes before or after the ``signed_at`` it verified with, it is ``InvalidWebhook``.
* ``test_each_patient_is_read_with_their_own_contact_details`` — two patients staff entered,
  reached and agreeing differently, are each read with their own name, date of birth, sex,
  email, mobile phone and consent to email and texts, also when read again after the other.
* ``test_an_unknown_patient_is_a_missing_record`` — ``read_patient`` answers ``MissingRecord``.

To opt out of a test your EHR cannot run, name it with a reason::

    skipped_contract_tests = {"test_practice_settings_are_readable": "no settings API"}

or deselect it (``pytest --deselect`` / ``-k``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import timedelta

import pytest

from integration_core.ehr.matching import Match, decide
from integration_core.ehr.protocol import (
    EHRAdapter,
    EHRAppointment,
    EHRPatient,
    NewAppointment,
    NewPatient,
    PatientQuery,
)
from integration_core.errors import (
    ExternalRejected,
    ExternalTimeout,
    ExternalUnavailable,
    MissingRecord,
)
from integration_core.testing.ehr_change_contract import EHRChangeContract
from integration_core.testing.ehr_contract_base import (
    UNKNOWN_ID,
    Known,
    assert_no_patient_data,
    new_key,
)

__all__ = ["EHRAdapterContract"]

PROTOCOL_METHODS = tuple(
    name
    for name, value in vars(EHRAdapter).items()
    if callable(value) and name[0] != "_" and name not in ("close", "parse_webhook")
)
"""The methods that call the EHR (``close`` only releases the adapter's connections, and
``parse_webhook`` reads what the EHR sent)."""

RESPELLINGS: dict[str, Callable[[str], str]] = {
    "case": str.upper,
    "unicode_form": lambda name: unicodedata.normalize("NFD", name),
    "whitespace": lambda name: "  " + "   ".join(name.split()) + " ",
}


def _query(patient: NewPatient | EHRPatient) -> PatientQuery:
    return PatientQuery(
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
    )


def _raised(call: Callable[[EHRAdapter], object], adapter: EHRAdapter) -> BaseException | None:
    try:
        call(adapter)
    except Exception as error:
        return error
    return None


def _assert_as_asked(got: EHRAppointment, wanted: NewAppointment, source: str) -> None:
    end = wanted.start + timedelta(minutes=wanted.duration_minutes)
    checks = {
        "state": got.state == "tentative",
        "patient_id": got.patient_id == wanted.patient_id,
        "provider_id": got.provider_id == wanted.provider_id,
        "location_id": got.location_id == wanted.location_id,
        # An aware and a naive datetime are never equal, so a dropped offset shows too.
        "start": got.start == wanted.start,
        "end": got.end == end,
        "telehealth": got.telehealth is wanted.telehealth,
    }
    wrong = [field for field, right in checks.items() if not right]
    assert not wrong, f"{source} differs from the appointment asked for in: {', '.join(wrong)}"


class EHRAdapterContract(EHRChangeContract):
    def _match(
        self, adapter: EHRAdapter, query: PatientQuery, known: Known
    ) -> tuple[Match, EHRPatient | None]:
        """The core's decision on the candidates, each checked to be a real patient."""
        candidates = adapter.find_patients(query)
        for candidate in candidates:
            if candidate.date_of_birth in (self.birth_date, self.other_birth_date):
                assert candidate.id in known, "find_patients answered with a patient never created"
                assert candidate == known[candidate.id], (
                    "find_patients answered with other demographics than the EHR holds"
                )
        return decide(query, candidates)

    def _calls(self) -> dict[str, Callable[[EHRAdapter], object]]:
        """One call of each protocol method, carrying the contract's patient data where the
        method takes any."""
        patient = self.new_patient()
        appointment = self.new_appointment(UNKNOWN_ID)
        return {
            "find_patients": lambda ehr: ehr.find_patients(_query(patient)),
            "create_patient": lambda ehr: ehr.create_patient(patient, idempotency_key=new_key()),
            "create_tentative_appointment": lambda ehr: ehr.create_tentative_appointment(
                appointment, idempotency_key=new_key()
            ),
            "read_appointment": lambda ehr: ehr.read_appointment(UNKNOWN_ID),
            "read_practice_settings": lambda ehr: ehr.read_practice_settings(),
            "list_providers": lambda ehr: ehr.list_providers(),
            "list_locations": lambda ehr: ehr.list_locations(),
            "list_visit_reasons": lambda ehr: ehr.list_visit_reasons(),
            "read_changes": lambda ehr: ehr.read_changes(None),
            "read_patient": lambda ehr: ehr.read_patient(UNKNOWN_ID),
        }

    # -- patients -----------------------------------------------------------------------

    def test_a_created_patient_is_found_by_name_and_birth_date(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        known: Known = {}
        patient = self.new_patient()
        created = self._create(ehr_adapter, patient, known)
        assert self._match(ehr_adapter, _query(patient), known) == (Match.ATTACHED, created), (
            "a search for a patient just created did not attach them"
        )

    def test_near_namesakes_are_told_apart(self, ehr_adapter: EHRAdapter) -> None:
        known: Known = {}
        namesakes = [
            self.new_patient(),
            self.new_patient(first_name="Rosalind"),
            self.new_patient(last_name="Quackenbush"),
            self.new_patient(date_of_birth=self.other_birth_date),
        ]
        for number, person in enumerate(namesakes, start=1):
            assert self._match(ehr_adapter, _query(person), known) == (Match.NEW, None), (
                f"namesake {number} was matched before it was created"
            )
            created = self._create(ehr_adapter, person, known)
            assert self._match(ehr_adapter, _query(person), known) == (Match.ATTACHED, created), (
                f"namesake {number} was not attached once created"
            )
        for number, created in enumerate(known.values(), start=1):
            assert self._match(ehr_adapter, _query(created), known) == (Match.ATTACHED, created), (
                f"namesake {number} was not attached once all were created"
            )

    @pytest.mark.parametrize("spelling", list(RESPELLINGS))
    def test_a_patient_is_found_whatever_the_spelling(
        self, ehr_adapter: EHRAdapter, spelling: str
    ) -> None:
        known: Known = {}
        patient = self.new_patient()
        created = self._create(ehr_adapter, patient, known)
        respell = RESPELLINGS[spelling]
        query = PatientQuery(
            first_name=respell(patient.first_name),
            last_name=respell(patient.last_name),
            date_of_birth=patient.date_of_birth,
        )
        assert query != _query(patient), "the contract's names must change when respelled"
        assert self._match(ehr_adapter, query, known) == (Match.ATTACHED, created), (
            f"a search with the names' {spelling} changed did not attach the patient"
        )

    def test_a_person_never_created_is_new(self, ehr_adapter: EHRAdapter) -> None:
        known: Known = {}
        self._create(ehr_adapter, self.new_patient(), known)
        strangers = [
            self.new_patient(first_name="Wilhelmina", last_name="Quackenbush"),
            self.new_patient(first_name="Zoe Ann", last_name="Nunez"),
            self.new_patient(date_of_birth=self.other_birth_date),
        ]
        for number, stranger in enumerate(strangers, start=1):
            assert self._match(ehr_adapter, _query(stranger), known) == (Match.NEW, None), (
                f"stranger {number}, never created, was matched"
            )

    def test_a_patient_created_twice_with_one_key_is_one_patient(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        key = new_key()
        patient = self.new_patient()
        first = ehr_adapter.create_patient(patient, idempotency_key=key)
        again = ehr_adapter.create_patient(patient, idempotency_key=key)
        assert again == first, "a replayed create_patient answered with another patient"
        assert self._match(ehr_adapter, _query(patient), {first.id: first}) == (
            Match.ATTACHED,
            first,
        ), "a replayed create_patient left a second patient behind"

    def test_a_patient_key_reused_with_another_body_is_refused(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        key = new_key()
        ehr_adapter.create_patient(self.new_patient(), idempotency_key=key)
        with pytest.raises(ExternalRejected):
            ehr_adapter.create_patient(self.new_patient(first_name="Rosalind"), idempotency_key=key)

    # -- appointments -------------------------------------------------------------------

    @pytest.mark.parametrize("telehealth", [False, True], ids=["in_person", "telehealth"])
    def test_a_tentative_appointment_is_created_as_asked(
        self, ehr_adapter: EHRAdapter, telehealth: bool
    ) -> None:
        patient = self._create(ehr_adapter, self.new_patient(), {})
        second = int(telehealth)  # the telehealth case uses the second provider and location
        wanted = self.new_appointment(
            patient.id,
            provider_id=self.provider_ids[second],
            location_id=self.location_ids[second],
            telehealth=telehealth,
        )
        created = ehr_adapter.create_tentative_appointment(wanted, idempotency_key=new_key())
        _assert_as_asked(created, wanted, "create_tentative_appointment")
        read = ehr_adapter.read_appointment(created.id)
        assert read.id == created.id, "read_appointment answered with another appointment"
        _assert_as_asked(read, wanted, "read_appointment")

    def test_an_appointment_created_twice_with_one_key_is_one_appointment(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        patient = self._create(ehr_adapter, self.new_patient(), {})
        wanted = self.new_appointment(patient.id)
        key = new_key()
        first = ehr_adapter.create_tentative_appointment(wanted, idempotency_key=key)
        again = ehr_adapter.create_tentative_appointment(wanted, idempotency_key=key)
        assert again == first, "a replayed create answered with another appointment"

    def test_an_appointment_key_reused_with_another_body_is_refused(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        patient = self._create(ehr_adapter, self.new_patient(), {})
        key = new_key()
        ehr_adapter.create_tentative_appointment(
            self.new_appointment(patient.id), idempotency_key=key
        )
        later = self.new_appointment(patient.id, start=self.appointment_start + timedelta(hours=1))
        with pytest.raises(ExternalRejected):
            ehr_adapter.create_tentative_appointment(later, idempotency_key=key)

    def test_an_appointment_for_an_unknown_patient_is_refused(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        with pytest.raises((ExternalRejected, MissingRecord)):
            ehr_adapter.create_tentative_appointment(
                self.new_appointment(UNKNOWN_ID), idempotency_key=new_key()
            )

    def test_an_unknown_appointment_is_a_missing_record(self, ehr_adapter: EHRAdapter) -> None:
        with pytest.raises(MissingRecord):
            ehr_adapter.read_appointment(UNKNOWN_ID)

    # -- failures -----------------------------------------------------------------------

    @pytest.mark.parametrize("method", PROTOCOL_METHODS)
    def test_an_unreachable_ehr_is_a_transient_error(
        self, unreachable_ehr_adapter: EHRAdapter, method: str
    ) -> None:
        with pytest.raises((ExternalUnavailable, ExternalTimeout)):
            self._calls()[method](unreachable_ehr_adapter)

    def test_an_outage_error_carries_no_patient_data(
        self, unreachable_ehr_adapter: EHRAdapter
    ) -> None:
        given = [self.new_patient(), self.new_appointment(UNKNOWN_ID)]
        for method, call in self._calls().items():
            error = _raised(call, unreachable_ehr_adapter)
            assert_no_patient_data(error, given, f"{method} on an unreachable EHR")

    def test_a_refusal_carries_no_patient_data(self, ehr_adapter: EHRAdapter) -> None:
        patient_key, appointment_key = new_key(), new_key()
        patient = ehr_adapter.create_patient(self.new_patient(), idempotency_key=patient_key)
        ehr_adapter.create_tentative_appointment(
            self.new_appointment(patient.id), idempotency_key=appointment_key
        )
        other_patient = self.new_patient(first_name="Rosalind", email="rosalind@example.com")
        other_appointment = self.new_appointment(
            patient.id, patient_note="Follow-up on the knee brace", insurance_group="GRP-99881"
        )
        unknown = self.new_appointment(UNKNOWN_ID)
        refusals: dict[str, Callable[[EHRAdapter], object]] = {
            "a patient key reused": lambda ehr: ehr.create_patient(
                other_patient, idempotency_key=patient_key
            ),
            "an appointment key reused": lambda ehr: ehr.create_tentative_appointment(
                other_appointment, idempotency_key=appointment_key
            ),
            "an unknown patient's appointment": lambda ehr: ehr.create_tentative_appointment(
                unknown, idempotency_key=new_key()
            ),
        }
        given = [self.new_patient(), other_patient, other_appointment, unknown]
        for situation, call in refusals.items():
            assert_no_patient_data(_raised(call, ehr_adapter), given, situation)

    def test_practice_settings_are_readable(self, ehr_adapter: EHRAdapter) -> None:
        settings = ehr_adapter.read_practice_settings()
        assert isinstance(settings.surveys_enabled, bool)
        assert isinstance(settings.online_scheduler_enabled, bool)

    # -- the directory ------------------------------------------------------------------

    def test_the_providers_it_knows_are_listed(self, ehr_adapter: EHRAdapter) -> None:
        providers = ehr_adapter.list_providers()
        ids = [provider.id for provider in providers]
        assert len(ids) == len(set(ids)), "list_providers answered with an id twice"
        missing = sorted(set(self.provider_ids) - set(ids))
        assert not missing, f"list_providers left out providers the EHR has: {missing}"
        assert all(provider.name.strip() for provider in providers), (
            "list_providers answered with a provider without a name"
        )

    def test_the_locations_it_knows_are_listed(self, ehr_adapter: EHRAdapter) -> None:
        locations = ehr_adapter.list_locations()
        ids = [location.id for location in locations]
        assert len(ids) == len(set(ids)), "list_locations answered with an id twice"
        missing = sorted(set(self.location_ids) - set(ids))
        assert not missing, f"list_locations left out locations the EHR has: {missing}"
        assert all(location.name.strip() for location in locations), (
            "list_locations answered with a location without a name"
        )

    def test_visit_reasons_are_listed_with_positive_durations(
        self, ehr_adapter: EHRAdapter
    ) -> None:
        reasons = ehr_adapter.list_visit_reasons()
        assert reasons, "list_visit_reasons answered with none"
        ids = [reason.id for reason in reasons]
        assert len(ids) == len(set(ids)), "list_visit_reasons answered with an id twice"
        assert all(reason.name.strip() for reason in reasons), (
            "list_visit_reasons answered with a visit reason without a name"
        )
        wrong = sorted(
            reason.id
            for reason in reasons
            if reason.duration_minutes is not None and reason.duration_minutes <= 0
        )
        assert not wrong, (
            f"visit reasons {wrong} have a duration that is not positive "
            "(a reason without a default length has None)"
        )
