"""Tests share helpers through ``tests.support`` and ``integration_core.testing``, never by
importing a conftest or another test module: pytest imports those itself, so a second import
runs them under a second name and ties one test file's helpers to another's fixtures."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TEST_TREE = sorted((ROOT / "tests").rglob("*.py"))


def is_test_module(dotted: str) -> bool:
    return any(part == "conftest" or part.startswith("test_") for part in dotted.split("."))


def imported_test_modules(source: str) -> list[str]:
    """The conftest and ``test_*`` modules ``source`` imports, at any depth, relative or not."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            modules = [base, *(f"{base.rstrip('.')}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.extend(module for module in modules if is_test_module(module))
    return found


def test_the_rule_sees_every_kind_of_import():
    source = (
        "from tests.plugins.growth_platform.conftest import booking\n"
        "from tests.e2e.test_scaled_out import ROOT\n"
        "import tests.conftest\n"
        "from tests.e2e import test_embedded\n"
        "from . import conftest\n"
        "from .test_sync import local_state\n"
        "def late():\n    from ..conftest import API_KEY\n"
        "from tests.support.booking import booking\n"
        "from integration_core.testing import drain\n"
        "import pytest\n"
    )
    assert imported_test_modules(source) == [
        "tests.plugins.growth_platform.conftest",
        "tests.plugins.growth_platform.conftest.booking",
        "tests.e2e.test_scaled_out",
        "tests.e2e.test_scaled_out.ROOT",
        "tests.conftest",
        "tests.e2e.test_embedded",
        ".conftest",
        ".test_sync",
        ".test_sync.local_state",
        "..conftest",
        "..conftest.API_KEY",
    ]


@pytest.mark.parametrize("path", TEST_TREE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_imports_a_conftest_or_another_test_module(path):
    imported = imported_test_modules(path.read_text())
    assert imported == [], f"{path.relative_to(ROOT)} imports {imported}: use tests.support"
