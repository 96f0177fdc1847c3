"""Messages as people read them: the plain-text templates, and times in the location's zone.

Templates live in ``templates/`` as ``<name>.email.j2`` and ``<name>.sms.j2`` (parts they share
start with ``_``); a name missing a value fails loudly (``StrictUndefined``) instead of sending
a message with a hole in it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from integration_core.api import Appointment, PracticeSettings

__all__ = ["local_time", "render", "visit"]

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # plain-text messages
    keep_trailing_newline=True,
    trim_blocks=True,  # a line holding only a block tag leaves no line behind
    lstrip_blocks=True,
)


def render(template: str, **values: Any) -> str:
    return TEMPLATES.get_template(template).render(**values).strip() + "\n"


def local_time(practice: PracticeSettings, location_id: str, at: datetime) -> str:
    """``at`` on the wall clock of the location, with the zone's abbreviation
    (``Tue 16 Mar 2027, 09:30 EDT``)."""
    zone = practice.locations[location_id].zone
    return at.astimezone(zone).strftime("%a %d %b %Y, %H:%M %Z")


def visit(practice: PracticeSettings, appointment: Appointment) -> dict[str, Any]:
    """What every message about ``appointment`` may show: when, with whom, where (the
    location's name and address, or that it is a video visit)."""
    location = practice.locations[appointment.location_id]
    return {
        "practice": practice.name,
        "provider": practice.providers[appointment.provider_id].name,
        "location": location.name,
        "address": location.address,
        "when": local_time(practice, appointment.location_id, appointment.start_at),
        "virtual": appointment.virtual,
    }
