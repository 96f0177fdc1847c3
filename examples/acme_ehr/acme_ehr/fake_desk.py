"""The fake Acme EHR's front desk: what staff do to visits, with the rules Acme holds them to.

Each action takes the visit (a copy the records keep only if the action succeeds) and the
request body, and answers what the journal records: Acme's action, and the attendee it was
about when the visit is a group (``None``: the whole visit).

* ``:confirm`` — ``visitTypeId``, ``begins`` (to move it as well), ``forms``, ``lengthMinutes``
  (needed for a type without a default length); the visit is ``pencilled``.
* ``:turnDown`` — ``note``; the visit is ``pencilled``.
* ``:cancel`` — ``note``; the visit is ``pencilled`` or ``confirmed``.
* ``:move`` — ``begins``, ``lengthMinutes``; the visit is ``pencilled`` or ``confirmed``.
* ``:arrive``, ``:markDidNotAttend`` — ``personId`` (needed for a group); the attendee is
  ``confirmed``.
* ``:complete`` — as ``:arrive``; the attendee has ``arrived``.

Anything else is ``409 wrong_phase``. A whole-visit action moves the attendees still waiting
(``pencilled``, ``confirmed``) with the visit; an attendee's action moves an individual visit
with its one attendee, and leaves a group ``confirmed``.
"""

from __future__ import annotations

from collections.abc import Callable

from acme_ehr.fake_fields import Fault, Json, choice, instant, minutes, names, text, wire_time
from acme_ehr.fake_records import MODES, VISIT_TYPES, visit_record

__all__ = ["STAFF_ACTIONS", "booked_visit"]

LENGTHS: dict[str, int | None] = {
    kind["visitTypeId"]: kind["defaultLengthMinutes"] for kind in VISIT_TYPES["visitTypes"]
}
MAX_FORMS = 10
MAX_GROUP = 20
WAITING = ("pencilled", "confirmed")

StaffAction = Callable[[Json, Json], tuple[str, str | None]]


def _allowed(phase: str, allowed: tuple[str, ...]) -> None:
    if phase not in allowed:
        raise Fault(409, "wrong_phase")


def _length(body: Json, visit_type_id: str) -> int:
    """The visit type's length, unless staff set one (which a type without one needs)."""
    default = LENGTHS[visit_type_id]
    if body.get("lengthMinutes") is None and default is not None:
        return default
    return minutes(body, "lengthMinutes")


def _note(body: Json) -> str | None:
    return text(body, "note", optional=True, limit=1000) or None


def _whole_visit(visit: Json, phase: str) -> None:
    visit["phase"] = phase
    for attendee in visit["attendees"]:
        if attendee["phase"] in WAITING:
            attendee["phase"] = phase


def confirm(visit: Json, body: Json) -> tuple[str, str | None]:
    _allowed(visit["phase"], ("pencilled",))
    visit_type = choice(body, "visitTypeId", list(LENGTHS))
    if body.get("begins") is not None:
        visit["begins"] = wire_time(instant(body, "begins"))
    visit["lengthMinutes"] = _length(body, visit_type)
    visit["visitTypeId"] = visit_type
    visit["forms"] = names(body, "forms", most=MAX_FORMS)
    _whole_visit(visit, "confirmed")
    return "confirmed", None


def turn_down(visit: Json, body: Json) -> tuple[str, str | None]:
    _allowed(visit["phase"], ("pencilled",))
    visit["staffNote"] = _note(body)
    _whole_visit(visit, "turned_down")
    return "turned_down", None


def cancel(visit: Json, body: Json) -> tuple[str, str | None]:
    _allowed(visit["phase"], WAITING)
    visit["staffNote"] = _note(body)
    _whole_visit(visit, "cancelled")
    return "cancelled", None


def move(visit: Json, body: Json) -> tuple[str, str | None]:
    _allowed(visit["phase"], WAITING)
    visit["begins"] = wire_time(instant(body, "begins"))
    if body.get("lengthMinutes") is not None:
        visit["lengthMinutes"] = minutes(body, "lengthMinutes")
    return "moved", None


def _attendee_action(before: str, after: str) -> StaffAction:
    """An action on one attendee, from phase ``before`` to ``after`` (also the action's name)."""

    def act(visit: Json, body: Json) -> tuple[str, str | None]:
        group = visit["format"] == "group"
        person = text(body, "personId", optional=not group) or visit["attendees"][0]["personId"]
        attendee = next((a for a in visit["attendees"] if a["personId"] == person), None)
        if attendee is None:
            raise Fault(422, "unknown_reference", "personId")
        if group:
            _allowed(visit["phase"], ("confirmed",))  # a cancelled group admits no one
        _allowed(attendee["phase"], (before,))
        attendee["phase"] = after
        if not group:
            visit["phase"] = after
        return after, person if group else None

    return act


STAFF_ACTIONS: dict[str, StaffAction] = {
    "confirm": confirm,
    "turnDown": turn_down,
    "cancel": cancel,
    "move": move,
    "arrive": _attendee_action("confirmed", "arrived"),
    "complete": _attendee_action("arrived", "completed"),
    "markDidNotAttend": _attendee_action("confirmed", "did_not_attend"),
}
"""Staff actions by the verb of their route (``POST /v2/visits/{visitId}:<verb>``)."""


def booked_visit(body: Json) -> Json:
    """A visit staff book (``POST /v2/visits:book``), confirmed at once: ``personIds`` (two or
    more make a group), ``clinicianId``, ``siteId``, ``begins``, ``mode``, ``visitTypeId``,
    ``lengthMinutes`` (a type without one), ``forms``?. The records check the references."""
    people = names(body, "personIds", most=MAX_GROUP)
    if not people:
        raise Fault(400, "invalid_body", "personIds")
    visit_type = choice(body, "visitTypeId", list(LENGTHS))
    return visit_record(
        person_ids=people,
        clinician_id=text(body, "clinicianId"),
        site_id=text(body, "siteId"),
        begins=instant(body, "begins"),
        length_minutes=_length(body, visit_type),
        mode=choice(body, "mode", MODES),
        phase="confirmed",
        visit_type_id=visit_type,
        forms=names(body, "forms", most=MAX_FORMS),
    )
