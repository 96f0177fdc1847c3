"""Meta-tests: every hook spec is documented with its exact signature and an example that
implements it from the public API, and is really called."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from integration_core import api, hookspecs
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


def section(name: str) -> str:
    """The text of hook ``name``'s section of docs/hooks.md."""
    start = DOCS.index(f"## `{name}`\n")
    end = DOCS.find("\n## ", start + 1)
    return DOCS[start : end if end != -1 else None]


def example(name: str) -> str:
    """The one python block of the section that is not the signature."""
    blocks = re.findall(r"```python\n(.*?)```", section(name), re.DOTALL)
    examples = [block for block in blocks if block.strip() != signature_text(name)]
    assert len(examples) == 1, f"docs/hooks.md: {name} needs one example, has {len(examples)}"
    return examples[0]


def implementations(tree: ast.Module, hook: str) -> list[ast.FunctionDef]:
    """Functions marked ``@hookimpl`` that implement ``hook``, by name or ``specname=``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            marker = call.func if call else decorator
            if not (isinstance(marker, ast.Name) and marker.id == "hookimpl"):
                continue
            specname = {k.arg: k.value for k in call.keywords}.get("specname") if call else None
            named = specname.value if isinstance(specname, ast.Constant) else node.name
            if named == hook:
                found.append(node)
    return found


def core_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The example's imports of anything in ``integration_core``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        if any(module.split(".")[0] == "integration_core" for module in modules):
            found.append(node)
    return found


def test_an_implementation_is_found_by_name_or_specname_and_only_with_the_marker():
    tree = ast.parse(
        "@hookimpl\ndef on_request(event): ...\n"
        "@hookimpl(specname='on_request')\ndef record(ctx): ...\n"
        "@hookimpl(trylast=True)\ndef on_cancel(event): ...\n"
        "def on_request(event, ctx): ...\n"
    )
    assert [f.name for f in implementations(tree, "on_request")] == ["on_request", "record"]
    assert [f.name for f in implementations(tree, "on_cancel")] == ["on_cancel"]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_has_an_example_that_implements_it_from_the_public_api(name):
    source = example(name)
    compile(source, f"docs/hooks.md ({name})", "exec")
    tree = ast.parse(source)
    core = core_imports(tree)
    assert core, f"{name}'s example imports nothing from integration_core.api"
    for node in core:
        assert isinstance(node, ast.ImportFrom) and node.module == "integration_core.api", (
            f"{name}'s example imports from {ast.unparse(node)!r}: use integration_core.api"
        )
        unknown = {alias.name for alias in node.names} - set(api.__all__)
        assert not unknown, f"{name}'s example imports {unknown}, not in integration_core.api"
    assert any(alias.name == "hookimpl" for node in core for alias in node.names)

    found = implementations(tree, name)
    assert len(found) == 1, f"{name}'s example needs one @hookimpl function {name} (or specname=)"
    arguments = found[0].args
    taken = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
    offered = inspect.signature(SPECS[name]).parameters
    assert set(taken) - {"self"} <= set(offered), f"{name}'s example takes {taken}"


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
