"""A failure's code becomes a metric label and a dead letter's column: only snake_case passes."""

from __future__ import annotations

import pytest

from integration_core.errors import (
    ExternalRejected,
    PracticeSyncError,
    describe_failure,
    error_code,
)


class Refused(PracticeSyncError):
    code = "Not A Code"


def test_an_errors_own_code_is_kept():
    assert error_code(ExternalRejected("refused", code="chart_locked")) == "chart_locked"


@pytest.mark.parametrize("given", ["Jane Doe", "jane@example.com", "a" * 65, "", "chart-locked"])
def test_a_code_that_is_not_snake_case_gives_way_to_its_classs(given):
    refused = ExternalRejected("The EHR refused the appointment", code=given)
    assert error_code(refused) == "external_rejected"
    assert describe_failure(refused) == "The EHR refused the appointment (external_rejected)"


def test_a_class_without_a_usable_code_is_an_error():
    assert error_code(Refused("refused")) == "error"


def test_what_is_not_ours_is_unexpected():
    assert error_code(ValueError("jane@example.com")) == "unexpected_error"
