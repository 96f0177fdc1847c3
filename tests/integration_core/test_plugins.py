"""Plugin loading: entry points, extra modules, the block list, validation, the CLI listing."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from integration_core import hookimpl
from integration_core.errors import ConfigError
from integration_core.plugins import get_plugin_manager, plugin_hooks
from integration_core.settings import Settings
from tests.support.commands import run


def test_built_in_plugins_come_from_entry_points():
    pm = get_plugin_manager(Settings())
    for name in ("ehr_sync", "growth_platform", "ehr_kareo_like", "notifications"):
        assert pm.has_plugin(name)
    assert "on_request_synced" in plugin_hooks(pm)["notifications"]


def test_the_block_list_removes_a_plugin():
    pm = get_plugin_manager(Settings(plugins={"blocked": ["notifications"]}))
    assert not pm.has_plugin("notifications")
    assert {impl.plugin_name for impl in pm.hook.on_request.get_hookimpls()} == {"ehr_sync"}


def test_modules_by_dotted_path_are_loaded_like_entry_points_under_their_declared_name():
    pm = get_plugin_manager(Settings(plugins={"modules": ["tests.support.http_emitter"]}))
    assert plugin_hooks(pm)["http_emitter"] == ["register_cli_commands", "register_routes"]


def test_an_unimportable_module_names_the_config_key():
    with pytest.raises(ConfigError, match=r"plugins\.modules: cannot import 'nowhere\.plugin'"):
        get_plugin_manager(Settings(plugins={"modules": ["nowhere.plugin"]}))


def test_a_misspelled_hook_is_refused_at_start_up():
    class Typo:
        @hookimpl
        def on_reqeust(self, event: object) -> None:
            """Misspelled: would silently never run."""

    with pytest.raises(ConfigError, match="on_reqeust"):
        get_plugin_manager(Settings(), extra={"typo": Typo()})


def test_a_wrong_argument_name_is_refused_at_start_up():
    class Wrong:
        @hookimpl
        def on_request(self, evt: object) -> None:
            """``evt`` is not a parameter of the spec."""

    with pytest.raises(ConfigError, match="evt"):
        get_plugin_manager(Settings(), extra={"wrong": Wrong()})


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(*args, env={**os.environ, **env})


def test_plugins_command_lists_plugins_and_their_hooks():
    result = run_cli(
        "plugins", PRACTICE_SYNC_PLUGINS__MODULES=json.dumps(["tests.support.http_emitter"])
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["http_emitter"] == "register_cli_commands, register_routes"
    assert "on_request" in lines["ehr_sync"].split(", ")


def test_plugins_add_cli_commands():
    result = run_cli(
        "hello-plugin", PRACTICE_SYNC_PLUGINS__MODULES=json.dumps(["tests.support.http_emitter"])
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from http_emitter"
