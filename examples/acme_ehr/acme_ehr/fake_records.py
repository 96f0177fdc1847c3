"""The fake Acme EHR's data: people, visits and idempotent answers, in memory behind one lock;
its directory of clinicians, sites and visit types.

Served over HTTP by :mod:`acme_ehr.fake_server`. A fault names the field that was wrong, never
the value that was sent.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "DEFAULT_CLINICIANS",
    "DEFAULT_SITES",
    "PREFERENCES",
    "VISIT_TYPES",
    "AcmeRecords",
    "Fault",
    "Json",
]

DEFAULT_CLINICIANS = ("cl-lee", "cl-patel")
DEFAULT_SITES = ("st-downtown", "st-uptown")
NAMES = {
    "cl-lee": "Dr. Morgan Lee",
    "cl-patel": "Dr. Asha Patel",
    "st-downtown": "Downtown",
    "st-uptown": "Uptown",
}
"""Display names of the default clinicians and sites (any other is shown by its id)."""
GENDERS = ("F", "M", "O", "U")
MODES = ("in_person", "virtual")
Json = dict[str, Any]


class Fault(Exception):
    """An error answer: a status, a stable kind and, for a bad body, the field's name."""

    def __init__(self, status: int, kind: str, field: str | None = None) -> None:
        super().__init__(kind)
        self.status, self.kind, self.field = status, kind, field

    def body(self) -> Json:
        return {"fault": {"kind": self.kind, "field": self.field}}


def _object(body: Json, key: str, *, optional: bool = False) -> Json:
    value = body.get(key)
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise Fault(400, "invalid_body", key)
    return value


def _text(body: Json, key: str, *, optional: bool = False, limit: int = 200) -> str:
    value = body.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not (optional or value.strip()) or len(value) > limit:
        raise Fault(400, "invalid_body", key)
    return value


def _birth_date(body: Json, key: str) -> date:
    try:
        return date.fromisoformat(_text(body, key))
    except ValueError:
        raise Fault(400, "invalid_body", key) from None


def _instant(body: Json, key: str) -> datetime:
    try:
        value = datetime.fromisoformat(_text(body, key))
    except ValueError:
        raise Fault(400, "invalid_body", key) from None
    if value.tzinfo is None:
        raise Fault(400, "invalid_body", key)  # a wall-clock time without its offset
    return value.astimezone(UTC)


def _choice(body: Json, key: str, choices: Sequence[str]) -> str:
    value = body.get(key)
    if value not in choices:
        raise Fault(400, "invalid_body", key)
    return str(value)


def _minutes(body: Json, key: str) -> int:
    value = body.get(key)
    if type(value) is not int or not 5 <= value <= 480:
        raise Fault(400, "invalid_body", key)
    return value


def _digest(body: Json) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class AcmeRecords:
    """The fake EHR's data: people, visits and the answers remembered per idempotency token."""

    def __init__(
        self,
        clinicians: Sequence[str] = DEFAULT_CLINICIANS,
        sites: Sequence[str] = DEFAULT_SITES,
        *,
        page_size: int = 25,
    ) -> None:
        self.clinicians = frozenset(clinicians)
        self.sites = frozenset(sites)
        self.silenced: set[str] = set()
        """Clinicians whose patients get no messages from Acme (patient messaging off)."""
        self.page_size = page_size
        self._lock = threading.Lock()
        self._people: dict[str, Json] = {}
        self._visits: dict[str, Json] = {}
        self._answers: dict[tuple[str, str], tuple[str, str]] = {}

    def create(self, endpoint: str, token: str, body: Json) -> tuple[int, Json]:
        """Create once per (endpoint, token): 201, then 200 with the first answer again."""
        digest = _digest(body)
        build = self._new_person if endpoint == "people" else self._new_visit
        with self._lock:
            earlier = self._answers.get((endpoint, token))
            if earlier is not None:
                if earlier[0] != digest:
                    raise Fault(409, "idempotency_token_reused")
                return 200, dict(json.loads(earlier[1]))
            record = build(body)
            self._answers[(endpoint, token)] = (digest, json.dumps(record))
            return 201, record

    def _new_person(self, body: Json) -> Json:
        name = _object(body, "name")
        contact = _object(body, "contact", optional=True)
        person_id = f"pp_{secrets.token_hex(6)}"
        person: Json = {
            "personId": person_id,
            "name": {"given": _text(name, "given"), "family": _text(name, "family")},
            "birthDate": _birth_date(body, "birthDate").isoformat(),
            "gender": _choice(body, "gender", GENDERS),
            "contact": {
                "email": _text(contact, "email", optional=True),
                "mobile": _text(contact, "mobile", optional=True),
            },
        }
        self._people[person_id] = person
        return person

    def _new_visit(self, body: Json) -> Json:
        for key, known in (
            ("personId", self._people),
            ("clinicianId", self.clinicians),
            ("siteId", self.sites),
        ):
            if _text(body, key) not in known:
                raise Fault(422, "unknown_reference", key)
        coverage = _object(body, "coverage", optional=True)
        visit_id = f"vt_{secrets.token_hex(6)}"
        visit: Json = {
            "visitId": visit_id,
            "personId": body["personId"],
            "clinicianId": body["clinicianId"],
            "siteId": body["siteId"],
            "begins": _instant(body, "begins").isoformat().replace("+00:00", "Z"),
            "lengthMinutes": _minutes(body, "lengthMinutes"),
            "mode": _choice(body, "mode", MODES),
            "phase": "pencilled",
            "memo": _text(body, "memo", optional=True, limit=4000),
            "coverage": {
                key: _text(coverage, key, optional=True)
                for key in ("payer", "memberNumber", "groupNumber")
            },
        }
        self._visits[visit_id] = visit
        return visit

    def search(self, body: Json) -> Json:
        """People born on ``birthDate``, a page at a time (Acme searches no names)."""
        born = _birth_date(body, "birthDate").isoformat()
        token = body.get("pageToken") or "0"
        if not isinstance(token, str) or not token.isdigit():
            raise Fault(400, "invalid_body", "pageToken")
        start = int(token)
        with self._lock:
            found = [p for p in self._people.values() if p["birthDate"] == born]
        page = found[start : start + self.page_size]
        more = start + self.page_size < len(found)
        return {"people": page, "nextPageToken": str(start + self.page_size) if more else None}

    def person(self, person_id: str) -> Json:
        with self._lock:
            return self._found(self._people.get(person_id))

    def visits_of(self, person_id: str) -> Json:
        with self._lock:
            self._found(self._people.get(person_id))
            return {"visits": [v for v in self._visits.values() if v["personId"] == person_id]}

    def visit(self, visit_id: str) -> Json:
        with self._lock:
            return self._found(self._visits.get(visit_id))

    def clinician_list(self) -> Json:
        return {
            "clinicians": [
                {
                    "clinicianId": clinician,
                    "displayName": NAMES.get(clinician, clinician),
                    "patientMessaging": clinician not in self.silenced,
                }
                for clinician in sorted(self.clinicians)
            ]
        }

    def site_list(self) -> Json:
        return {
            "sites": [
                {"siteId": site, "label": NAMES.get(site, site)} for site in sorted(self.sites)
            ]
        }

    @staticmethod
    def _found(record: Json | None) -> Json:
        if record is None:
            raise Fault(404, "not_found")
        return dict(record)


PREFERENCES = {
    "patientSurveys": False,
    "onlineBooking": False,
    "clinicianProfilesPublic": False,
    "webPresence": False,
    "intakeForms": True,
}

VISIT_TYPES = {
    "visitTypes": [
        {"visitTypeId": "vt-annual", "label": "Annual checkup", "defaultLengthMinutes": 30},
        {"visitTypeId": "vt-follow-up", "label": "Follow-up", "defaultLengthMinutes": 20},
        {"visitTypeId": "vt-other", "label": "Other", "defaultLengthMinutes": None},
    ]
}
"""Acme's visit types; one has no default length (staff set it per visit)."""
