"""Booking requests through practice-sync's core in process (the kit's ``book_end_to_end``), with
the adapter the plugin builds from its settings: a new patient, then the same patient again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from integration_core.api import AppointmentStatus, Match
from integration_core.testing import TEST_PRACTICE, book_end_to_end

from acme_ehr.fake_server import FakeAcmeEHR

API_KEY = "booking-key"
# The kit's practice, on Acme: its providers' ids (1001, 1002) and a site id per location.
PRACTICE: dict[str, Any] = {
    **TEST_PRACTICE,
    "ehr_adapter": "acme",
    "locations": {
        slug: {**location, "ehr_id": f"st-{slug}"}
        for slug, location in TEST_PRACTICE["locations"].items()
    },
}


@pytest.fixture
def server() -> Iterator[FakeAcmeEHR]:
    with FakeAcmeEHR(API_KEY, clinicians=("1001", "1002")) as running:
        yield running


def test_requests_become_tentative_visits_and_a_returning_patient_is_attached(
    ps_runtime_factory: Callable[..., Any], server: FakeAcmeEHR
) -> None:
    runtime = ps_runtime_factory(
        practices={"acme": PRACTICE},
        plugins={
            "enabled": ["ehr_sync", "acme_ehr"],
            "config": {
                "acme_ehr": {
                    "practices": {"acme": {"base_url": server.base_url, "api_key": API_KEY}}
                }
            },
        },
    )
    start = datetime(2031, 5, 6, 14, 0, tzinfo=UTC)
    first = book_end_to_end(
        runtime,
        practice_id="acme",
        provider_id="dr_lee",
        location_id="uptown",
        start=start,
        first_name="Ottoline",
        date_of_birth=date(1977, 7, 7),
    )
    again = book_end_to_end(
        runtime,
        practice_id="acme",
        provider_id="dr_patel",
        location_id="downtown",
        start=start + timedelta(days=7),
        virtual=True,
        first_name="OTTOLINE ",
        date_of_birth=date(1977, 7, 7),
    )
    assert (first.status, first.match) == (AppointmentStatus.TENTATIVE, Match.NEW)
    assert (again.status, again.match) == (AppointmentStatus.TENTATIVE, Match.ATTACHED)
    visits = [server.records.visit(b.ehr_appointment_id) for b in (first, again)]
    assert [(v["clinicianId"], v["siteId"], v["mode"], v["phase"]) for v in visits] == [
        ("1001", "st-uptown", "in_person", "pencilled"),
        ("1002", "st-downtown", "virtual", "pencilled"),
    ]
    assert visits[0]["attendees"] == visits[1]["attendees"]  # one person, pencilled twice
    assert datetime.fromisoformat(visits[0]["begins"]) == start
