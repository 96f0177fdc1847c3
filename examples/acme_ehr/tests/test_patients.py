"""``read_patient`` beyond the kit (which reads patients staff entered): what Acme does not know
is ``None``, and a patient practice-sync created has Acme's default consents."""

from __future__ import annotations

from datetime import date

from acme_staff import AcmeStaff
from integration_core.api import EHRAppointment, EHRPatientContact
from integration_core.testing import NewPatientContact

from acme_ehr.adapter import AcmeEHRAdapter


def test_what_acme_does_not_know_of_a_patient_is_none(
    adapter: AcmeEHRAdapter, staff: AcmeStaff
) -> None:
    entered = NewPatientContact(
        first_name="Sam",
        last_name="Reed",
        date_of_birth=date(1990, 4, 2),
        sex=None,  # Acme's "U"
        email=None,  # Acme's ""
        mobile_phone=None,
        email_allowed=False,
        sms_allowed=False,
    )
    person_id = staff.add_patient(entered)
    assert adapter.read_patient(person_id) == EHRPatientContact(
        id=person_id, **entered.model_dump()
    )


def test_a_patient_practice_sync_created_may_be_emailed_but_not_texted(
    adapter: AcmeEHRAdapter, pencilled: EHRAppointment
) -> None:
    contact = adapter.read_patient(pencilled.patient_id)
    assert (contact.email, contact.mobile_phone, contact.sex) == (
        "ottoline.marsh@example.com",
        "+16175550123",
        "female",
    )
    assert (contact.email_allowed, contact.sms_allowed) == (True, False)
