"""``/metrics``: who may scrape it, what the engine counts as it works, and the database state
read at scrape time — on SQLite and PostgreSQL. (Scaled out, with processes adding up their
counters, in ``tests/examples/test_network.py``.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from integration_core import hookimpl
from integration_core.errors import ConfigError, PermanentError
from integration_core.http.app import create_app
from integration_core.metrics import MULTIPROCESS_ENV, TIMER_LATE_SECONDS, DatabaseState, exposition
from integration_core.runtime import Runtime
from integration_core.store import Database
from integration_core.testing import drain
from integration_core.testing.pytest_plugin import TEST_PRACTICE
from integration_core.timers import schedule
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from tests.support.booking import MONDAY_MORNING, booking
from tests.support.events import emit_request
from tests.support.metrics import value
from tests.support.sandbox_ehr import API_KEY, book_and_sync, sync_overrides

TOKEN = "metrics-token"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


class Scrapes:
    """Scrapes ``/metrics``; ``delta`` compares with the previous scrape, since this process's
    counters also hold earlier tests' work."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.last = self.scrape()

    def scrape(self) -> str:
        response = self.client.get("/metrics", headers=SCRAPER)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return response.text

    def delta(self, name: str, **labels: str) -> float:
        return value(self.now, name, **labels) - value(self.last, name, **labels)

    def next(self) -> str:
        self.last, self.now = getattr(self, "now", self.last), self.scrape()
        return self.now


@pytest.fixture
def runtime(ps_runtime_factory, ps_clock, sandbox_url, network, tmp_path) -> Runtime:
    ps_clock.set(MONDAY_MORNING)
    built: Runtime = ps_runtime_factory(
        **sync_overrides(sandbox_url, tmp_path / "messages"), metrics={"token": TOKEN}
    )
    built.ehr.use(
        "acme",
        KareoLikeAdapter("http://sandbox-ehr", API_KEY, transport=network, transient_retries=0),
    )
    return built


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def test_metrics_answer_only_the_metrics_token(ps_runtime_factory, runtime, client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer token-front-desk"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "unauthorized")
    assert client.get("/metrics", headers=SCRAPER).status_code == 200

    unset = ps_runtime_factory()
    with TestClient(create_app(unset)) as other:
        refused = other.get("/metrics", headers=SCRAPER)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "metrics_disabled"
    assert "PRACTICE_SYNC_METRICS__TOKEN" in refused.json()["error"]["message"]


def test_a_synced_request_is_counted_event_delivery_and_call(client, runtime, ps_clock):
    scrapes = Scrapes(client)
    book_and_sync(client, runtime)
    scrapes.next()

    acme = {"practice": "acme"}
    assert scrapes.delta("practice_sync_events_total", kind="request", **acme) == 1
    assert scrapes.delta("practice_sync_events_total", kind="request_synced", **acme) == 1
    done = {"plugin": "ehr_sync", "hook": "on_request", **acme}
    assert scrapes.delta("practice_sync_deliveries_total", outcome="done", **done) == 1
    assert scrapes.delta("practice_sync_delivery_latency_seconds_count", **done) == 1
    assert scrapes.delta("practice_sync_delivery_run_seconds_count", **done) == 1
    ehr = {"kind": "ehr", "adapter": "kareo_like", **acme}
    for method in ("find_patients", "create_patient", "create_tentative_appointment"):
        calls = scrapes.delta("practice_sync_adapter_call_seconds_count", method=method, **ehr)
        assert calls == 1, method
    sent = {"kind": "channel", "adapter": "file", "method": "send", **acme}
    assert scrapes.delta("practice_sync_adapter_call_seconds_count", **sent) >= 1
    assert value(scrapes.now, "practice_sync_deliveries", status="pending", **acme) == 0
    assert value(scrapes.now, "practice_sync_database_up") == 1


def test_failures_are_counted_as_retries_errors_and_a_growing_wait(
    client, runtime, network, ps_clock
):
    scrapes = Scrapes(client)
    network.down = True
    response = client.post("/v1/practices/acme/widget/requests", json=booking())
    assert response.status_code == 201
    drain(runtime)
    scrapes.next()

    sync = {"practice": "acme", "plugin": "ehr_sync", "hook": "on_request"}
    assert scrapes.delta("practice_sync_deliveries_total", outcome="retry", **sync) == 1
    assert scrapes.delta("practice_sync_deliveries_total", outcome="done", **sync) == 0
    unreachable = {"kind": "ehr", "method": "find_patients", "code": "external_unavailable"}
    assert scrapes.delta("practice_sync_adapter_errors_total", **unreachable) == 1
    assert value(scrapes.now, "practice_sync_deliveries", practice="acme", status="pending") == 1

    ps_clock.advance(minutes=10)  # well past its next attempt, which nothing ran
    waited = value(scrapes.next(), "practice_sync_oldest_due_delivery_seconds", practice="acme")
    assert 9 * 60 < waited <= 10 * 60


def test_dead_deliveries_are_counted_and_shown_by_plugin(ps_runtime_factory):
    class Refuses:
        @hookimpl
        def on_request(self, event, ctx):
            raise PermanentError("refused for good")

    runtime = ps_runtime_factory(
        extra_plugins={"refuses": Refuses()},
        plugins={"blocked": ["ehr_sync", "notifications"]},
        metrics={"token": TOKEN},
    )
    with TestClient(create_app(runtime)) as client:
        scrapes = Scrapes(client)
        emit_request(runtime)
        drain(runtime)
        scrapes.next()
    dead = {"practice": "acme", "plugin": "refuses"}
    assert scrapes.delta("practice_sync_deliveries_total", outcome="dead", **dead) == 1
    assert value(scrapes.now, "practice_sync_dead_deliveries", **dead) == 1
    assert value(scrapes.now, "practice_sync_deliveries", practice="acme", status="dead") == 1


def test_a_delivery_whose_worker_died_is_counted_and_logged_when_its_lease_expires(
    ps_runtime_factory, ps_clock, caplog
):
    class Noting:
        @hookimpl
        def on_request(self, event, ctx):
            pass

    runtime = ps_runtime_factory(
        extra_plugins={"noting": Noting()},
        plugins={"blocked": ["ehr_sync", "notifications"]},
        metrics={"token": TOKEN},
    )
    with TestClient(create_app(runtime)) as client:
        scrapes = Scrapes(client)
        emit_request(runtime)
        (delivery_id,) = runtime.outbox.dispatcher.sent
        assert runtime.runner.claim(delivery_id) is not None  # and its worker dies
        runtime.tick()
        scrapes.next()
        assert scrapes.delta("practice_sync_deliveries_total", outcome="lease_expired") == 0

        ps_clock.advance(seconds=runtime.settings.broker.claim_lease_seconds + 1)
        runtime.tick()
        scrapes.next()
    expired = {"practice": "acme", "plugin": "noting", "hook": "on_request"}
    assert scrapes.delta("practice_sync_deliveries_total", outcome="lease_expired", **expired) == 1
    [line] = [r for r in caplog.records if r.getMessage().startswith("delivery lease expired")]
    assert (line.levelname, line.delivery_id, line.plugin) == ("WARNING", delivery_id, "noting")


def test_timers_show_as_due_then_late_then_fired(client, runtime, ps_clock):
    scrapes = Scrapes(client)
    with runtime.db.transaction() as session:
        schedule(
            session,
            practice_id="acme",
            owner="notifications",
            kind="metrics_test",
            key="one",
            due_at=ps_clock.now() + timedelta(seconds=10),
            payload={},
            now=ps_clock.now(),
        )
    acme = {"practice": "acme"}
    assert value(scrapes.next(), "practice_sync_timers_due", **acme) == 0
    ps_clock.advance(seconds=10)
    assert value(scrapes.next(), "practice_sync_timers_due", **acme) == 1
    assert value(scrapes.now, "practice_sync_timers_late", **acme) == 0
    ps_clock.advance(seconds=TIMER_LATE_SECONDS)
    assert value(scrapes.next(), "practice_sync_timers_late", **acme) == 1

    runtime.tick()
    scrapes.next()
    assert value(scrapes.now, "practice_sync_timers_due", **acme) == 0
    assert scrapes.delta("practice_sync_timers_fired_total", kind="metrics_test", **acme) == 1


def test_every_configured_practice_has_its_gauges_even_at_zero(ps_runtime_factory, ps_clock):
    runtime = ps_runtime_factory(practices={"acme": TEST_PRACTICE, "beta": TEST_PRACTICE})
    text = exposition(DatabaseState(runtime.db, ps_clock, runtime.settings.practices)).decode()
    series = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    for practice in ("acme", "beta"):
        for status in ("pending", "running", "dead"):
            labels = (("practice", practice), ("status", status))
            assert ("practice_sync_deliveries", labels) in series
        for name in (
            "practice_sync_timers_due",
            "practice_sync_timers_late",
            "practice_sync_oldest_due_delivery_seconds",
        ):
            assert (name, (("practice", practice),)) in series


def test_a_database_that_does_not_answer_is_a_gauge_not_a_failed_scrape(ps_clock):
    unreachable = Database("postgresql://127.0.0.1:9/none")
    text = exposition(DatabaseState(unreachable, ps_clock, ["acme"])).decode()
    assert value(text, "practice_sync_database_up") == 0
    assert "practice_sync_deliveries{" not in text


def test_a_metrics_folder_nobody_can_write_to_is_refused_at_start(
    ps_runtime_factory, monkeypatch, tmp_path
):
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as refused:
        ps_runtime_factory()
    assert str(refused.value).splitlines() == [
        f"{MULTIPROCESS_ENV}: '{tmp_path / 'missing'}' is not a writable directory "
        "(every process writes its metrics there)"
    ]
