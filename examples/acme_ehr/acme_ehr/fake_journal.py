"""The fake Acme EHR's journal: one entry for each change to a visit, read on from a cursor.

An entry, in Acme's words: its ``entryId``, the ``visitId`` and the visit's ``revision`` (1 for
its first entry, one more for each after), the ``action``, when it was ``recordedAt``, the
``personId`` of the one attendee a group action was about (``null`` when it was about the whole
visit), and the ``visit`` as it stood right after.

The records write an entry under their lock, with the change it describes, so entries are in
the order the changes happened: reading on from a page's ``resumeAfter`` gives every later
entry, and never one of that page again.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from acme_ehr.fake_fields import Fault, Json, wire_time

__all__ = ["ACTIONS", "MAX_PAGE_SIZE", "Journal"]

ACTIONS = (
    "pencilled",  # requested through the API, waiting for staff
    "booked",  # made by staff, confirmed at once
    "confirmed",
    "turned_down",
    "cancelled",
    "moved",
    "arrived",
    "completed",
    "did_not_attend",
)
MAX_PAGE_SIZE = 200
_CURSOR = re.compile(r"jr_(0|[1-9][0-9]{0,8})")


class Journal:
    """The entries, oldest first; ``listeners`` hear of each as it is written (the webhooks).

    Not locked itself: its owner, :class:`acme_ehr.fake_records.AcmeRecords`, calls it under
    the lock that guards the visits.
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        listeners: Sequence[Callable[[Json], None]] = (),
    ) -> None:
        self._clock = clock
        self._listeners = tuple(listeners)
        self._entries: list[Json] = []

    def record(self, visit: Json, action: str, person_id: str | None = None) -> Json:
        """Stamp the visit's next revision on ``visit`` and write the entry for it."""
        assert action in ACTIONS, action
        visit["revision"] = visit.get("revision", 0) + 1
        entry: Json = {
            "entryId": f"je_{secrets.token_hex(6)}",
            "visitId": visit["visitId"],
            "revision": visit["revision"],
            "action": action,
            "recordedAt": wire_time(self._clock()),
            "personId": person_id,
            "visit": copy.deepcopy(visit),
        }
        self._entries.append(entry)
        for listener in self._listeners:
            listener(copy.deepcopy(entry))
        return entry

    def page(self, after: str | None, size: int) -> Json:
        """Up to ``size`` entries after the cursor ``after`` (``None``: from the first)."""
        start = self._position(after)
        entries = self._entries[start : start + size]
        return {
            "entries": copy.deepcopy(entries),
            "resumeAfter": f"jr_{start + len(entries)}",
        }

    def _position(self, after: str | None) -> int:
        if after is None:
            return 0
        match = _CURSOR.fullmatch(after)
        if match is None or int(match.group(1)) > len(self._entries):
            raise Fault(400, "invalid_cursor", "after")  # one this journal never gave
        return int(match.group(1))
