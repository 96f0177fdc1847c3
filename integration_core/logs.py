"""Structured logging that keeps patient data out.

Two layers: our own log calls carry ids only (``extra={"delivery_id": …}``), and a filter on
the handler scrubs anything that still looks like an email address or a phone number before a
record is written. Libraries are set so they cannot leak either: httpx/httpcore log URLs at
INFO (quieted to WARNING), uvicorn's access log prints query strings (off), and SQLAlchemy
never echoes parameters (the engine is built with ``echo=False, hide_parameters=True``).

The same filter keeps terminal control out of the stream, whichever the format: libraries'
records arrive here too (uvicorn runs with ``log_config=None``, so its loggers propagate to the
root handler), and uvicorn adds ``color_message``, its message with colour codes, for its own
formatter. That attribute is dropped, and escape sequences are stripped from the message and
from every string extra, so a line is plain text (console) or one JSON object (json).

A record is one line whatever its values hold: a client chooses some of them (a path segment
sent as ``%0A``, say), and a newline there must not start a line of its own. JSON escapes
control characters by itself; the console format writes each one left as its escape
(:func:`one_line`), in the message and every extra alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from integration_core.settings import LoggingSettings

__all__ = [
    "ConsoleFormatter",
    "JsonFormatter",
    "PhiScrubber",
    "configure_logging",
    "one_line",
    "plain",
    "scrub",
]

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{8,}\d(?![\w-])")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
# CSI (colours, cursor moves), OSC (titles, links), the two-byte escapes, then any ESC left over.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_]?)")
# C0, DEL and C1 controls, and the line and paragraph separators some viewers break lines at.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TERMINAL_ONLY = frozenset({"color_message"})
"""Record attributes that exist only to colour a terminal (uvicorn's): never written."""
QUIET_LIBRARIES = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "uvicorn.access": logging.CRITICAL + 1,
    "sqlalchemy.engine": logging.WARNING,
    "sqlalchemy.pool": logging.WARNING,
    "dramatiq": logging.WARNING,
    "alembic": logging.WARNING,  # "Context impl SQLiteImpl" on every schema check
    "pika": logging.CRITICAL,  # a refused connection is reported once, by the broker check
    "aiosmtpd": logging.WARNING,
    "mail.log": logging.WARNING,
}


def _phone(match: re.Match[str]) -> str:
    # A dotted IPv4 address (a client's, in a log line) has the shape of a phone number.
    return match.group() if _IPV4.fullmatch(match.group()) else "[phone]"


def scrub(text: str) -> str:
    """``text`` with email addresses and phone numbers replaced by placeholders."""
    return _PHONE.sub(_phone, _EMAIL.sub("[email]", text))


def plain(text: str) -> str:
    """``text`` without terminal escape sequences (colours, cursor moves, titles)."""
    return _ESCAPE.sub("", text)


def one_line(text: str) -> str:
    """``text`` with each control character written as its escape (``\\n``, ``\\x07``,
    ``\\u2028``): nothing in it can end the line or rewrite what a terminal shows."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


class PhiScrubber(logging.Filter):
    """Make a record safe to write, for either formatter: render the message once, drop the
    terminal-only attributes, strip escape sequences and scrub the message and string extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(plain(record.getMessage()))
        record.args = None
        for key in TERMINAL_ONLY & vars(record).keys():
            delattr(record, key)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, scrub(plain(value)))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    """``time level logger: message key=value …`` for people at a terminal, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD_ATTRS
        )
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        line = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        return one_line(f"{line} {extras}").rstrip()


def configure_logging(settings: LoggingSettings, stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else ConsoleFormatter())
    handler.addFilter(PhiScrubber())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "practice_sync", False):
            root.removeHandler(existing)
    handler.practice_sync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.level)
    for name, level in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(level)
