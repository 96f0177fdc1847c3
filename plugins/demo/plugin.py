"""The demo plugin: adds the ``demo`` command, nothing else (no hooks run in a deployment)."""

from __future__ import annotations

from pathlib import Path

import click

from integration_core.api import hookimpl
from plugins.demo.story import run_story

__all__ = ["demo", "register_cli_commands"]


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Where the demo keeps its databases, messages and logs (emptied first).",
)
@click.option(
    "--practice",
    help="With --config: the practice whose story to tell (default: the only one configured).",
)
@click.pass_context
def demo(ctx: click.Context, folder: Path, practice: str | None) -> None:
    """Book three patients end to end, let the EHR's staff decide, and print what happened,
    read back from the stores.

    Without --config, the demo's own practice; with --config, the configured practice's
    locations, providers, reasons and calendars. Either way on a scratch database, the sandbox
    EHR and the file channel in --dir: nothing reaches a real EHR or a real patient.
    """
    config = ctx.find_root().params.get("config")
    run_story(folder, click.echo, config=Path(config) if config else None, practice=practice)


@hookimpl
def register_cli_commands(cli: click.Group) -> None:
    cli.add_command(demo)
