"""``PRACTICE_SYNC_TRACE_PLUGINS=1``: one line per hook call, never the arguments."""

from __future__ import annotations

import logging

import pytest

from integration_core import hookimpl
from integration_core.errors import ExternalUnavailable
from integration_core.events import RequestEvent
from integration_core.http.app import create_app
from integration_core.testing import HookRecorder, drain
from integration_core.testing.pytest_plugin import TEST_PRACTICE
from integration_core.tracing import TRACE_ENV

SECRET = "trace-secret-token"


class Unavailable:
    """A plugin whose every request delivery fails as if its other system were down."""

    @hookimpl
    def on_request(self, event: RequestEvent) -> None:
        raise ExternalUnavailable("the other system is down")


@pytest.fixture
def traced(monkeypatch, caplog):
    monkeypatch.setenv(TRACE_ENV, "1")
    caplog.set_level(logging.INFO, logger="practice_sync.trace")
    return lambda: [r for r in caplog.records if r.name == "practice_sync.trace"]


def test_start_up_hooks_are_traced_plugin_by_plugin(traced, ps_runtime_factory, caplog):
    runtime = ps_runtime_factory(  # migrates: register_tables, after_migrate
        practices={"acme": {**TEST_PRACTICE, "staff_tokens": {"d": SECRET}}}
    )
    create_app(runtime)
    seen = {(record.hook, record.plugin) for record in traced()}
    assert {
        ("register_ehr_adapters", "ehr_kareo_like"),
        ("register_channels", "notifications"),
        ("settings_model", "notifications"),
        ("check_config", "growth_platform"),
        ("register_tables", "growth_platform"),
        ("after_migrate", "growth_platform"),
        ("register_routes", "growth_platform"),
    } <= seen
    assert all(r.levelno == logging.INFO and r.outcome == "ok" for r in traced())
    assert SECRET not in caplog.text and "Settings(" not in caplog.text


def test_each_delivery_is_one_line_with_its_event_outcome_and_duration(traced, ps_runtime_factory):
    runtime = ps_runtime_factory(
        extra_plugins={"recorder": HookRecorder(), "unavailable": Unavailable()},
        plugins={"enabled": []},  # only the two above
    )
    with runtime.db.transaction() as session:
        event_id = runtime.outbox.emit(
            session, RequestEvent(practice_id="acme", request_id="r1", appointment_id="a1")
        )
    drain(runtime)
    calls = {(r.hook, r.plugin): r for r in traced() if r.hook == "on_request"}
    assert set(calls) == {("on_request", "recorder"), ("on_request", "unavailable")}
    assert calls["on_request", "recorder"].outcome == "ok"
    assert calls["on_request", "unavailable"].outcome == "external_unavailable"
    for record in calls.values():
        assert record.event_id == event_id and record.duration_ms >= 0
        assert record.delivery_id and record.attempt == 1
        assert record.getMessage() == f"hook call on_request {record.plugin}: {record.outcome}"


def test_nothing_is_traced_unless_asked(monkeypatch, caplog, ps_runtime_factory):
    monkeypatch.delenv(TRACE_ENV, raising=False)
    caplog.set_level(logging.DEBUG)
    ps_runtime_factory()
    assert not [r for r in caplog.records if r.name == "practice_sync.trace"]
