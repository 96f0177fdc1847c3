"""The matching policy: first name + last name + date of birth; 0, 1 or several candidates."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from integration_core.ehr.matching import Match, decide, same_name
from integration_core.ehr.protocol import EHRPatient, PatientQuery

DOB = date(1980, 2, 29)
QUERY = PatientQuery(first_name="José", last_name="Núñez", date_of_birth=DOB)


def patient(id_: str, first: str = "José", last: str = "Núñez", dob: date = DOB) -> EHRPatient:
    return EHRPatient(id=id_, first_name=first, last_name=last, date_of_birth=dob)


def test_no_candidate_means_a_new_patient():
    assert decide(QUERY, []) == (Match.NEW, None)


def test_exactly_one_candidate_is_attached():
    one = patient("P1")
    assert decide(QUERY, [one, patient("P2", dob=date(1980, 3, 1))]) == (Match.ATTACHED, one)


def test_several_candidates_mean_a_new_patient():
    assert decide(QUERY, [patient("P1"), patient("P2")]) == (Match.AMBIGUOUS, None)


@pytest.mark.parametrize(
    "variant",
    [
        "JOSÉ",
        "josé",
        "  José ",
        unicodedata.normalize("NFD", "José"),  # e + combining accent
    ],
)
def test_case_spacing_and_unicode_form_do_not_matter(variant):
    assert same_name(variant, "José")
    assert decide(QUERY, [patient("P1", first=variant)])[0] is Match.ATTACHED


def test_inner_spacing_is_folded_for_compound_names():
    assert same_name("Mary  Ann", "mary ann")


def test_accents_still_distinguish_names():
    assert not same_name("Jose", "José")
    assert decide(QUERY, [patient("P1", first="Jose")]) == (Match.NEW, None)


def test_a_different_birth_date_is_not_a_match():
    assert decide(QUERY, [patient("P1", dob=date(1980, 2, 28))]) == (Match.NEW, None)
