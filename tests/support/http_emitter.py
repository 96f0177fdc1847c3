"""A third-party-style plugin: a staff route that emits request events, and a CLI command."""

from __future__ import annotations

import click
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from integration_core.api import (
    RequestEvent,
    RouteRegistry,
    Settings,
    Staff,
    get_engine,
    hookimpl,
    new_id,
)

PLUGIN_NAME = "http_emitter"


class EmitBody(BaseModel):
    count: int = Field(default=1, ge=1, le=500)


class Emitted(BaseModel):
    event_ids: list[str]


router = APIRouter(prefix="/v1/practices/{practice}/test-events", tags=["test"])


@router.post("", response_model=Emitted, status_code=201)
def emit_events(body: EmitBody, request: Request, staff: Staff) -> Emitted:
    engine = get_engine(request)
    with engine.db.transaction() as session:
        ids = [
            engine.outbox.emit(
                session,
                RequestEvent(
                    practice_id=staff.practice_id,
                    request_id=new_id("req_"),
                    appointment_id=new_id("apt_"),
                ),
            )
            for _ in range(body.count)
        ]
    return Emitted(event_ids=ids)


@hookimpl
def register_routes(routes: RouteRegistry, settings: Settings) -> None:
    routes.add(router)


@click.command("hello-plugin")
def hello() -> None:
    """A command contributed by a plugin."""
    click.echo("hello from http_emitter")


@hookimpl
def register_cli_commands(cli: click.Group) -> None:
    cli.add_command(hello)
