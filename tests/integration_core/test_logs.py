"""Logging keeps patient data out, and stays structured."""

from __future__ import annotations

import io
import json
import logging

import pytest

from integration_core.logs import configure_logging, scrub
from integration_core.settings import LoggingSettings


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(LoggingSettings(level="DEBUG", format="json"), stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+x@example.org now", "mail [email] now"),
        ("call +1 (617) 555-0142 today", "call [phone] today"),
        ("call 617-555-0142", "call [phone]"),
        (
            "delivery 3f2a9c41d0 attempt 2 at 2027-03-14T09:30:00Z",
            "delivery 3f2a9c41d0 attempt 2 at 2027-03-14T09:30:00Z",
        ),
    ],
)
def test_scrub(text, expected):
    assert scrub(text) == expected


def test_records_are_json_with_extras_and_scrubbed(captured):
    log = logging.getLogger("practice_sync.test")
    log.info("sent to %s", "pat@example.com", extra={"delivery_id": "d1", "note": "tel 6175550142"})
    entry = json.loads(captured.getvalue().splitlines()[-1])
    assert entry["message"] == "sent to [email]"
    assert entry["delivery_id"] == "d1"
    assert entry["note"] == "tel [phone]"
    assert entry["level"] == "info"


def test_libraries_that_log_urls_or_parameters_are_quieted(captured):
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("uvicorn.access").getEffectiveLevel() > logging.CRITICAL
    logging.getLogger("httpx").info("HTTP Request: POST https://ehr/patients?name=Jane")
    assert "Jane" not in captured.getvalue()
