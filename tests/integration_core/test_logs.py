"""Logging keeps patient data out, and stays structured."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration_core.logs import configure_logging, one_line, plain, scrub
from integration_core.settings import LoggingSettings
from integration_core.testing import free_port, wait_until
from integration_core.testing.services import redis_url
from tests.support.commands import CONFIG, run, start


@contextmanager
def configured(log_format: str) -> Iterator[io.StringIO]:
    """The root logger configured as the commands do, writing to the stream yielded; restored
    afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(LoggingSettings(level="DEBUG", format=log_format), stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.fixture
def captured():
    with configured("json") as stream:
        yield stream


@pytest.fixture(params=["json", "console"])
def either_format(request):
    """The log stream in each format: ``(format, stream)``."""
    with configured(request.param) as stream:
        yield request.param, stream


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+x@example.org now", "mail [email] now"),
        ("call +1 (617) 555-0142 today", "call [phone] today"),
        ("call 617-555-0142", "call [phone]"),
        ("call 617.555.0142", "call [phone]"),
        ("client 203.0.113.250 refused", "client 203.0.113.250 refused"),
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Uvicorn running on \x1b[1mhttp://127.0.0.1:8400\x1b[0m",
            "Uvicorn running on http://127.0.0.1:8400",
        ),
        ("\x1b[32mINFO\x1b[0m:     \x1b[38;5;208mstarted\x1b[39;49m", "INFO:     started"),
        ("\x1b]0;a window title\x07done\x1b[2K", "done"),
        ("cut short \x1b[", "cut short "),
        ("a lone \x1b escape", "a lone  escape"),
        ("delivery d1 [attempt 2]", "delivery d1 [attempt 2]"),
    ],
)
def test_plain_strips_terminal_escape_sequences(text, expected):
    assert plain(text) == expected


def test_uvicorns_coloured_copy_of_its_message_is_not_written(either_format):
    log_format, stream = either_format
    # What uvicorn logs on startup: its message, and the same with colour codes as an extra.
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
        "http",
        "127.0.0.1",
        8400,
        extra={
            "color_message": "Uvicorn running on \x1b[1m%s://%s:%d\x1b[0m (Press CTRL+C to quit)"
        },
    )
    (line,) = stream.getvalue().splitlines()
    assert "color_message" not in line
    assert "\x1b" not in line and "\\u001b" not in line
    assert "Uvicorn running on http://127.0.0.1:8400 (Press CTRL+C to quit)" in line
    if log_format == "json":
        assert json.loads(line)["logger"] == "uvicorn.error"


def test_escape_sequences_are_stripped_from_message_and_string_extras(either_format):
    log_format, stream = either_format
    logging.getLogger("practice_sync.test").warning(
        "\x1b[31mdelivery failed\x1b[0m for %s",
        "\x1b[1md1\x1b[0m",
        extra={"error_code": "\x1b[33mexternal_unavailable\x1b[0m", "attempt": 2},
    )
    (line,) = stream.getvalue().splitlines()
    assert "\x1b" not in line and "\\u001b" not in line
    if log_format == "json":
        entry = json.loads(line)
        assert entry["message"] == "delivery failed for d1"
        assert (entry["error_code"], entry["attempt"]) == ("external_unavailable", 2)
    else:
        assert line.endswith(
            "practice_sync.test: delivery failed for d1 error_code=external_unavailable attempt=2"
        )


def test_a_record_is_one_line_whatever_its_values_hold(either_format):
    log_format, stream = either_format
    # A value a client chose, made to end the line and start one that looks like ours.
    forged = "acme\n09:30:00 info    integration_core.http.security: staff signed in"
    logging.getLogger("practice_sync.test").warning(
        "refused %s\r\n",
        "a\u2028b",
        extra={"practice": forged, "note": "\x00\x07\x08\x0b\x0c\x1c\x7f\x85\u2029\t"},
    )
    (line,) = stream.getvalue().splitlines()  # by every character Python breaks lines at
    if log_format == "json":
        entry = json.loads(line)
        assert (entry["message"], entry["practice"]) == ("refused a\u2028b\r\n", forged)
    else:
        assert line.endswith(
            "practice_sync.test: refused a\\u2028b\\r\\n"
            " practice=acme\\n09:30:00 info    integration_core.http.security: staff signed in"
            " note=\\x00\\x07\\x08\\x0b\\x0c\\x1c\\x7f\\x85\\u2029\\t"
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line\nbreak\r", "line\\nbreak\\r"),
        ("bell\x07 nul\x00 del\x7f csi\x9b", "bell\\x07 nul\\x00 del\\x7f csi\\x9b"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("café ☃ C:\\temp [id] 203.0.113.250", "café ☃ C:\\temp [id] 203.0.113.250"),
    ],
)
def test_one_line_writes_control_characters_as_their_escapes(text, expected):
    assert one_line(text) == expected


def test_escape_sequences_cannot_hide_a_phone_number_from_the_scrubber(captured):
    logging.getLogger("practice_sync.test").info("call 617-\x1b[1m555-0142\x1b[0m")
    assert json.loads(captured.getvalue().splitlines()[-1])["message"] == "call [phone]"


# -- the servers' own output, as real processes -------------------------------------------

SERVER_STARTED = {
    "run": "Uvicorn running on",
    "serve": "Uvicorn running on",
    "worker": "thread(s) started",
    "scheduler": "scheduler: started",
}
SERVER_STOPPED = {
    "run": "Shutting down",
    "serve": "Shutting down",
    "worker": "stopped: everything this process ran is closed",
    "scheduler": "stopped: everything this process ran is closed",
}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """``(folder, environment)`` for one practice on a migrated SQLite file in ``folder``."""
    folder = tmp_path_factory.mktemp("servers")
    config = folder / "practice-sync.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "PRACTICE_SYNC_CONFIG": str(config),
        "PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{folder / 'db.sqlite'}",
    }
    migrate = run("migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    return folder, env


def server_output(
    migrated: tuple[Path, dict[str, str]], command: str, log_format: str, **environment: str
) -> list[str]:
    """The lines ``practice-sync <command>`` writes from its start to a stop by SIGTERM."""
    folder, env = migrated
    log = folder / f"{command}-{log_format}-{secrets.token_hex(4)}.log"
    env = {
        **env,
        "PRACTICE_SYNC_HTTP__PORT": str(free_port()),
        "PRACTICE_SYNC_LOGGING__FORMAT": log_format,
        **environment,
    }
    process = start(env, command, log)
    try:
        wait_until(
            lambda: SERVER_STARTED[command] in log.read_text() or process.poll() is not None,
            60,
            f"{command} to start",
        )
        assert process.poll() is None, log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    output = log.read_text()
    assert code == 0, output
    assert SERVER_STOPPED[command] in output
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "command",
    [
        "run",
        pytest.param("serve", marks=pytest.mark.redis),
        pytest.param("worker", marks=pytest.mark.redis),
        pytest.param("scheduler", marks=pytest.mark.redis),
    ],
)
def test_in_json_every_line_a_server_writes_is_a_json_object(migrated, command):
    # serve, worker and scheduler refuse the in-process broker: they share Redis.
    broker = (
        {}
        if command == "run"
        else {
            "PRACTICE_SYNC_BROKER__URL": redis_url(),
            "PRACTICE_SYNC_BROKER__QUEUE": f"ps_test_{secrets.token_hex(4)}",
        }
    )
    lines = server_output(migrated, command, "json", **broker)
    assert not [line for line in lines if "\x1b[" in line]
    entries = []
    for line in lines:
        entry = json.loads(line)  # every line, uvicorn's and our start line included
        assert isinstance(entry, dict), line
        entries.append(entry)
    messages = [entry["message"] for entry in entries]
    assert all("\x1b" not in str(value) for entry in entries for value in entry.values())
    assert not [entry for entry in entries if "color_message" in entry]
    assert any(SERVER_STARTED[command] in message for message in messages), messages
    if command in ("run", "serve"):
        uvicorn = [entry["message"] for entry in entries if entry["logger"].startswith("uvicorn")]
        assert any(message.startswith("Uvicorn running on http://") for message in uvicorn)
        assert {"Application startup complete.", "Shutting down"} <= set(uvicorn)
    if command == "run":
        # run starts its worker threads and scheduler too, and closes them on the way out
        assert "stopped: everything this process ran is closed" in messages


def test_on_a_terminal_a_server_writes_plain_lines(migrated):
    lines = server_output(migrated, "run", "console")
    assert not [line for line in lines if "\x1b" in line or "color_message" in line]
    assert any("uvicorn.error: Uvicorn running on http://127.0.0.1:" in line for line in lines)
