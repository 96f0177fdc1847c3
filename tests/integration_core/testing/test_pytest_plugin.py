"""The kit's settings: tests load the built-in plugins and the ones they name, nothing else."""

from __future__ import annotations

from integration_core.plugins import get_plugin_manager
from integration_core.testing import BUILT_IN_PLUGINS, build_settings

EMITTER = "tests.support.http_emitter"
"""Stands for a third-party plugin installed in the test environment."""


def loaded(**overrides) -> set[str]:
    pm = get_plugin_manager(build_settings("sqlite://", **overrides))
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


def test_only_the_built_in_plugins_load_by_default():
    assert loaded() == set(BUILT_IN_PLUGINS)
    assert loaded(plugins={"modules": [EMITTER]}) == set(BUILT_IN_PLUGINS)


def test_a_test_adds_its_plugin_by_name_or_as_an_object():
    by_name = loaded(plugins={"modules": [EMITTER], "enabled": [*BUILT_IN_PLUGINS, "http_emitter"]})
    assert by_name == {*BUILT_IN_PLUGINS, "http_emitter"}
    pm = get_plugin_manager(build_settings("sqlite://"), extra={"mine": object()})
    assert pm.get_plugin("mine") is not None


def test_other_plugin_keys_are_laid_over_the_enabled_list():
    assert loaded(plugins={"blocked": ["notifications"]}) == set(BUILT_IN_PLUGINS) - {
        "notifications"
    }
    assert loaded(plugins={"enabled": []}) == set()
