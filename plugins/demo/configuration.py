"""What the demo's processes run with: the practice's configuration file as written, and an
environment that replaces everything in it that could reach the outside world.

The demo reads the file itself only for the practices' slugs and their EHR ids (the sandbox
EHR must know them, and the staff book with them); the processes read it with the
environment, as a deployment would.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

__all__ = [
    "POLL_INTERVAL_SECONDS",
    "Secrets",
    "choose_practice",
    "ehr_ids",
    "environment",
    "read_config",
    "sandbox_directory",
]

POLL_INTERVAL_SECONDS = 3600
"""The EHR feed is read once, as the workers start, and then not within the demo: every
practice of the configuration reads the one sandbox, whose changes are the demo's practice's
alone, and they come by webhook."""


@dataclass(frozen=True)
class Secrets:
    """Made for each run, never written to a file: the processes take them from the
    environment, the demo uses them to call in."""

    api_key: str
    """The sandbox EHR's API key."""
    staff_token: str
    """The practice's staff bearer token (Action Required)."""
    metrics_token: str
    """For ``/metrics``, where the demo reads how far practice-sync has come."""
    webhook_secret: str
    """The sandbox EHR's webhook subscription secret, which the practice verifies with."""

    @classmethod
    def fresh(cls) -> Secrets:
        return cls(
            api_key=secrets.token_urlsafe(18),
            staff_token=secrets.token_urlsafe(18),
            metrics_token=secrets.token_urlsafe(18),
            webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        )


def read_config(config: Path) -> dict[str, Any]:
    """The configuration file as written."""
    try:
        return tomllib.loads(config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"{config}: cannot be read as TOML ({exc})") from None


def choose_practice(practices: list[str], practice: str | None, config: Path) -> str:
    if practice is not None and practice not in practices:
        raise click.ClickException(
            f"--practice {practice}: {config} has no such practice ({', '.join(practices)})"
        )
    if practice is None and len(practices) != 1:
        raise click.ClickException(
            f"{config} has {len(practices)} practices: choose one with --practice "
            f"({', '.join(practices) or 'none configured'})"
        )
    return practice or practices[0]


def ehr_ids(practice: dict[str, Any], kind: str) -> dict[str, tuple[str, str]]:
    """A practice's ``providers`` or ``locations``: slug → (EHR id, name). A location without
    ``ehr_id`` is known to the EHR by its slug, as the EHR sync sends it."""
    return {
        slug: (str(item.get("ehr_id", slug)), str(item.get("name", slug)))
        for slug, item in practice.get(kind, {}).items()
    }


def sandbox_directory(document: dict[str, Any], path: Path) -> list[str]:
    """``--directory FILE`` for the sandbox EHR: the providers and locations of every
    configured practice by their EHR ids, so the sandbox knows whatever ids the configuration
    uses."""
    providers: dict[str, str] = {}
    locations: dict[str, str] = {}
    for practice in document.get("practices", {}).values():
        providers |= dict(ehr_ids(practice, "providers").values())
        locations |= dict(ehr_ids(practice, "locations").values())
    if not providers or not locations:
        return []  # the sandbox's own directory
    lines = ["[providers]"]
    lines += [f"{json.dumps(key)} = {json.dumps(name)}" for key, name in providers.items()]
    lines += ["", "[locations]"]
    lines += [f"{json.dumps(key)} = {json.dumps(name)}" for key, name in locations.items()]
    path.write_text("\n".join(lines) + "\n")
    return ["--directory", str(path)]


def environment(
    config: Path,
    practices: list[str],
    practice: str,
    folder: Path,
    *,
    http_port: int,
    ehr_url: str,
    keys: Secrets,
) -> dict[str, str]:
    """The configuration's structure, with everything that could reach the outside world
    replaced: a scratch database, the in-process broker, the sandbox EHR server for every
    practice, every message to the demo's folder; ``practice``'s staff token, the webhook
    secret it verifies the sandbox's messages with, and a metrics token."""
    env = {
        **os.environ,
        "PRACTICE_SYNC_CONFIG": str(config),
        "PRACTICE_SYNC_DATABASE_URL": f"sqlite:///{folder / 'practice-sync.db'}",
        "PRACTICE_SYNC_BROKER__URL": "stub://",
        "PRACTICE_SYNC_HTTP__HOST": "127.0.0.1",
        "PRACTICE_SYNC_HTTP__PORT": str(http_port),
        "PRACTICE_SYNC_HTTP__PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}",
        "PRACTICE_SYNC_RATE_LIMITS__STORAGE_URL": "memory://",
        "PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__FILE_FOLDER": str(folder / "messages"),
        "PRACTICE_SYNC_EHR__POLL_INTERVAL_SECONDS": str(POLL_INTERVAL_SECONDS),
        "PRACTICE_SYNC_METRICS__TOKEN": keys.metrics_token,
        "PRACTICE_SYNC_SANDBOX_EHR_API_KEY": keys.api_key,
        "PRACTICE_SYNC_SANDBOX_EHR_WEBHOOK_SECRET": keys.webhook_secret,
        f"PRACTICE_SYNC_PRACTICES__{practice.upper()}__STAFF_TOKENS__DEMO": keys.staff_token,
    }
    for slug in practices:
        ehr = _kareo_like(slug)
        channels = f"PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__PRACTICES__{slug.upper()}__"
        env |= {
            f"PRACTICE_SYNC_PRACTICES__{slug.upper()}__EHR_ADAPTER": "kareo_like",
            f"{ehr}SANDBOX": "false",
            f"{ehr}BASE_URL": ehr_url,
            f"{ehr}API_KEY": keys.api_key,
            f"{channels}EMAIL_CHANNEL": "file",
            f"{channels}SMS_CHANNEL": "file",
        }
    env[f"{_kareo_like(practice)}WEBHOOK_SECRET"] = keys.webhook_secret
    return env


def _kareo_like(practice: str) -> str:
    """The environment's prefix for a practice's settings of the Kareo-like EHR adapter."""
    return f"PRACTICE_SYNC_PLUGINS__CONFIG__EHR_KAREO_LIKE__PRACTICES__{practice.upper()}__"
