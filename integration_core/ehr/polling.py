"""The change-feed poller: every ``ehr.poll_interval_seconds`` each practice's EHR feed is read
from its stored cursor and applied, so a lost webhook delays a change by one interval at most.

It runs in every worker (the processes that hold EHR adapters), and the database decides who
reads: a worker claims a practice's cursor row for ``ehr.poll_claim_seconds``, reads page after
page, and applies each page in one transaction that also moves the cursor — only if the cursor
is still where this read began, so two readers (a claim that outlived a slow worker) can repeat
a change, which is then a duplicate, but never move the cursor back. An EHR that cannot be
reached is logged and read again at the next interval; nothing is lost, since the cursor only
moves with what was applied.

An EHR that refuses the stored cursor (``InvalidCursor``: its feed was reset, or the practice
now reads another EHR) would refuse it every interval for ever, and its changes would never come
back. The feed is read again from its start instead, in the same pass, the practice's
``following_since`` moved to now: that history updates the records but tells no patient of old
changes, and the changes already applied are duplicates by their id.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from integration_core.clock import Clock
from integration_core.ehr.adapters import EHRAdapters
from integration_core.ehr.changes import apply_change, lock_practice
from integration_core.errors import InvalidCursor, describe_failure, error_code
from integration_core.outbox import Outbox
from integration_core.settings import Settings
from integration_core.store import Database

__all__ = ["FeedPoller"]

log = logging.getLogger(__name__)
MAX_PAGES = 50
"""Pages one claim reads before letting the next interval go on (bounds a claim's length)."""


class FeedPoller:
    def __init__(
        self, db: Database, settings: Settings, ehr: EHRAdapters, outbox: Outbox, clock: Clock
    ) -> None:
        self.db = db
        self.settings = settings
        self.ehr = ehr
        self.outbox = outbox
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_due(self) -> int:
        """Read every practice's feed that is due and not claimed; how many changes were read."""
        read = 0
        for practice_id, practice in self.settings.practices.items():
            if practice.ehr_adapter is None:
                continue
            claimed, cursor = self._claim(practice_id)
            if claimed:
                try:
                    read += self._read(practice_id, cursor)
                finally:
                    self._release(practice_id)
        return read

    def _claim(self, practice_id: str) -> tuple[bool, str | None]:
        now = self.clock.now()
        with self.db.transaction() as session:
            row = lock_practice(session, practice_id, now)
            if row.next_poll_at > now or (
                row.claimed_until is not None and row.claimed_until > now
            ):
                return False, None
            row.claimed_until = now + timedelta(seconds=self.settings.ehr.poll_claim_seconds)
            return True, row.cursor

    def _read(self, practice_id: str, cursor: str | None) -> int:
        adapter = self.ehr.for_practice(practice_id)
        practice = self.settings.practice(practice_id)
        read = 0
        started_over = False  # once a pass: a feed refusing the cursors it gives is not reread
        for _ in range(MAX_PAGES):
            try:
                page = adapter.read_changes(cursor, limit=self.settings.ehr.poll_page_size)
            except Exception as exc:
                if isinstance(exc, InvalidCursor) and cursor is not None and not started_over:
                    if not self._start_over(practice_id, cursor, exc):
                        return read  # another reader moved on: it goes on
                    cursor, started_over = None, True
                    continue
                log.warning(
                    "EHR change feed not read: %s",
                    describe_failure(exc),
                    extra={"practice_id": practice_id, "error_code": error_code(exc)},
                )
                return read
            now = self.clock.now()
            with self.db.transaction() as session:
                row = lock_practice(session, practice_id, now)
                for change in page.changes:
                    apply_change(
                        session,
                        practice_id=practice_id,
                        practice=practice,
                        outbox=self.outbox,
                        change=change,
                        via="poll",
                        now=now,
                    )
                if row.cursor != cursor:
                    return read + len(page.changes)  # another reader moved on: it goes on
                row.cursor = page.cursor
                row.read_at = now
            read += len(page.changes)
            if not page.changes:
                return read
            cursor = page.cursor
        return read

    def _start_over(self, practice_id: str, refused: str, exc: InvalidCursor) -> bool:
        """Store no cursor, so the feed is read from its start, and make what it holds history
        (``following_since`` now); False, changing nothing, when the stored cursor is no longer
        ``refused``: another reader has moved on since."""
        now = self.clock.now()
        with self.db.transaction() as session:
            row = lock_practice(session, practice_id, now)
            if row.cursor != refused:
                return False
            row.cursor = None
            row.following_since = now
        log.warning(
            "EHR change feed refused the stored cursor: reading it again from its start",
            extra={"practice_id": practice_id, "error_code": error_code(exc)},
        )
        return True

    def _release(self, practice_id: str) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            row = lock_practice(session, practice_id, now)
            row.claimed_until = None
            row.next_poll_at = now + timedelta(seconds=self.settings.ehr.poll_interval_seconds)

    # -- in a worker ----------------------------------------------------------------------

    def start(self) -> None:
        """Poll in a thread of this process, checking every scheduler tick what is due."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_due()
                except Exception as exc:
                    log.error(
                        "EHR feed poll failed: %s",
                        describe_failure(exc),
                        extra={"error_code": error_code(exc)},
                    )
                    log.debug("EHR feed poll failure", exc_info=True)
                self._stop.wait(self.settings.scheduler.tick_seconds)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="ehr-feed-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
