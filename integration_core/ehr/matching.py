"""Who is this patient in the EHR? First name + last name + date of birth.

No candidate: a new patient in both systems. Exactly one: attach to them. More than one: a
new patient in both systems (records are never merged and a guess could join two people).
Names are compared ignoring case, Unicode form (a composed "é" equals "e" + combining accent)
and surrounding or repeated white space — not ignoring accents, which distinguish names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from enum import StrEnum

from integration_core.ehr.protocol import EHRPatient, PatientQuery

__all__ = ["Match", "decide", "same_name"]


class Match(StrEnum):
    NEW = "new"
    ATTACHED = "attached"
    AMBIGUOUS = "ambiguous"


def _normal(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def same_name(a: str, b: str) -> bool:
    return _normal(a) == _normal(b)


def decide(
    query: PatientQuery, candidates: Sequence[EHRPatient]
) -> tuple[Match, EHRPatient | None]:
    """The match outcome and, when attached, the patient."""
    matches = [
        c
        for c in candidates
        if c.date_of_birth == query.date_of_birth
        and same_name(c.first_name, query.first_name)
        and same_name(c.last_name, query.last_name)
    ]
    if not matches:
        return Match.NEW, None
    if len(matches) == 1:
        return Match.ATTACHED, matches[0]
    return Match.AMBIGUOUS, None
