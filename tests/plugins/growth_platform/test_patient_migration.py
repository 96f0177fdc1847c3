"""The upgrade that lets patient records follow the EHR keeps what records made before it held:
the phone becomes the mobile phone, email stays allowed, texts only where the request agreed,
and of twin records in use for one EHR patient the later is archived, not merged or lost."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import select, text

from integration_core import links
from integration_core.store.migrate import alembic_config, pending_revisions
from plugins.growth_platform.tables import Patient
from tests.support.booking import booking

OLD_PATIENT = text(
    "INSERT INTO gp_patients (id, practice_id, first_name, last_name, date_of_birth, email, "
    "phone, ehr_patient_id, excluded_from_surveys, created_at) VALUES (:id, 'acme', 'Jane', "
    "'Doe', :dob, 'jane.doe@example.com', '+16175550142', :ehr, false, :at)"
)


def test_records_made_before_the_upgrade_keep_their_channels_and_twins_are_archived(
    client, runtime
):
    texts = client.post("/v1/practices/acme/widget/requests", json=booking()).json()
    quiet = client.post(
        "/v1/practices/acme/widget/requests",
        json=booking(start="2027-01-05T09:30:00-05:00", sms_consent=False),
    ).json()
    config = alembic_config(runtime.pm)
    with runtime.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "gp0003")
    assert pending_revisions(runtime.db, runtime.pm) == {"gp0004", "gp0005"}

    now = runtime.clock.now()
    with runtime.db.engine.begin() as connection:
        for patient, ehr, at in (
            ("pat_first", "PAT-1", now),
            ("pat_twin", "PAT-1", now + timedelta(seconds=1)),  # a race of two syncs
            ("pat_quiet", "PAT-2", now),
        ):
            connection.execute(
                OLD_PATIENT, {"id": patient, "dob": "1980-02-29", "ehr": ehr, "at": at}
            )
    with runtime.db.transaction() as session:
        for request, patient in ((texts, "pat_first"), (quiet, "pat_quiet")):
            links.link(
                session,
                practice_id="acme",
                entity="request_patient",
                local=request["request_id"],
                system="growth_platform",
                external=patient,
                now=now,
            )

    runtime.migrate()
    with runtime.db.read() as session:
        kept = {p.id: p for p in session.scalars(select(Patient))}
    assert {
        pid: (p.mobile_phone, p.email_allowed, p.sms_allowed, p.archived_at is not None)
        for pid, p in kept.items()
    } == {
        "pat_first": ("+16175550142", True, True, False),
        "pat_twin": ("+16175550142", True, False, True),
        "pat_quiet": ("+16175550142", True, False, False),
    }
    assert kept["pat_first"].updated_at == kept["pat_first"].created_at
