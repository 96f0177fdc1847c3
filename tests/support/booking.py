"""The booking practice the booking-platform tests use: three providers over three locations
(two time zones) with seeded calendars, a request body to post, reading the widget's slots,
and changing what is free: a calendar replaced, an appointment booked straight in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from integration_core.records import Appointment, AppointmentStatus, Origin
from plugins.growth_platform.widget import SlotList

WEEKDAYS_9_TO_5_WITH_LUNCH = {
    day: {"enabled": True, "ranges": [["09:00", "12:00"], ["13:00", "17:00"]]}
    for day in ("mon", "tue", "wed", "thu", "fri")
}
PRACTICE: dict[str, Any] = {
    "name": "Acme Family Medicine",
    "locations": {
        "downtown": {"name": "Downtown", "time_zone": "America/New_York"},
        "uptown": {"name": "Uptown", "time_zone": "America/New_York"},
        "lakeside": {"name": "Lakeside", "time_zone": "America/Chicago"},
    },
    "providers": {
        "dr_lee": {
            "name": "Dr. Lee",
            "ehr_id": "1001",
            "locations": ["downtown", "uptown"],
            "telehealth": True,
        },
        "dr_patel": {"name": "Dr. Patel", "ehr_id": "1002", "locations": ["downtown"]},
        "np_garcia": {
            "name": "NP Garcia",
            "ehr_id": "1003",
            "locations": ["lakeside"],
            "telehealth": True,
        },
    },
    "staff_tokens": {"front_desk": "token-front-desk", "manager": "token-manager"},
}
GROWTH: dict[str, Any] = {
    "practices": {
        "acme": {
            "policy_version": "2027-01",
            "cors_origins": ["https://acme.example"],
            "reasons": {
                "checkup": {
                    "name": "Annual checkup",
                    "providers": ["dr_lee", "dr_patel", "np_garcia"],
                    "locations": ["downtown", "uptown", "lakeside"],
                },
                "follow_up": {
                    "name": "Follow-up",
                    "providers": ["dr_lee", "np_garcia"],
                    "locations": ["downtown", "uptown", "lakeside"],
                    "virtual": True,
                },
            },
            "calendars": {
                "dr_lee": {
                    "downtown": {
                        "slot_minutes": 30,
                        "min_notice_minutes": 60,
                        "days": WEEKDAYS_9_TO_5_WITH_LUNCH,
                    },
                    "uptown": {
                        "slot_minutes": 20,
                        "min_notice_minutes": 60,
                        "days": {"mon": {"enabled": True}, "tue": {"enabled": True}},
                    },
                },
                "dr_patel": {
                    "downtown": {
                        "slot_minutes": 30,
                        "min_notice_minutes": 60,
                        "days": WEEKDAYS_9_TO_5_WITH_LUNCH,
                    }
                },
                "np_garcia": {
                    "lakeside": {
                        "slot_minutes": 30,
                        "day_start": "08:00",
                        "day_end": "16:00",
                        "min_notice_minutes": 60,
                        "days": {"mon": {"enabled": True}, "sat": {"enabled": False}},
                    }
                },
            },
        }
    }
}
STAFF = {"Authorization": "Bearer token-front-desk"}
# Monday 4 January 2027, 08:00 in New York.
MONDAY_MORNING = datetime(2027, 1, 4, 13, 0, tzinfo=UTC)


def booking_overrides(**extra: Any) -> dict[str, Any]:
    """Settings overrides (for ``ps_runtime_factory``) making ``acme`` the booking practice."""
    values: dict[str, Any] = {
        "practices": {"acme": PRACTICE},
        "plugins": {"config": {"growth_platform": GROWTH}},
        "rate_limits": {"per_client": "100000/minute", "per_practice": "100000/minute"},
    }
    values.update(extra)
    return values


def slots(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """The widget's open slots for ``params``, checked against its response model."""
    response = client.get("/v1/practices/acme/widget/slots", params=params)
    assert response.status_code == 200, response.text
    SlotList.model_validate_json(response.text)  # the documented response model holds
    return list(response.json()["slots"])


def starts(found: list[dict[str, Any]]) -> list[str]:
    return [slot["start"] for slot in found]


def booking(**overrides: Any) -> dict[str, Any]:
    """A valid widget request body (Jane Doe, Dr. Lee downtown, 5 January 2027 09:00)."""
    body: dict[str, Any] = {
        "provider": "dr_lee",
        "location": "downtown",
        "reason": "checkup",
        "start": "2027-01-05T09:00:00-05:00",
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane.doe@example.com",
        "phone": "(617) 555-0142",
        "date_of_birth": "1980-02-29",
        "sex": "female",
        "privacy_consent": True,
        "sms_consent": True,
        "new_patient": True,
        "insurance_carrier": "Blue Cross",
        "insurance_member_id": "XJH123456789",
        "insurance_group": "G-100",
        "notes": "Knee pain since the marathon",
        "heard_about": "A friend",
    }
    body.update(overrides)
    return body


def put_calendar(client: TestClient, provider: str, location: str, body: dict[str, Any]) -> None:
    """Replace a calendar through the staff API."""
    response = client.put(
        f"/v1/practices/acme/calendars/{provider}/{location}", json=body, headers=STAFF
    )
    assert response.status_code == 200, response.text


def book(
    runtime: Any,
    provider: str,
    location: str,
    start: datetime,
    minutes: int,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    origin: Origin = Origin.EHR,
) -> None:
    """An appointment stored directly, as the EHR sync stores one (EHR origin, booked)."""
    with runtime.db.transaction() as session:
        session.add(
            Appointment(
                id=f"apt{start.timestamp():.0f}{location}",
                practice_id="acme",
                provider_id=provider,
                location_id=location,
                reason_id=None,
                start_at=start,
                end_at=start + timedelta(minutes=minutes),
                status=status,
                origin=origin,
                virtual=False,
                created_at=runtime.clock.now(),
                updated_at=runtime.clock.now(),
            )
        )
