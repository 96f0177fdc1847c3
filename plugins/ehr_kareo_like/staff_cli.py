"""``practice-sync sandbox-ehr staff``: the practice's staff at work in a running sandbox EHR.

Each subcommand is one call of the staff API (:class:`StaffClient`), so a person can play the
front desk — confirm what practice-sync asked for, check patients in and out, book by phone,
block time — and watch practice-sync follow. The answer is printed as lines for people
(:mod:`plugins.ehr_kareo_like.staff_lines`) or, with ``--json``, exactly as the API sent it.
A refusal prints the API's code and message, what to change and what it clashed with, on
stderr, and exits 1; so does a sandbox that does not answer, naming the URL that was tried.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click

from plugins.ehr_kareo_like.sandbox.staff_client import (
    AppointmentDetail,
    StaffApiError,
    StaffClient,
)
from plugins.ehr_kareo_like.staff_lines import (
    detail_lines,
    page_lines,
    patient_lines,
    refusal_lines,
    time_block_lines,
)

__all__ = ["DEFAULT_URL", "staff"]

DEFAULT_URL = "http://127.0.0.1:8500"
"""Where ``practice-sync sandbox-ehr`` listens when started without ``--port``."""

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StaffDesk:
    """The sandbox the staff work in, and how they want its answers shown."""

    url: str
    api_key: str
    as_json: bool

    def answer(self, call: Callable[[StaffClient], T], lines: Callable[[T], Iterable[str]]) -> None:
        """Make ``call`` and print its answer; a refusal (or no answer) ends the command."""
        with StaffClient(self.url, self.api_key) as client:
            try:
                answer = call(client)
            except StaffApiError as error:
                self.fail(error)
        if self.as_json:
            click.echo(json.dumps(answer, indent=2))
        else:
            for line in lines(answer):
                click.echo(line)

    def fail(self, error: StaffApiError) -> NoReturn:
        if error.status is None:
            problem = (
                "did not answer in time" if error.code == "timeout" else "could not be reached"
            )
            click.echo(
                f"error: the sandbox EHR at {self.url} {problem} (--url, or "
                "PRACTICE_SYNC_SANDBOX_EHR_URL, names it)",
                err=True,
            )
        else:
            for line in refusal_lines(error):
                click.echo(line, err=True)
        sys.exit(1)


pass_desk = click.make_pass_decorator(StaffDesk)


class AwareDateTime(click.ParamType[datetime]):
    """An ISO 8601 time with its UTC offset (``2027-01-05T09:00-05:00``): a time without one
    would be read in whichever zone the sandbox runs in."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail("not an ISO 8601 time, such as 2027-01-05T09:00-05:00", param, ctx)
        if parsed.tzinfo is None:
            self.fail("needs its UTC offset, such as 2027-01-05T09:00-05:00", param, ctx)
        return parsed


TIME = AwareDateTime()
APPOINTMENT_TYPE = click.Choice(["In Person", "Telehealth"])


def appointment_argument(command: F) -> F:
    return click.argument("appointment_id", metavar="APPOINTMENT_ID")(command)


@click.group("staff")
@click.option(
    "--url",
    envvar="PRACTICE_SYNC_SANDBOX_EHR_URL",
    show_envvar=True,
    default=DEFAULT_URL,
    show_default=True,
    help="The running sandbox EHR.",
)
@click.option(
    "--api-key",
    envvar="PRACTICE_SYNC_SANDBOX_EHR_API_KEY",
    show_envvar=True,
    default="sandbox-key",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
@click.pass_context
def staff(ctx: click.Context, url: str, api_key: str, as_json: bool) -> None:
    """Act as the practice's staff in a running sandbox EHR (its staff API)."""
    ctx.obj = StaffDesk(url, api_key, as_json)


@staff.command("list")
@click.option("--status", help="Only these: Tentative, Confirmed, Checked In, …")
@click.option("--provider-id", help="Only this provider's (the EHR's id).")
@click.option("--location-id", help="Only at this location (the EHR's id).")
@click.option("--from", "start_from", type=TIME, help="Starting at or after this time.")
@click.option("--to", type=TIME, help="Starting before this time.")
@click.option("--limit", type=click.IntRange(1, 200), help="At most this many (default 50).")
@click.option("--after", metavar="CURSOR", help="The page after the one that said so.")
@pass_desk
def list_appointments(
    desk: StaffDesk,
    status: str | None,
    provider_id: str | None,
    location_id: str | None,
    start_from: datetime | None,
    to: datetime | None,
    limit: int | None,
    after: str | None,
) -> None:
    """Appointments by start time, one line each."""
    desk.answer(
        lambda client: client.list_appointments(
            status=status,
            provider_id=provider_id,
            location_id=location_id,
            start_from=start_from,
            to=to,
            limit=limit,
            after=after,
        ),
        page_lines,
    )


@staff.command("show")
@appointment_argument
@pass_desk
def show(desk: StaffDesk, appointment_id: str) -> None:
    """One appointment in full, with what it clashes with."""
    desk.answer(lambda client: client.show(appointment_id), detail_lines)


@staff.command("confirm")
@appointment_argument
@click.option("--visit-reason-id", type=int, required=True, help="Its length comes with it.")
@click.option("--appointment-type", type=APPOINTMENT_TYPE, help="Default: the one requested.")
@click.option("--start", type=TIME, help="Move it as it is confirmed.")
@click.option("--duration-minutes", type=int, help="For a visit reason without a length.")
@click.option("--intake-form", "intake_forms", multiple=True, help="A form to ask for (repeat).")
@pass_desk
def confirm(
    desk: StaffDesk,
    appointment_id: str,
    visit_reason_id: int,
    appointment_type: Any,
    start: datetime | None,
    duration_minutes: int | None,
    intake_forms: tuple[str, ...],
) -> None:
    """Confirm a tentative appointment (refused into a scheduling conflict)."""
    desk.answer(
        lambda client: client.confirm(
            appointment_id,
            visit_reason_id=visit_reason_id,
            appointment_type=appointment_type,
            start=start,
            duration_minutes=duration_minutes,
            intake_forms=intake_forms,
        ),
        detail_lines,
    )


@staff.command("reschedule")
@appointment_argument
@click.option("--start", type=TIME, required=True)
@click.option("--duration-minutes", type=int, help="Default: as long as it was.")
@pass_desk
def reschedule(
    desk: StaffDesk, appointment_id: str, start: datetime, duration_minutes: int | None
) -> None:
    """Move a tentative or confirmed appointment (refused into a scheduling conflict)."""
    desk.answer(
        lambda client: client.reschedule(
            appointment_id, start=start, duration_minutes=duration_minutes
        ),
        detail_lines,
    )


def _with_reason(name: str, action: Callable[..., AppointmentDetail], summary: str) -> None:
    """A command that does ``action`` to an appointment, with what staff tell the patient."""

    @staff.command(name, help=summary)
    @appointment_argument
    @click.option("--reason", help="What the patient is told.")
    @pass_desk
    def command(desk: StaffDesk, appointment_id: str, reason: str | None) -> None:
        desk.answer(lambda client: action(client, appointment_id, reason=reason), detail_lines)


def _for_attendee(name: str, action: Callable[..., AppointmentDetail], summary: str) -> None:
    """A command that moves the patient of an appointment (``--patient-id``: of a group)."""

    @staff.command(name, help=summary)
    @appointment_argument
    @click.option("--patient-id", help="Which patient, for a group appointment.")
    @pass_desk
    def command(desk: StaffDesk, appointment_id: str, patient_id: str | None) -> None:
        desk.answer(
            lambda client: action(client, appointment_id, patient_id=patient_id), detail_lines
        )


_with_reason("decline", StaffClient.decline, "Decline a tentative appointment.")
_with_reason("cancel", StaffClient.cancel, "Cancel a tentative or confirmed appointment.")
_for_attendee("check-in", StaffClient.check_in, "Check a confirmed patient in.")
_for_attendee("check-out", StaffClient.check_out, "Check a checked-in patient out.")
_for_attendee("no-show", StaffClient.no_show, "Mark a confirmed patient as not come.")


@staff.command("add-patient")
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--date-of-birth", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--sex")
@click.option("--email")
@click.option("--mobile-phone")
@click.option("--email-allowed", is_flag=True, help="The patient agreed to email.")
@click.option("--sms-allowed", is_flag=True, help="The patient agreed to texts.")
@pass_desk
def add_patient(
    desk: StaffDesk,
    first_name: str,
    last_name: str,
    date_of_birth: datetime,
    sex: str | None,
    email: str | None,
    mobile_phone: str | None,
    email_allowed: bool,
    sms_allowed: bool,
) -> None:
    """Enter a patient, with what messages they agreed to."""
    desk.answer(
        lambda client: client.add_patient(
            first_name=first_name,
            last_name=last_name,
            date_of_birth=date_of_birth.date(),
            sex=sex,
            email=email,
            mobile_phone=mobile_phone,
            email_allowed=email_allowed,
            sms_allowed=sms_allowed,
        ),
        patient_lines,
    )


def booking_options(command: F) -> F:
    """What a booking names besides its patients."""
    for option in reversed(
        [
            click.option("--provider-id", required=True),
            click.option("--location-id", required=True),
            click.option("--start", type=TIME, required=True),
            click.option("--visit-reason-id", type=int, required=True),
            click.option("--duration-minutes", type=int, help="For a reason without a length."),
            click.option("--appointment-type", type=APPOINTMENT_TYPE, default="In Person"),
            click.option("--allow-double-booking", is_flag=True, help="Book even into a conflict."),
        ]
    ):
        command = option(command)
    return command


@staff.command("book")
@click.option("--patient-id", required=True)
@booking_options
@pass_desk
def book(desk: StaffDesk, /, patient_id: str, **booking: Any) -> None:
    """Book a confirmed appointment directly, as for a patient on the phone."""
    desk.answer(lambda client: client.book(patient_id=patient_id, **booking), detail_lines)


@staff.command("book-group")
@click.option("--patient-id", "patient_ids", multiple=True, required=True, help="Two or more.")
@booking_options
@pass_desk
def book_group(desk: StaffDesk, /, patient_ids: tuple[str, ...], **booking: Any) -> None:
    """Book one confirmed appointment for several patients."""
    desk.answer(lambda client: client.book_group(patient_ids=patient_ids, **booking), detail_lines)


@staff.command("block-time")
@click.option("--provider-id", required=True)
@click.option("--start", type=TIME, required=True)
@click.option("--end", type=TIME, required=True)
@click.option("--note", default="", help="Why (a meeting, lunch).")
@pass_desk
def block_time(
    desk: StaffDesk, provider_id: str, start: datetime, end: datetime, note: str
) -> None:
    """Make a provider's time unbookable: nothing is confirmed, moved or booked into it."""
    desk.answer(
        lambda client: client.block_time(provider_id=provider_id, start=start, end=end, note=note),
        time_block_lines,
    )
