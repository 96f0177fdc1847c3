"""Registries that ``register_*`` start-up hooks add to.

A plugin receives the registry and calls ``add``; it never returns loosely typed values. Names
are unique across plugins so that configuration can choose an adapter or a channel by name.
Each registry is typed with what it holds: ``Registry[AdapterFactory]`` for EHR adapters,
``Registry[ChannelFactory]`` for notification channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter

__all__ = ["Registry", "RouteRegistry", "TableRegistry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named items contributed by plugins (EHR adapter factories, channel factories, …)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._items[name] = item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(self.unknown(name)) from None

    def unknown(self, name: str) -> str:
        """The message for a name nothing registered: what was asked and the valid choices."""
        return f"no {self.what} {name!r} (registered: {', '.join(self.names()) or 'none'})"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))


class RouteRegistry:
    """Routers (and ASGI middleware, such as per-practice CORS) that plugins add to the app."""

    def __init__(self) -> None:
        self.routers: list[APIRouter] = []
        self.middleware: list[tuple[type[Any], dict[str, Any]]] = []

    def add(self, router: APIRouter) -> None:
        self.routers.append(router)

    def add_middleware(self, middleware: type[Any], **options: Any) -> None:
        self.middleware.append((middleware, options))


class TableRegistry:
    """Alembic version folders of plugins that bring their own tables.

    A plugin declares its tables on :class:`integration_core.store.Base` (so one metadata
    covers everything) and adds the folder holding its migration scripts here.
    """

    def __init__(self) -> None:
        self.version_locations: list[Path] = []

    def add_versions(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ValueError(f"migration folder {folder} does not exist")
        self.version_locations.append(folder)
