"""What every part of :class:`~integration_core.testing.EHRAdapterContract` shares: the EHR's
providers, locations and dates it books with, the patients and appointments it asks for, the
opt-outs, and the check that an error carries no patient data."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from pydantic import BaseModel

from integration_core.ehr.matching import same_name
from integration_core.ehr.protocol import EHRAdapter, EHRPatient, NewAppointment, NewPatient

__all__ = [
    "UNKNOWN_ID",
    "EHRContractBase",
    "Known",
    "assert_no_patient_data",
    "new_key",
]

UNKNOWN_ID = "contract-no-such-record"

PATIENT_DATA = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile_phone",
    "date_of_birth",
    "patient_note",
    "insurance_carrier",
    "insurance_member_id",
    "insurance_group",
)
PHONES = ("phone", "mobile_phone")

Known = dict[str, EHRPatient]
"""The patients a test created, by id, as the EHR answered each create."""


def new_key() -> str:
    return f"contract-{uuid4().hex}"


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _patient_data(given: Iterable[BaseModel]) -> Iterator[tuple[str, str]]:
    """(field, text) for every piece of patient data in ``given``, as an error might quote it."""
    for shape in given:
        for field in PATIENT_DATA:
            value = getattr(shape, field, None)
            if isinstance(value, date):
                yield field, value.isoformat()
                yield field, value.strftime("%m/%d/%Y")
            elif value:
                yield field, str(value)
                if field in PHONES:
                    yield field, "".join(c for c in str(value) if c.isdigit())


def _error_texts(error: BaseException) -> Iterator[str]:
    """The message and arguments of ``error`` and of every exception chained to it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield from (str(arg) for arg in current.args)
        current = current.__cause__ or current.__context__


def assert_no_patient_data(
    error: BaseException | None, given: Iterable[BaseModel], situation: str
) -> None:
    if error is None:
        return  # whether it should have failed is another test's business
    text = _fold(" ".join(_error_texts(error)))
    leaked = sorted({field for field, value in _patient_data(given) if _fold(value) in text})
    assert not leaked, f"the error for {situation} carries patient data: {', '.join(leaked)}"


class EHRContractBase:
    provider_ids: tuple[str, str] = ("1001", "1002")
    location_ids: tuple[str, str] = ("downtown", "lakeside")
    birth_date = date(1911, 11, 11)
    other_birth_date = date(1912, 12, 12)
    appointment_start = datetime(2031, 5, 6, 21, 15, tzinfo=timezone(timedelta(hours=-4)))
    skipped_contract_tests: ClassVar[Mapping[str, str]] = {}
    """Contract test name → why this EHR skips it."""

    @pytest.fixture(autouse=True)
    def _skip_opted_out(self, request: pytest.FixtureRequest) -> None:
        reason = self.skipped_contract_tests.get(request.function.__name__)
        if reason is not None:
            pytest.skip(reason)

    # -- the contract's data ------------------------------------------------------------

    def new_patient(self, **changes: Any) -> NewPatient:
        values: dict[str, Any] = {
            "first_name": "Zoë Ann",
            "last_name": "Núñez",
            "date_of_birth": self.birth_date,
            "sex": "female",
            "email": "zoe.ann.contract@example.com",
            "phone": "+16175550199",
        }
        values.update(changes)
        return NewPatient(**values)

    def new_appointment(self, patient_id: str, **changes: Any) -> NewAppointment:
        values: dict[str, Any] = {
            "patient_id": patient_id,
            "provider_id": self.provider_ids[0],
            "location_id": self.location_ids[0],
            "start": self.appointment_start,
            "duration_minutes": 45,
            "telehealth": False,
            "patient_note": "Sore left knee since a ski fall",
            "insurance_carrier": "Bluebonnet Mutual",
            "insurance_member_id": "BBM-4412-0097",
            "insurance_group": "GRP-77310",
        }
        values.update(changes)
        return NewAppointment(**values)

    def _create(self, adapter: EHRAdapter, patient: NewPatient, known: Known) -> EHRPatient:
        """Create ``patient`` (checking the answer's demographics) and add it to ``known``."""
        created = adapter.create_patient(patient, idempotency_key=new_key())
        assert (
            same_name(created.first_name, patient.first_name)
            and same_name(created.last_name, patient.last_name)
            and created.date_of_birth == patient.date_of_birth
        ), "create_patient answered with other demographics than it was given"
        known[created.id] = created
        return created
