"""The sandbox EHR's directory: its providers and locations, by their ids in the EHR.

A new sandbox starts with :data:`DEFAULT_DIRECTORY`, which knows the ids the repository's own
configurations use (``examples/practice-sync.toml``, the demo, the test kit's practice: a
location without ``ehr_id`` is sent by its slug). To match it to another configuration, give
``practice-sync sandbox-ehr --directory FILE`` a small TOML file naming each provider's and
location's ``ehr_id``::

    [providers]
    "2001" = "Dr. Morgan Lee"
    "2002" = "Dr. Asha Patel"

    [locations]
    loc-downtown = "Downtown Clinic"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = ["DEFAULT_DIRECTORY", "Directory", "read_directory"]

MAX_ID = 64


@dataclass(frozen=True)
class Directory:
    """Providers and locations: their EHR id → their name."""

    providers: Mapping[str, str] = field(default_factory=dict)
    locations: Mapping[str, str] = field(default_factory=dict)


DEFAULT_DIRECTORY = Directory(
    providers=MappingProxyType(
        {"1001": "Dr. Morgan Lee", "1002": "Dr. Asha Patel", "1003": "Sam Garcia, NP"}
    ),
    locations=MappingProxyType(
        {
            "downtown": "Downtown Clinic",
            "uptown": "Uptown Office",
            "lakeside": "Lakeside Office",
            "main": "Main Street",
        }
    ),
)


def _table(document: dict[str, object], key: str, path: Path) -> dict[str, str]:
    table = document.get(key)
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: [{key}] must list at least one id = name")
    for ehr_id, name in table.items():
        if not 0 < len(ehr_id) <= MAX_ID:
            raise ValueError(f"{path}: {key}: ids have 1 to {MAX_ID} characters")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{path}: {key}.{ehr_id}: the name must be a non-empty string")
    return dict(table)


def read_directory(path: Path) -> Directory:
    """The directory a TOML file describes (see the module's docstring); ``ValueError`` names
    what is wrong."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"providers", "locations"})
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {', '.join(unknown)}: use providers, locations")
    return Directory(
        providers=_table(document, "providers", path),
        locations=_table(document, "locations", path),
    )
