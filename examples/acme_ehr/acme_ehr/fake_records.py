"""The fake Acme EHR's data: people, visits and idempotent answers, in memory behind one lock;
its directory of clinicians, sites and visit types.

Served over HTTP by :mod:`acme_ehr.fake_server`. A visit has ``attendees``, each with a
``phase`` of their own (``pencilled``, ``confirmed``, ``turned_down``, ``cancelled``,
``arrived``, ``completed``, ``did_not_attend``): one for an ``individual`` visit, whose phase
is the visit's, two or more for a ``group`` visit, which stays ``confirmed`` while its
attendees arrive, complete or do not attend. Every change to a visit — its creation and each
staff action (:mod:`acme_ehr.fake_desk`) — is written to the
:class:`~acme_ehr.fake_journal.Journal` under the same lock, so the journal and the visits
never disagree.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from acme_ehr.fake_fields import (
    Fault,
    Json,
    birth_date,
    choice,
    flag,
    instant,
    minutes,
    obj,
    text,
    wire_time,
)
from acme_ehr.fake_journal import Journal

__all__ = [
    "DEFAULT_CLINICIANS",
    "DEFAULT_SITES",
    "MODES",
    "PREFERENCES",
    "VISIT_TYPES",
    "AcmeRecords",
    "Revision",
    "visit_record",
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

Revision = Callable[[Json], tuple[str, str | None]]
"""A staff action on a visit: changes the visit (a copy, kept if it returns) and answers the
journal's action and the attendee it was about (``None``: the whole visit)."""


def _digest(body: Json) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def visit_record(
    *,
    person_ids: Sequence[str],
    clinician_id: str,
    site_id: str,
    begins: datetime,
    length_minutes: int,
    mode: str,
    phase: str,
    visit_type_id: str | None = None,
    requested_reason: str | None = None,
    forms: Sequence[str] = (),
    memo: str = "",
    coverage: Json | None = None,
) -> Json:
    """A new visit as Acme answers it (its ``revision`` is the journal's to stamp)."""
    return {
        "visitId": f"vt_{secrets.token_hex(6)}",
        "format": "group" if len(person_ids) > 1 else "individual",
        "attendees": [{"personId": person, "phase": phase} for person in person_ids],
        "clinicianId": clinician_id,
        "siteId": site_id,
        "begins": wire_time(begins),
        "lengthMinutes": length_minutes,
        "mode": mode,
        "phase": phase,
        "visitTypeId": visit_type_id,
        "requestedReason": requested_reason,
        "forms": list(forms),
        "memo": memo,
        "coverage": coverage or {"payer": "", "memberNumber": "", "groupNumber": ""},
        "staffNote": None,
    }


class AcmeRecords:
    """The fake EHR's data: people, visits and the answers remembered per idempotency token."""

    def __init__(
        self,
        clinicians: Sequence[str],
        sites: Sequence[str],
        *,
        journal: Journal,
        page_size: int = 25,
    ) -> None:
        self.clinicians = frozenset(clinicians)
        self.sites = frozenset(sites)
        self.silenced: set[str] = set()
        """Clinicians whose patients get no messages from Acme (patient messaging off)."""
        self.page_size = page_size
        self._journal = journal
        self._lock = threading.Lock()
        self._people: dict[str, Json] = {}
        self._visits: dict[str, Json] = {}
        self._answers: dict[tuple[str, str], tuple[str, str]] = {}

    def create(self, endpoint: str, token: str, body: Json) -> tuple[int, Json]:
        """Create once per (endpoint, token): 201, then 200 with the first answer again."""
        digest = _digest(body)
        build = self._new_person if endpoint == "people" else self._pencil_visit
        with self._lock:
            earlier = self._answers.get((endpoint, token))
            if earlier is not None:
                if earlier[0] != digest:
                    raise Fault(409, "idempotency_token_reused")
                return 200, dict(json.loads(earlier[1]))
            record = build(body)
            self._answers[(endpoint, token)] = (digest, json.dumps(record))
            return 201, copy.deepcopy(record)

    def book(self, visit: Json) -> Json:
        """Add a visit staff booked (:func:`acme_ehr.fake_desk.booked_visit`)."""
        with self._lock:
            self._check_references(visit)
            self._journal.record(visit, "booked")
            self._visits[visit["visitId"]] = visit
            return copy.deepcopy(visit)

    def revise(self, visit_id: str, revision: Revision) -> Json:
        """Apply a staff action to a visit and journal it; a refused action changes nothing."""
        with self._lock:
            visit = self._found(self._visits.get(visit_id))
            action, person_id = revision(visit)
            self._journal.record(visit, action, person_id)
            self._visits[visit_id] = visit
            return copy.deepcopy(visit)

    def journal_page(self, after: str | None, size: int) -> Json:
        with self._lock:
            return self._journal.page(after, size)

    def _new_person(self, body: Json) -> Json:
        name = obj(body, "name")
        contact = obj(body, "contact", optional=True)
        messaging = obj(body, "messaging", optional=True)
        email = text(contact, "email", optional=True)
        person_id = f"pp_{secrets.token_hex(6)}"
        person: Json = {
            "personId": person_id,
            "name": {"given": text(name, "given"), "family": text(name, "family")},
            "birthDate": birth_date(body, "birthDate").isoformat(),
            "gender": choice(body, "gender", GENDERS),
            "contact": {"email": email, "mobile": text(contact, "mobile", optional=True)},
            # Acme's default: email to whoever gave an address, texts only once agreed to.
            "messaging": {
                "byEmail": flag(messaging, "byEmail", bool(email)),
                "byText": flag(messaging, "byText", False),
            },
        }
        self._people[person_id] = person
        return person

    def _pencil_visit(self, body: Json) -> Json:
        coverage = obj(body, "coverage", optional=True)
        visit = visit_record(
            person_ids=[text(body, "personId")],
            clinician_id=text(body, "clinicianId"),
            site_id=text(body, "siteId"),
            begins=instant(body, "begins"),
            length_minutes=minutes(body, "lengthMinutes"),
            mode=choice(body, "mode", MODES),
            phase="pencilled",
            requested_reason=text(body, "requestedReason", optional=True, limit=100) or None,
            memo=text(body, "memo", optional=True, limit=4000),
            coverage={
                key: text(coverage, key, optional=True)
                for key in ("payer", "memberNumber", "groupNumber")
            },
        )
        self._check_references(visit)
        self._journal.record(visit, "pencilled")
        self._visits[visit["visitId"]] = visit
        return visit

    def _check_references(self, visit: Json) -> None:
        if any(a["personId"] not in self._people for a in visit["attendees"]):
            raise Fault(422, "unknown_reference", "personId")
        if visit["clinicianId"] not in self.clinicians:
            raise Fault(422, "unknown_reference", "clinicianId")
        if visit["siteId"] not in self.sites:
            raise Fault(422, "unknown_reference", "siteId")

    def search(self, body: Json) -> Json:
        """People born on ``birthDate``, a page at a time (Acme searches no names)."""
        born = birth_date(body, "birthDate").isoformat()
        token = body.get("pageToken") or "0"
        if not isinstance(token, str) or not token.isdigit():
            raise Fault(400, "invalid_body", "pageToken")
        start = int(token)
        with self._lock:
            found = [copy.deepcopy(p) for p in self._people.values() if p["birthDate"] == born]
        page = found[start : start + self.page_size]
        more = start + self.page_size < len(found)
        return {"people": page, "nextPageToken": str(start + self.page_size) if more else None}

    def person(self, person_id: str) -> Json:
        with self._lock:
            return self._found(self._people.get(person_id))

    def visits_of(self, person_id: str) -> Json:
        with self._lock:
            self._found(self._people.get(person_id))
            return {
                "visits": [
                    copy.deepcopy(visit)
                    for visit in self._visits.values()
                    if any(a["personId"] == person_id for a in visit["attendees"])
                ]
            }

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
        return copy.deepcopy(record)


PREFERENCES: Json = {
    "patientSurveys": False,
    "onlineBooking": False,
    "clinicianProfilesPublic": False,
    "webPresence": False,
    "intakeForms": True,
}

VISIT_TYPES: Json = {
    "visitTypes": [
        {"visitTypeId": "vt-annual", "label": "Annual checkup", "defaultLengthMinutes": 30},
        {"visitTypeId": "vt-follow-up", "label": "Follow-up", "defaultLengthMinutes": 20},
        {"visitTypeId": "vt-other", "label": "Other", "defaultLengthMinutes": None},
    ]
}
"""Acme's visit types; one has no default length (staff set it per visit)."""
