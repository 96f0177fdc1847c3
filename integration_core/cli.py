"""The ``practice-sync`` command line.

``run`` is the embedded default (HTTP API, worker threads and scheduler in one process);
``serve``, ``worker`` and ``scheduler`` run one part each, for a scaled-out deployment on
PostgreSQL with Redis or RabbitMQ. Plugins add commands through ``register_cli_commands``.

Every failure is a line for a person, never a traceback (``--debug`` shows it): a bad
configuration names the key (exit 2); a process that cannot reach what it needs — the
database, its schema at head, the broker, an EHR — refuses to start, naming what to fix
(exit 1).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from integration_core.errors import ConfigError, NotReady, describe_failure
from integration_core.settings import Settings, load_settings

__all__ = ["cli", "main"]

log = logging.getLogger(__name__)


class State:
    def __init__(self, config: str | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    def runtime(self, *, ready: bool = False, ehr: bool = False, alone: bool = False) -> Any:
        """The configured runtime; with ``ready``, only if the database (at head), the broker
        and — with ``ehr`` — each practice's EHR answer (else :class:`NotReady`); ``alone``
        (one part of a scaled-out deployment) only on a broker the parts can share."""
        from integration_core.logs import configure_logging
        from integration_core.reachability import start_refusals
        from integration_core.runtime import Runtime

        configure_logging(self.settings.logging)
        runtime = Runtime(self.settings)
        if alone and self.settings.broker.url.startswith("stub://"):
            runtime.close()
            raise ConfigError(
                "broker.url: stub:// runs deliveries inside `practice-sync run` only; serve, "
                "worker and scheduler need a broker they share (redis://… or amqp://…)"
            )
        refusals = start_refusals(runtime, ehr=ehr) if ready else []
        if refusals:
            runtime.close()
            raise NotReady("\n".join(refusals))
        return runtime


pass_state = click.make_pass_decorator(State)


@click.group()
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="PRACTICE_SYNC_CONFIG",
    help="TOML config file (or PRACTICE_SYNC_CONFIG).",
)
@click.option("--debug", is_flag=True, help="Show a traceback when something fails.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool) -> None:
    """practice-sync: booking platform ⇄ EHR ⇄ reminders ⇄ feedback ⇄ reviews."""
    ctx.obj = State(config)


@cli.command("check-config")
@pass_state
def check_config(state: State) -> None:
    """Load and validate the configuration, the plugins it names and their settings."""
    from integration_core.http.app import create_app
    from integration_core.runtime import Runtime

    settings = state.settings
    runtime = Runtime(settings)  # loads the plugins and checks their settings; connects nowhere
    try:
        create_app(runtime)  # plugins add their routes
    finally:
        runtime.close()
    for slug, practice in settings.practices.items():
        click.echo(
            f"practice {slug}: {len(practice.locations)} location(s), "
            f"{len(practice.providers)} provider(s), {len(practice.staff_tokens)} staff token(s)"
        )
    click.echo("configuration is valid")


@cli.command("check")
@pass_state
def go_live_check(state: State) -> None:
    """Before go-live: everything that would go wrong, one line per check; exit 1 on a failure.

    The database and broker answer, each practice's EHR answers and has what the
    configuration names and needs, the plugins' checks pass (channels, calendars, reasons).
    """
    from integration_core.checks import describe
    from integration_core.golive import run_go_live_checks
    from integration_core.http.app import create_app

    runtime = state.runtime()
    try:
        create_app(runtime)  # as check-config: plugins add their routes
        checks = run_go_live_checks(runtime, lambda check: click.echo(describe(check)))
    finally:
        runtime.close()
    failed = sum(not check.ok for check in checks)
    if failed:
        click.echo(f"{failed} of {len(checks)} checks failed: not ready for go-live")
        sys.exit(1)
    click.echo(f"all {len(checks)} checks passed: ready for go-live")


@cli.command("plugins")
@pass_state
def plugins_command(state: State) -> None:
    """List the loaded plugins and the hooks each implements."""
    from integration_core.plugins import get_plugin_manager, plugin_hooks

    for name, hooks in plugin_hooks(get_plugin_manager(state.settings)).items():
        click.echo(f"{name}: {', '.join(hooks) or '(no hooks)'}")


@cli.command()
@pass_state
def migrate(state: State) -> None:
    """Bring the database schema up to date, then import configured seed data."""
    from integration_core.store.migrate import pending_revisions

    runtime = state.runtime()
    try:
        pending = pending_revisions(runtime.db, runtime.pm)
        runtime.migrate()
    finally:
        runtime.close()
    if pending:
        click.echo(f"applied {len(pending)} migration(s): the schema is at head")
    else:
        click.echo("the schema was already at head")


def _serve(runtime: Any) -> None:
    """Serve the API until SIGINT or SIGTERM, then return so the caller closes the runtime."""
    from integration_core.http.app import create_app
    from integration_core.http.serving import serve_until_stopped

    http = runtime.settings.http
    serve_until_stopped(create_app(runtime), host=http.host, port=http.port)


@contextmanager
def _running(state: State, *, ehr: bool, alone: bool = False) -> Iterator[Any]:
    """A runtime that may start (else :class:`NotReady`), closed — and said so in the log —
    however the block ends. ``alone``: one part of a scaled-out deployment, which the
    in-process broker cannot join to the others."""
    runtime = state.runtime(ready=True, ehr=ehr, alone=alone)
    try:
        yield runtime
    finally:
        runtime.close()
        log.info("stopped: everything this process ran is closed")


@cli.command()
@pass_state
def run(state: State) -> None:
    """HTTP API, worker threads and scheduler in one process (the embedded default)."""
    with _running(state, ehr=True) as runtime:
        runtime.start_worker()
        runtime.start_scheduler()
        _serve(runtime)


@cli.command()
@pass_state
def serve(state: State) -> None:
    """Only the HTTP API (deliveries run in separate workers)."""
    with _running(state, ehr=False, alone=True) as runtime:
        _serve(runtime)


def _wait_for_signal(started: str) -> None:
    """Log ``started`` (INFO, so it has the log stream's format) once SIGINT and SIGTERM stop
    the wait (a supervisor may signal from then on), then wait for one."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info(started)
    stop.wait()


@cli.command()
@pass_state
def worker(state: State) -> None:
    """Only delivery workers, consuming the configured broker."""
    with _running(state, ehr=True, alone=True) as runtime:
        runtime.start_worker()
        _wait_for_signal(f"worker: {runtime.settings.broker.worker_threads} thread(s) started")


@cli.command()
@pass_state
def scheduler(state: State) -> None:
    """Only the scheduler: fire due timers and re-send stranded deliveries."""
    with _running(state, ehr=False, alone=True) as runtime:
        runtime.start_scheduler()
        _wait_for_signal(
            f"scheduler: started, a pass every {runtime.settings.scheduler.tick_seconds} s"
        )


@cli.group("dead-letters")
def dead_letters() -> None:
    """Deliveries that failed for good."""


ERROR_TEXT_WIDTH = 120
"""The most of a dead delivery's error text ``dead-letters list`` shows (on its own line)."""


def _one_line(text: str, width: int = ERROR_TEXT_WIDTH) -> str:
    """``text`` as one line of at most ``width`` characters: terminal escapes and control
    characters out, runs of whitespace (newlines included) as one space, and a longer text
    cut at a word boundary where there is one near the end, marked with "…"."""
    from integration_core.logs import plain

    printable = "".join(c if c.isprintable() else " " for c in plain(text))
    line = " ".join(printable.split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    head, space, _ = cut.rpartition(" ")
    return (head if space and len(head) > width * 3 // 4 else cut).rstrip() + "…"


@dead_letters.command("list")
@click.option("--practice", help="Only this practice's (a practice slug of the configuration).")
@pass_state
def dead_letters_list(state: State, practice: str | None) -> None:
    """Dead deliveries, oldest failure first: one line each, and under it what went wrong
    (the stored error text, free of patient data: the error's message, or an unexpected
    exception's type)."""
    practices = state.settings.practices
    if practice is not None and practice not in practices:
        raise click.BadParameter(
            f"no practice {practice!r} in the configuration "
            f"(its practices: {', '.join(sorted(practices)) or 'none'})",
            param_hint="'--practice'",
        )
    runtime = state.runtime()
    try:
        rows = runtime.runner.dead(practice)
    finally:
        runtime.close()
    if not rows:
        click.echo("no dead deliveries")
    for row in rows:
        at = f"{row.finished_at:%Y-%m-%dT%H:%M:%SZ}" if row.finished_at else "-"
        click.echo(
            f"{row.id}  practice={row.practice_id} plugin={row.plugin} hook={row.hook} "
            f"attempts={row.attempts} code={row.last_error_code} at={at}"
        )
        if row.last_error:
            click.echo(f"    error: {_one_line(row.last_error)}")


@dead_letters.command("replay")
@click.argument("delivery_id")
@pass_state
def dead_letters_replay(state: State, delivery_id: str) -> None:
    """Give a dead delivery a fresh set of attempts."""
    runtime = state.runtime()
    try:
        replayed = runtime.runner.replay(delivery_id)
    finally:
        runtime.close()
    if not replayed:
        raise click.ClickException(f"{delivery_id} is not a dead delivery")
    click.echo(f"{delivery_id} queued again")


def _config_file(args: list[str]) -> str | None:
    """The ``--config`` the command line names (``--config FILE`` or ``--config=FILE``)."""
    for index, arg in enumerate(args):
        if arg == "--config" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--config="):
            return arg.removeprefix("--config=")
    return os.environ.get("PRACTICE_SYNC_CONFIG")


def _add_plugin_commands(args: list[str]) -> ConfigError | None:
    """Let plugins add their commands; the configuration error that stopped them, if any."""
    from integration_core.plugins import call_each, get_plugin_manager

    try:
        pm = get_plugin_manager(load_settings(_config_file(args)))
    except ConfigError as exc:
        return exc
    call_each(pm, "register_cli_commands", cli=cli)
    return None


def _fail(status: int, text: str) -> NoReturn:
    """Print ``text`` for a person and exit; once logging is configured as JSON, it is one
    error record instead, so that every line a process writes is a JSON object."""
    if _logging_json():
        log.error(text)
    else:
        click.echo(text, err=True)
    sys.exit(status)


def _logging_json() -> bool:
    from integration_core.logs import JsonFormatter

    return any(
        getattr(handler, "practice_sync", False) and isinstance(handler.formatter, JsonFormatter)
        for handler in logging.getLogger().handlers
    )


def main() -> None:
    args = sys.argv[1:]
    config_error = _add_plugin_commands(args)
    try:
        cli.main(args, standalone_mode=False)
    except ConfigError as exc:
        _fail(2, f"configuration error:\n{exc}")
    except NotReady as exc:
        _fail(1, f"cannot start:\n{exc}")
    except click.exceptions.NoSuchCommand as exc:
        if config_error is not None:  # a plugin's command, which the configuration kept out
            _fail(2, f"configuration error:\n{config_error}")
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if "--debug" in args:
            raise
        _fail(1, f"error: {describe_failure(exc)} (--debug shows the traceback)")
