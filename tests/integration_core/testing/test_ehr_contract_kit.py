"""The EHR adapter contract kit can fail: each broken adapter in
``tests.support.broken_ehr_adapters`` fails exactly the contract tests named here (in their
test calls, not by breaking a fixture), and the intact ``KareoLikeAdapter`` passes them all.

Each adapter runs the kit once, through pytester, as an adapter author's test file would."""

from __future__ import annotations

# sqlite3 and httpcore are imported on first use by a sandboxed adapter. Loaded here, before
# pytester notes the loaded modules, every in-process run shares them instead of importing, then
# dropping, its own copy: slow, and wrong for httpcore, whose errors httpx maps by the classes it
# saw first.
import sqlite3  # noqa: F401

import httpcore  # noqa: F401
import pytest

from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from tests.support import broken_ehr_adapters as broken

pytest_plugins = ["pytester"]

AUTHORS_TEST_FILE = """
from integration_core.testing import EHRAdapterContract
from tests.support.kareo_contract import OnInProcessSandbox
from {module} import {name}


class TestAdapter(OnInProcessSandbox, EHRAdapterContract):
    adapter_class = {name}
    {settings}
"""

NAMESAKES = "test_near_namesakes_are_told_apart"
NEVER_CREATED = "test_a_person_never_created_is_new"
CASE = "test_a_patient_is_found_whatever_the_spelling[case]"
UNICODE_FORM = "test_a_patient_is_found_whatever_the_spelling[unicode_form]"
WHITESPACE = "test_a_patient_is_found_whatever_the_spelling[whitespace]"
IN_PERSON = "test_a_tentative_appointment_is_created_as_asked[in_person]"
TELEHEALTH = "test_a_tentative_appointment_is_created_as_asked[telehealth]"
UNKNOWN_PATIENT = "test_an_appointment_for_an_unknown_patient_is_refused"
UNKNOWN_APPOINTMENT = "test_an_unknown_appointment_is_a_missing_record"
PATIENT_REPLAY = "test_a_patient_created_twice_with_one_key_is_one_patient"
PATIENT_KEY_REUSED = "test_a_patient_key_reused_with_another_body_is_refused"
APPOINTMENT_REPLAY = "test_an_appointment_created_twice_with_one_key_is_one_appointment"
APPOINTMENT_KEY_REUSED = "test_an_appointment_key_reused_with_another_body_is_refused"
UNREACHABLE_SEARCH = "test_an_unreachable_ehr_is_a_transient_error[find_patients]"
UNREACHABLE_SETTINGS = "test_an_unreachable_ehr_is_a_transient_error[read_practice_settings]"
UNREACHABLE_DIRECTORY = {
    f"test_an_unreachable_ehr_is_a_transient_error[{method}]"
    for method in ("list_providers", "list_locations", "list_visit_reasons")
}
PROVIDERS_LISTED = "test_the_providers_it_knows_are_listed"
LOCATIONS_LISTED = "test_the_locations_it_knows_are_listed"
VISIT_REASONS = "test_visit_reasons_are_listed_with_positive_durations"
OUTAGE_ERROR = "test_an_outage_error_carries_no_patient_data"
REFUSAL = "test_a_refusal_carries_no_patient_data"
UNKNOWN_PATIENT_READ = "test_an_unknown_patient_is_a_missing_record"
REQUESTED_LIVES = {
    f"test_each_thing_done_to_an_appointment_is_one_change[{life}]"
    for life in (
        "requested",
        "confirmed",
        "confirmed_later",
        "declined",
        "cancelled",
        "rescheduled",
        "checked_in",
        "checked_out",
    )
}
"""Every appointment's life that begins with practice-sync's request."""
TELEHEALTH_REQUESTED = "test_each_thing_done_to_an_appointment_is_one_change[confirmed]"
GROUP = "test_a_group_lists_each_patient_in_their_own_state"
ONE_AT_A_TIME = "test_the_feed_read_one_change_at_a_time_gives_each_change_once_in_order"
LAST_CURSOR = "test_the_feed_from_its_last_cursor_is_empty_until_a_new_change"
NEVER_GIVEN_CURSOR = "test_a_cursor_the_feed_never_gave_is_an_invalid_cursor"
TAMPERED = "test_a_tampered_webhook_is_refused"
OTHER_SECRET = "test_a_webhook_signed_with_another_secret_is_refused"
FAR_FROM_SIGNING = {
    f"test_a_webhook_verified_far_from_its_signing_time_is_refused[{when}]"
    for when in ("before_signing", "after_signing")
}
CONTACTS = "test_each_patient_is_read_with_their_own_contact_details"

CAUGHT_BY: dict[type[KareoLikeAdapter], set[str]] = {
    broken.SearchCacheWithoutFirstName: {NAMESAKES},
    broken.SearchCacheWithoutLastName: {NAMESAKES},
    broken.SearchCacheWithoutBirthDate: {NAMESAKES},
    broken.CaseSensitiveNames: {CASE},
    broken.UnicodeFormSensitiveNames: {UNICODE_FORM},
    broken.WhitespaceSensitiveNames: {WHITESPACE},
    broken.InventsTheSearchedPatient: {NAMESAKES, NEVER_CREATED},
    broken.EchoesTheSearchedSpelling: {CASE, UNICODE_FORM, WHITESPACE},
    broken.ReportsANewAppointmentBooked: {IN_PERSON, TELEHEALTH},
    broken.StandardSlotLength: {IN_PERSON, TELEHEALTH, *REQUESTED_LIVES},
    broken.WallClockSentAsUTC: {IN_PERSON, TELEHEALTH, *REQUESTED_LIVES},
    broken.ProviderAndLocationCrossed: {IN_PERSON, TELEHEALTH},
    broken.TelehealthNotSent: {TELEHEALTH, TELEHEALTH_REQUESTED},
    broken.TelehealthReadFromVisitReason: {TELEHEALTH},
    broken.UnknownPatientRetried: {UNKNOWN_PATIENT},
    broken.IdempotencyKeyNotSent: {
        PATIENT_REPLAY,
        PATIENT_KEY_REUSED,
        APPOINTMENT_REPLAY,
        APPOINTMENT_KEY_REUSED,
    },
    broken.KeyPerBody: {PATIENT_KEY_REUSED, APPOINTMENT_KEY_REUSED},
    broken.NotFoundAsRejected: {UNKNOWN_APPOINTMENT, UNKNOWN_PATIENT_READ},
    broken.SearchBestEffortWhenDown: {UNREACHABLE_SEARCH},
    broken.SettingsDefaultWhenDown: {UNREACHABLE_SETTINGS},
    broken.OutageErrorsNameThePatient: {OUTAGE_ERROR},
    broken.RefusalsQuoteTheRequest: {REFUSAL},
    broken.ProviderNameAsId: {PROVIDERS_LISTED},
    broken.LocationNameAsId: {LOCATIONS_LISTED},
    broken.UnsetDurationAsZero: {VISIT_REASONS},
    broken.DirectoryEmptyWhenDown: UNREACHABLE_DIRECTORY,
    broken.PeeksOneChangeAhead: {ONE_AT_A_TIME},
    broken.OverlapsFullPages: {ONE_AT_A_TIME},
    broken.StartsOverAfterAnEmptyPage: {ONE_AT_A_TIME, LAST_CURSOR},
    broken.RefusedCursorAsRejected: {NEVER_GIVEN_CURSOR},
    broken.StartsOverOnARefusedCursor: {NEVER_GIVEN_CURSOR},
    broken.GroupReadAsOnePatient: {GROUP},
    broken.SignatureNotChecked: {TAMPERED, OTHER_SECRET},
    broken.StaleWebhooksAccepted: FAR_FROM_SIGNING,
    broken.ContactsCachedByAccount: {CONTACTS},
}


def run_contract(
    pytester: pytest.Pytester, adapter: type[KareoLikeAdapter], settings: str = ""
) -> tuple[set[str], set[str]]:
    """Run the kit against ``adapter`` (``settings``: more lines for the test class); the names
    of the contract tests that failed, and of those skipped."""
    pytester.makepyfile(
        test_my_ehr=AUTHORS_TEST_FILE.format(
            module=adapter.__module__, name=adapter.__name__, settings=settings
        )
    )
    passed, skipped, failed = pytester.inline_run("-p", "no:cacheprovider").listoutcomes()
    assert passed, "no contract test passed: the test file or its fixtures are broken"
    broke = [report.nodeid for report in failed if report.when != "call"]
    assert not broke, f"failed outside the test call (a broken fixture?): {broke}"
    return (
        {report.nodeid.rpartition("::")[2] for report in failed},
        {report.nodeid.rpartition("::")[2] for report in skipped},
    )


def test_the_reference_adapter_passes_every_contract_test(pytester: pytest.Pytester) -> None:
    assert run_contract(pytester, KareoLikeAdapter) == (set(), set())


@pytest.mark.parametrize(
    ("adapter", "caught_by"),
    [pytest.param(adapter, tests, id=adapter.__name__) for adapter, tests in CAUGHT_BY.items()],
)
def test_a_broken_adapter_fails_the_contract_tests_that_catch_its_bug(
    pytester: pytest.Pytester, adapter: type[KareoLikeAdapter], caught_by: set[str]
) -> None:
    assert run_contract(pytester, adapter) == (caught_by, set())


def test_every_broken_adapter_is_run_against_the_kit() -> None:
    adapters = {
        value
        for value in map(vars(broken).get, broken.__all__)
        if isinstance(value, type) and issubclass(value, KareoLikeAdapter)
    }
    assert adapters == set(CAUGHT_BY)


def test_a_test_opted_out_of_is_skipped(pytester: pytest.Pytester) -> None:
    unknown = {UNKNOWN_APPOINTMENT, UNKNOWN_PATIENT_READ}
    opt_out = f"skipped_contract_tests = dict.fromkeys({sorted(unknown)!r}, 'ids are numbers')"
    outcome = run_contract(pytester, broken.NotFoundAsRejected, opt_out)
    assert outcome == (set(), unknown)
