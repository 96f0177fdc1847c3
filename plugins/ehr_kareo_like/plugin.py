"""The Kareo-like EHR plugin: registers its adapter and the ``sandbox-ehr`` command."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

import click

from integration_core.api import (
    AdapterFactory,
    GoLiveCheck,
    InProcessTransport,
    LoggingSettings,
    Registry,
    Settings,
    configure_logging,
    hookimpl,
    serve_until_stopped,
)
from plugins.ehr_kareo_like.adapter import KareoLikeAdapter
from plugins.ehr_kareo_like.config import (
    ADAPTER,
    IN_MEMORY,
    PLUGIN,
    KareoSettings,
    cross_check,
    load,
)
from plugins.ehr_kareo_like.sandbox.api import create_sandbox_app
from plugins.ehr_kareo_like.sandbox.directory import read_directory
from plugins.ehr_kareo_like.sandbox.outbound import (
    WebhookDispatcher,
    signing_secret,
    subscribe,
    subscriber_url,
)
from plugins.ehr_kareo_like.sandbox.store import SandboxStore
from plugins.ehr_kareo_like.staff_cli import staff

_sandboxes: dict[str, tuple[SandboxStore, InProcessTransport]] = {}
_lock = threading.Lock()


def inprocess_sandbox(database_url: str, api_key: str) -> tuple[SandboxStore, InProcessTransport]:
    """The sandbox EHR for ``database_url``, served in this process (one per database)."""
    with _lock:
        if database_url not in _sandboxes:
            store = SandboxStore(database_url)
            _sandboxes[database_url] = (
                store,
                InProcessTransport(create_sandbox_app(store, api_key)),
            )
        return _sandboxes[database_url]


def build_adapter(practice_id: str, settings: Settings) -> KareoLikeAdapter:
    config = load(settings)
    practice = config.practices[practice_id]  # present: checked at start-up
    if practice.sandbox:
        api_key = config.sandbox.api_key.get_secret_value()
        _, transport = inprocess_sandbox(config.sandbox.database_url, api_key)
        base_url = "http://sandbox-ehr"
    else:
        assert practice.base_url is not None and practice.api_key is not None  # validated
        api_key, transport = practice.api_key.get_secret_value(), None
        base_url = practice.base_url
    return KareoLikeAdapter(
        base_url,
        api_key,
        transport=transport,
        timeout_seconds=practice.timeout_seconds,
        transient_retries=practice.transient_retries,
        webhook_secret=(
            practice.webhook_secret.get_secret_value() if practice.webhook_secret else None
        ),
    )


@hookimpl
def settings_model() -> type[KareoSettings]:
    return KareoSettings


@hookimpl
def check_config(settings: Settings) -> None:
    cross_check(settings)


@hookimpl
def go_live_checks(settings: Settings) -> list[GoLiveCheck]:
    """A practice on the bundled sandbox is not ready for go-live: its "EHR" lives in this
    process and no staff will ever see its appointments."""
    checks = []
    for slug, practice in load(settings).practices.items():
        name = f"practice {slug}: a real Kareo-like EHR, not the bundled sandbox"
        if practice.sandbox:
            fix = (
                f"set plugins.config.{PLUGIN}.practices.{slug}.base_url to the practice's EHR "
                "(its API key in the environment) instead of sandbox = true"
            )
            checks.append(GoLiveCheck.failed(name, fix))
        else:
            checks.append(GoLiveCheck.passed(name))
    return checks


@hookimpl
def register_ehr_adapters(registry: Registry[AdapterFactory], settings: Settings) -> None:
    registry.add(ADAPTER, build_adapter)


WEBHOOK_SECRET_ENV = "PRACTICE_SYNC_SANDBOX_EHR_WEBHOOK_SECRET"
"""Where ``--webhook`` subscribers' secret comes from (a secret is never a command-line
argument: it would show in the process list)."""


def _webhook_urls(
    _ctx: click.Context, _param: click.Parameter, urls: tuple[str, ...]
) -> tuple[str, ...]:
    try:
        return tuple(subscriber_url(url) for url in urls)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _webhook_secret() -> str:
    """The secret ``--webhook`` subscribers are signed for, from the environment."""
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if not secret:
        raise click.UsageError(f"--webhook needs the subscribers' secret in {WEBHOOK_SECRET_ENV}")
    try:
        return signing_secret(secret)
    except ValueError as exc:
        raise click.UsageError(f"{WEBHOOK_SECRET_ENV}: {exc}") from None


@click.group("sandbox-ehr", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8500, show_default=True, type=int)
@click.option(
    "--database-url",
    default=IN_MEMORY,
    show_default=True,
    help="Where the sandbox keeps its records (default: in memory, gone when it stops).",
)
@click.option(
    "--api-key",
    envvar="PRACTICE_SYNC_SANDBOX_EHR_API_KEY",
    show_envvar=True,
    default="sandbox-key",
    show_default=True,
)
@click.option(
    "--directory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TOML file of the providers and locations the EHR has, by their EHR ids "
    "(default: those of the example configuration, the demo and the test kit).",
)
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="URL",
    callback=_webhook_urls,
    help=f"Post every change to URL, signed with the secret in {WEBHOOK_SECRET_ENV} "
    "(repeat for more subscribers).",
)
@click.option(
    "--webhook-max-backoff",
    type=click.FloatRange(min=0.1),
    default=300.0,
    show_default=True,
    help="The longest wait, in seconds, between two tries of a webhook a subscriber refused.",
)
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    envvar="PRACTICE_SYNC_LOGGING__FORMAT",
    show_envvar=True,
    default="console",
    show_default=True,
    help="How the server writes its lines (start, stop, each webhook refused or given up).",
)
@click.pass_context
def sandbox_ehr(
    ctx: click.Context,
    host: str,
    port: int,
    database_url: str,
    api_key: str,
    directory: Path | None,
    webhooks: tuple[str, ...],
    webhook_max_backoff: float,
    log_format: Literal["console", "json"],
) -> None:
    """Run the Kareo-like sandbox EHR server on its own (until SIGINT or SIGTERM).

    With the staff subcommand, work in a running one instead."""
    if ctx.invoked_subcommand is not None:
        return
    configure_logging(LoggingSettings(format=log_format))
    try:
        listed = read_directory(directory) if directory is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--directory") from None
    secret = _webhook_secret() if webhooks else None
    store = SandboxStore(database_url, directory=listed)
    try:
        for url in webhooks:
            subscribe(store, url, secret, one_per_url=True)
        dispatcher = WebhookDispatcher(store, max_backoff_seconds=webhook_max_backoff)
        app = create_sandbox_app(store, api_key, dispatcher=dispatcher)
        serve_until_stopped(app, host=host, port=port)
    finally:
        store.dispose()


sandbox_ehr.add_command(staff)


@hookimpl
def register_cli_commands(cli: click.Group) -> None:
    cli.add_command(sandbox_ehr)
