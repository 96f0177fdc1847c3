"""Meta-tests: every hook spec is documented with its exact signature and is really called."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from integration_core import hookspecs
from integration_core.events import LifecycleEvent, event_types
from integration_core.testing import HookRecorder, drain

DOCS = (Path(__file__).parents[2] / "docs" / "hooks.md").read_text()
SPECS = {
    name: function
    for name, function in vars(hookspecs).items()
    if inspect.isfunction(function) and hasattr(function, "practice_sync_spec")
}
LIFECYCLE = sorted(name for name in SPECS if name.startswith("on_"))


def signature_text(name: str) -> str:
    return f"def {name}{inspect.signature(SPECS[name])}".replace("'", "")


def test_the_hooks_users_asked_for_exist():
    for name in ["on_request", "on_confirm", "on_decline", "on_checkout", "route_review"]:
        assert name in SPECS
    assert {"register_ehr_adapters", "register_channels", "register_routes"} <= set(SPECS)
    assert {"on_request_synced", "on_request_sync_failed", "on_delivery_dead"} <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_is_documented_with_its_exact_signature(name):
    assert f"## `{name}`" in DOCS
    assert signature_text(name) in DOCS, f"docs/hooks.md has a stale signature for {name}"
    doc = inspect.getdoc(SPECS[name]) or ""
    takes = inspect.signature(SPECS[name]).parameters
    assert "Since" in doc, f"{name}'s docstring must name the version it appeared in"
    assert all(f":param {p}:" in doc for p in takes), f"{name}'s docstring must name its params"


def test_docs_name_no_hook_that_does_not_exist():
    documented = {line[4:-1] for line in DOCS.splitlines() if line.startswith("## `")}
    assert documented == set(SPECS)


def test_every_lifecycle_hook_has_an_event_type():
    assert {model.hook_name() for model in event_types().values()} == set(LIFECYCLE)


def synthetic(model: type[LifecycleEvent]) -> LifecycleEvent:
    values: dict[str, object] = {"practice_id": "acme"}
    for field, info in model.model_fields.items():
        if field != "practice_id":
            values[field] = {} if info.annotation == dict[str, str] else f"{field}-value"
    return model(**values)


@pytest.mark.parametrize("hook", LIFECYCLE)
def test_every_lifecycle_hook_is_called_through_the_durable_fan_out(ps_runtime_factory, hook):
    recorder = HookRecorder()
    runtime = ps_runtime_factory(extra_plugins={"recorder": recorder})
    (model,) = [m for m in event_types().values() if m.hook_name() == hook]
    event = synthetic(model)
    with runtime.db.transaction() as session:
        event_id = runtime.outbox.emit(session, event)
    assert recorder.calls == []  # nothing runs before a worker picks it up
    drain(runtime)
    calls = recorder.named(hook)
    assert [(call.event_id, call.event, call.plugin) for call in calls] == [
        (event_id, event, "recorder")
    ]
