"""The command line's operator views: ``practice-sync dead-letters list``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from integration_core import hookimpl
from integration_core.cli import ERROR_TEXT_WIDTH, _one_line
from integration_core.context import HookContext
from integration_core.errors import ExternalRejected
from integration_core.events import RequestEvent
from integration_core.testing import drain
from tests.support.commands import CONFIG, run
from tests.support.events import emit_request

ENGINE_ONLY = {"blocked": ["ehr_sync", "notifications"]}
INDENT = "    error: "


class FailsWith:
    """Fails every request event with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    @hookimpl
    def on_request(self, event: RequestEvent, ctx: HookContext) -> None:
        raise self.error


@pytest.fixture
def dead_letters(ps_database_url: str, tmp_path: Path):
    """``dead_letters(*args)``: ``practice-sync dead-letters list <args>`` on the test's
    database, configured with the practice ``acme``."""
    config = tmp_path / "practice-sync.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "PRACTICE_SYNC_DATABASE_URL": ps_database_url}
    env.pop("PRACTICE_SYNC_CONFIG", None)

    def dead_letters(*args: str):
        return run("--config", str(config), "dead-letters", "list", *args, env=env)

    return dead_letters


def listing(stdout: str) -> dict[str, list[str]]:
    """Each delivery's lines, by the id that starts its first line."""
    deliveries: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if line.startswith(" "):
            deliveries[list(deliveries)[-1]].append(line)
        else:
            deliveries[line.split()[0]] = [line]
    return deliveries


def test_each_dead_delivery_shows_its_code_and_error_text_on_one_line(
    ps_runtime_factory, dead_letters
):
    refusal = (
        "the EHR refused the appointment:\n  \x1b[31mslot taken\x1b[0m\r\n\tdetails: "
        + "field " * 100
    )
    runtime = ps_runtime_factory(
        extra_plugins={
            "rejecting": FailsWith(ExternalRejected(refusal, code="ehr_rejected")),
            "buggy": FailsWith(KeyError("jane.doe@example.com")),
        },
        plugins=ENGINE_ONLY,
        retry={"max_attempts": 1},  # an unexpected error is retried; here, not at all
    )
    assert dead_letters().stdout == "no dead deliveries\n"
    emit_request(runtime)
    drain(runtime)
    rows = {row.plugin: row for row in runtime.runner.dead("acme")}
    assert set(rows) == {"rejecting", "buggy"}

    result = dead_letters()
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "jane" not in result.stdout
    shown = listing(result.stdout)
    assert set(shown) == {row.id for row in rows.values()}
    header, error = shown[rows["rejecting"].id]
    assert header.startswith(
        f"{rows['rejecting'].id}  practice=acme plugin=rejecting hook=on_request attempts=1 "
        "code=ehr_rejected at="
    )
    text = error.removeprefix(INDENT)
    assert error.startswith(INDENT)
    assert text.startswith("the EHR refused the appointment: slot taken details: field field")
    assert text.endswith("field…") and len(text) <= ERROR_TEXT_WIDTH
    # An unexpected exception's message may hold anything: only its type was stored.
    assert shown[rows["buggy"].id][1:] == [f"{INDENT}KeyError"]
    assert "code=unexpected_error" in shown[rows["buggy"].id][0]

    assert listing(dead_letters("--practice", "acme").stdout) == shown


def test_an_unknown_practice_is_a_usage_error_that_names_it(dead_letters):
    result = dead_letters("--practice", "acmee")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Invalid value for '--practice': no practice 'acmee' in the configuration" in (
        result.stderr
    )
    assert "(its practices: acme)" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the EHR is down", "the EHR is down"),
        ("one\ntwo\tthree\x00 \x1b[1mfour\x1b[0m", "one two three four"),
        ("word " * 10, "word word word word…"),  # cut at a word boundary near the end
        ("x" * 30, "x" * 19 + "…"),  # one long token: cut where the width ends
        ("short averyveryverylongtoken", "short averyveryvery…"),  # no boundary near the end
    ],
)
def test_an_error_text_is_one_line_of_at_most_the_width(text, expected):
    line = _one_line(text, width=20)
    assert line == expected and len(line) <= 20
