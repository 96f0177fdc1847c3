"""The public surface: built-in plugins use ``integration_core.api`` and nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import integration_core
from integration_core import api

ROOT = Path(__file__).parents[2]
PLUGIN_MODULES = sorted((ROOT / "plugins").rglob("*.py"))


def core_imports(path: Path) -> list[str]:
    """Every ``integration_core`` module ``path`` imports, at any depth of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "integration_core":
                found.extend(names[1:])
            elif node.module.startswith("integration_core."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("integration_core"))
    return found


def test_the_rule_sees_every_kind_of_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import integration_core.runtime\n"
        "from integration_core import store\n"
        "from integration_core.api import hookimpl\n"
        "def late():\n    from integration_core.settings import Settings\n"
    )
    assert core_imports(sample) == [
        "integration_core.runtime",
        "integration_core.store",
        "integration_core.api",
        "integration_core.settings",
    ]


@pytest.mark.parametrize("path", PLUGIN_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_built_in_plugins_import_only_the_public_api(path):
    private = [name for name in core_imports(path) if name != "integration_core.api"]
    assert private == [], f"{path.relative_to(ROOT)} reaches past integration_core.api"


def test_everything_the_public_api_names_exists():
    assert len(api.__all__) == len(set(api.__all__))
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert api.hookimpl is integration_core.hookimpl


def test_the_package_is_marked_typed():
    assert (ROOT / "integration_core" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


def python_blocks(path: Path) -> list[str]:
    text = path.read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


@pytest.mark.parametrize("index", range(len(python_blocks(ROOT / "docs" / "plugins.md"))))
def test_the_plugin_guides_examples_use_only_the_public_modules_and_run(index, tmp_path):
    source = python_blocks(ROOT / "docs" / "plugins.md")[index]
    sample = tmp_path / "example.py"
    sample.write_text(source)
    assert set(core_imports(sample)) <= {"integration_core.api", "integration_core.testing"}
    exec(compile(source, str(sample), "exec"), {})


def test_the_plugin_guide_names_every_public_name():
    """Events are named as a family ("the event models"); everything else by its name."""
    guide = (ROOT / "docs" / "plugins.md").read_text()
    unnamed = [
        name
        for name in api.__all__
        if not re.search(rf"\b{re.escape(name)}\b", guide)
        and not (
            isinstance(getattr(api, name), type)
            and issubclass(getattr(api, name), api.LifecycleEvent)
        )
    ]
    assert unnamed == [], "docs/plugins.md, The public API: add " + ", ".join(unnamed)
