"""How plugins are named and loaded, and the one-line errors a mistake there gets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from integration_core import hookimpl
from integration_core.errors import ConfigError
from integration_core.plugins import get_plugin_manager, plugin_hooks
from integration_core.settings import Settings

BUILT_IN = {"ehr_sync", "growth_platform", "ehr_kareo_like", "notifications"}


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write plugin modules into importable packages: ``make("a.plugin", source)``."""
    root = tmp_path / "packages"
    monkeypatch.syspath_prepend(str(root))

    def make(dotted: str, source: str = "") -> str:
        *packages, module = dotted.split(".")
        folder = root.joinpath(*packages)
        folder.mkdir(parents=True, exist_ok=True)
        for depth in range(len(packages)):
            (root.joinpath(*packages[: depth + 1]) / "__init__.py").touch()
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
        return dotted

    return make


HOOKED = textwrap.dedent(
    """
    from integration_core.api import hookimpl

    @hookimpl
    def on_checkout(event, ctx):
        pass
    """
)


def refusal(**plugins: object) -> str:
    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(Settings(plugins=plugins))
    message = str(caught.value)
    assert "\n" not in message, f"one line, not a dump: {message!r}"
    return message


def test_two_modules_with_the_same_last_segment_coexist_under_their_dotted_paths(packages):
    modules = [packages("a.plugin", HOOKED), packages("b.plugin", HOOKED)]
    hooks = plugin_hooks(get_plugin_manager(Settings(plugins={"modules": modules})))
    assert hooks["a.plugin"] == hooks["b.plugin"] == ["on_checkout"]
    assert "plugin" not in hooks


def test_a_module_may_declare_its_name(packages):
    dotted = packages("vendor.reviews.plugin", 'PLUGIN_NAME = "vendor_reviews"\n' + HOOKED)
    pm = get_plugin_manager(Settings(plugins={"modules": [dotted]}))
    assert pm.has_plugin("vendor_reviews") and not pm.has_plugin(dotted)


def test_two_plugins_declaring_one_name_are_refused(packages):
    first = packages("one.plugin", 'PLUGIN_NAME = "reviews"\n' + HOOKED)
    second = packages("two.plugin", 'PLUGIN_NAME = "reviews"\n' + HOOKED)
    message = refusal(modules=[first, second])
    assert "two plugins are named 'reviews'" in message
    assert "one.plugin" in message and "two.plugin" in message


def test_a_module_named_like_a_built_in_is_refused(packages):
    dotted = packages("mine.plugin", 'PLUGIN_NAME = "notifications"\n' + HOOKED)
    assert "two plugins are named 'notifications'" in refusal(modules=[dotted])


def test_a_module_listed_twice_is_refused(packages):
    dotted = packages("twice.plugin", HOOKED)
    assert refusal(modules=[dotted, dotted]) == f"plugins.modules: {dotted!r} is listed twice"


def test_an_installed_plugin_listed_again_as_a_module_is_refused():
    assert refusal(modules=["plugins.notifications.plugin"]) == (
        "plugins.modules: 'plugins.notifications.plugin' is the installed plugin "
        "'notifications' (an entry point), loaded already; remove it from plugins.modules"
    )


def test_a_hook_named_function_left_unmarked_is_refused(packages):
    dotted = packages("unmarked.plugin", "def on_checkout(event, ctx):\n    pass\n")
    assert refusal(modules=[dotted]) == (
        f"plugins: {dotted}: on_checkout is named like a hook but not marked @hookimpl, "
        "so it would never be called"
    )


def test_an_unknown_name_in_the_block_list_is_refused():
    message = refusal(blocked=["notifcations"])
    assert message.startswith("plugins.blocked: no plugin named 'notifcations' (installed: ")
    assert "notifications" in message


def test_enabled_loads_only_the_plugins_it_names():
    pm = get_plugin_manager(Settings(plugins={"enabled": ["ehr_sync", "growth_platform"]}))
    loaded = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert loaded == {"ehr_sync", "growth_platform"}


def test_an_unknown_name_in_the_enabled_list_is_refused():
    assert refusal(enabled=["ehr_sync", "growth"]).startswith(
        "plugins.enabled: no plugin named 'growth' (installed: "
    )


def test_a_misspelled_hook_names_the_plugin_and_the_nearest_hook(packages):
    dotted = packages(
        "typo.plugin",
        """
        from integration_core.api import hookimpl

        @hookimpl
        def on_reqeust(event, ctx):
            pass
        """,
    )
    assert refusal(modules=[dotted]) == (
        f"plugins: {dotted}: unknown hook 'on_reqeust' (did you mean on_request?)"
    )


def test_a_parameter_the_hook_does_not_pass_is_refused_in_one_line():
    class Wrong:
        @hookimpl
        def on_request(self, evt: object) -> None:
            """``evt`` is not a parameter of the spec."""

    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(Settings(), extra={"wrong": Wrong()})
    assert str(caught.value) == (
        "plugins: wrong: on_request takes evt, which the hook does not pass (it passes event, ctx)"
    )


def test_pluggys_own_refusals_are_one_line_naming_the_plugin():
    class NotAWrapper:
        @hookimpl(hookwrapper=True)
        def on_request(self, event: object) -> None:
            """A wrapper must be a generator."""

    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(Settings(), extra={"not_a_wrapper": NotAWrapper()})
    message = str(caught.value)
    assert message.startswith("plugins: not_a_wrapper: ") and "\n" not in message


def test_a_plugin_that_cannot_be_imported_is_named(packages):
    dotted = packages("broken.plugin", "import no_such_module_anywhere\n")
    assert refusal(modules=[dotted]).startswith(f"plugins.modules: cannot import {dotted!r}")
