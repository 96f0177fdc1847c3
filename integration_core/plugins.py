"""Building the plugin manager: entry points, extra modules, enable and block lists, validation.

Built-in plugins are found exactly like third-party ones, through the ``practice_sync.plugins``
entry-point group, under the entry point's name. ``plugins.modules`` adds modules by dotted
path (handy while writing a plugin); such a module is named by its ``PLUGIN_NAME`` attribute,
or else by its full dotted path — never by its last segment, so ``a.plugin`` and ``b.plugin``
can coexist. ``plugins.enabled`` (when set) loads only the plugins it names and
``plugins.blocked`` removes any of them by name.

Every mistake is one line naming the plugin and the setting: two plugins with one name, a
module listed twice, a name in ``plugins.enabled`` or ``plugins.blocked`` that no plugin
has, an unknown hook (with the nearest real one), a parameter a hook does not pass.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from integration_core import hookspecs
from integration_core.errors import ConfigError
from integration_core.hookspecs import PROJECT
from integration_core.settings import Settings
from integration_core.tracing import traced, tracing

__all__ = [
    "ENTRY_POINT_GROUP",
    "call_each",
    "get_plugin_manager",
    "hook_calls",
    "implementing_plugins",
    "plugin_hooks",
]

ENTRY_POINT_GROUP = "practice_sync.plugins"
SPECS = {
    name: function
    for name, function in vars(hookspecs).items()
    if callable(function) and hasattr(function, f"{PROJECT}_spec")
}


@dataclass
class _Candidate:
    name: str
    source: str
    """Where it came from, for messages: ``entry point x.y`` or ``plugins.modules x.y``."""
    load: Callable[[], Any]


def _loaded(plugin: Any) -> Callable[[], Any]:
    return lambda: plugin


def _installed(settings: Settings, extra: dict[str, Any]) -> list[_Candidate]:
    """Every plugin that could be loaded, each with its name, refusing clashing names."""
    candidates: dict[str, _Candidate] = {}

    def add(candidate: _Candidate) -> None:
        known = candidates.get(candidate.name)
        if known is not None and known.source != candidate.source:
            raise ConfigError(
                f"plugins: two plugins are named {candidate.name!r} "
                f"({known.source} and {candidate.source}); rename one"
            )
        candidates[candidate.name] = candidate

    installed = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        add(_Candidate(ep.name, f"entry point {ep.value}", ep.load))
        installed[ep.value] = ep.name
    seen: set[str] = set()
    for dotted in settings.plugins.modules:
        if dotted in seen:
            raise ConfigError(f"plugins.modules: {dotted!r} is listed twice")
        if dotted in installed:
            raise ConfigError(
                f"plugins.modules: {dotted!r} is the installed plugin {installed[dotted]!r} "
                "(an entry point), loaded already; remove it from plugins.modules"
            )
        seen.add(dotted)
        try:
            module = importlib.import_module(dotted)
        except ImportError as exc:
            raise ConfigError(f"plugins.modules: cannot import {dotted!r}: {exc}") from None
        name = getattr(module, "PLUGIN_NAME", dotted)
        add(_Candidate(name, f"plugins.modules {dotted}", _loaded(module)))
    for name, plugin in extra.items():
        add(_Candidate(name, f"extra plugin {name}", _loaded(plugin)))
    return list(candidates.values())


def _check_names(key: str, names: list[str], installed: set[str]) -> None:
    unknown = [name for name in names if name not in installed]
    if unknown:
        raise ConfigError(
            f"plugins.{key}: no plugin named {unknown[0]!r} "
            f"(installed: {', '.join(sorted(installed))})"
        )


def _check_implementations(pm: pluggy.PluginManager, name: str, plugin: Any) -> None:
    """Refuse hooks that do not exist, parameters a hook does not pass and hook-named
    functions left unmarked (they would silently never run), in one line."""
    for attribute in dir(plugin):
        options = pm.parse_hookimpl_opts(plugin, attribute)
        if options is None:
            if attribute in SPECS and callable(getattr(plugin, attribute)):
                raise ConfigError(
                    f"plugins: {name}: {attribute} is named like a hook but not marked "
                    "@hookimpl, so it would never be called"
                )
            continue
        hook = options.get("specname") or attribute
        spec = SPECS.get(hook)
        if spec is None:
            if options.get("optionalhook"):
                continue
            nearest = difflib.get_close_matches(hook, SPECS, n=1)
            hint = f" (did you mean {nearest[0]}?)" if nearest else ""
            raise ConfigError(f"plugins: {name}: unknown hook {hook!r}{hint}")
        offered = list(inspect.signature(spec).parameters)
        taken = list(inspect.signature(getattr(plugin, attribute)).parameters)
        surplus = [parameter for parameter in taken if parameter not in offered]
        if surplus:
            raise ConfigError(
                f"plugins: {name}: {hook} takes {', '.join(surplus)}, which the hook does not "
                f"pass (it passes {', '.join(offered) or 'nothing'})"
            )


def get_plugin_manager(
    settings: Settings, *, extra: dict[str, Any] | None = None
) -> pluggy.PluginManager:
    """A fresh, validated plugin manager for ``settings``.

    :param extra: more plugins by name (objects or modules), registered like the others —
        tests use it to add a recorder; they are loaded whatever ``plugins.enabled`` says.
    """
    extra = extra or {}
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    candidates = _installed(settings, extra)
    installed = {candidate.name for candidate in candidates}
    enabled = settings.plugins.enabled
    if enabled is not None:
        _check_names("enabled", enabled, installed)
    _check_names("blocked", settings.plugins.blocked, installed)
    wanted = [
        c
        for c in candidates
        if c.name not in settings.plugins.blocked
        and (enabled is None or c.name in enabled or c.name in extra)
    ]
    for candidate in wanted:
        try:
            plugin = candidate.load()
        except ImportError as exc:
            raise ConfigError(f"plugins: {candidate.source}: cannot import: {exc}") from None
        already = pm.get_name(plugin)
        if already is not None:
            raise ConfigError(
                f"plugins: {candidate.source} is the plugin already loaded as {already!r}"
            )
        _check_implementations(pm, candidate.name, plugin)
        try:
            pm.register(plugin, name=candidate.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigError(f"plugins: {candidate.name}: {' '.join(str(exc).split())}") from None
    pm.check_pending()
    return pm


def hook_calls(
    pm: pluggy.PluginManager, hook: str, **kwargs: Any
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """``hook`` as one call per implementing plugin, in call order: ``(plugin name, call)``.

    For start-up hooks, where the caller wants to know which plugin answered what or to
    collect every plugin's errors; each call is traced on its own under
    ``PRACTICE_SYNC_TRACE_PLUGINS``.
    """
    trace = tracing()
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        arguments = {name: kwargs[name] for name in impl.argnames}

        def call(impl: Any = impl, arguments: dict[str, Any] = arguments) -> Any:
            with traced(hook, impl.plugin_name) if trace else nullcontext():
                return impl.function(**arguments)

        yield impl.plugin_name, call


def call_each(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call ``hook`` on each implementing plugin in turn: ``[(plugin name, result), …]``."""
    return [(plugin, call()) for plugin, call in hook_calls(pm, hook, **kwargs)]


def implementing_plugins(pm: pluggy.PluginManager, hook: str) -> list[str]:
    """Names of the registered plugins that implement ``hook``, in call order."""
    caller = getattr(pm.hook, hook)
    return [impl.plugin_name for impl in reversed(caller.get_hookimpls())]


def plugin_hooks(pm: pluggy.PluginManager) -> dict[str, list[str]]:
    """Each plugin's name and the hooks it implements (for ``practice-sync plugins``)."""
    listing: dict[str, list[str]] = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        callers = pm.get_hookcallers(plugin) or []
        listing[name] = sorted(caller.name for caller in callers)
    return dict(sorted(listing.items()))
