"""The README's first command: the demo runs on the embedded default and reports from the stores."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from integration_core.records import Appointment, AppointmentStatus, Origin
from integration_core.store import Database
from plugins.demo.messages import mask
from tests.support.commands import ROOT, run

NAMES = ("Olivia", "Bennett", "Maria", "Garcia", "Sam Lee", "Noah", "Emma", "Clark")
STAFF_STEPS = (
    ("staff confirm O.B.'s request APT-", "(origin widget) is booked"),
    ("staff decline M.G.'s request APT-", "(origin widget) is declined"),
    ("staff check O.B. in", "(origin widget) is checked_in"),
    ("staff check O.B. out", "(origin widget) is checked_out"),
    ("and book them as a group then: Follow-up", "(origin ehr) is booked"),
)
"""Each staff step in the EHR, and practice-sync's appointment as the step's next line tells."""


def test_demo_books_three_patients_into_the_ehr(tmp_path: Path) -> None:
    result = run("demo", "--dir", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count(": HTTP 201") == 3
    for match in ("new", "attached", "ambiguous"):
        assert f"(match: {match}), appointment APT-" in out
    assert out.count("is tentative, sync synced") == 3
    assert "Action Required (staff API): 3 request(s) waiting for staff: 3 pending_request" in out
    assert out.count("we received your appointment request") == 3
    assert out.count("new appointment request") == 3
    assert (
        out.count("sms   → +1617***0100: Demo Family Clinic:") == 3
    )  # texts carry a count, no names
    assert_staff_story(out, tmp_path, providers={"1001"})
    assert_messages_listed_as_sent(out, tmp_path / "messages")
    assert_no_names(out, tmp_path)


def test_demo_tells_the_story_of_the_configured_practice(tmp_path: Path) -> None:
    """examples/clinic's practice, its EHR ids changed to ones the sandbox does not know by
    default: the demo gives the sandbox the configuration's directory."""
    clinic = (ROOT / "examples" / "clinic" / "practice-sync.toml").read_text()
    config = tmp_path / "clinic.toml"
    config.write_text(clinic.replace('ehr_id = "1003"', 'ehr_id = "np-garcia-7"'))
    folder = tmp_path / "demo"
    result = run("--config", str(config), "demo", "--dir", str(folder), timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"practice clinic from {config}" in out
    assert out.count("is tentative, sync synced") == 3
    assert out.count("(provider np-garcia-7, location main)") + out.count("(provider 1001,") == 3
    assert out.count("Maple Street Clinic: we received your appointment request") == 3
    assert out.count("email → f***@maple-clinic.example: Maple Street Clinic: new appointment") == 3
    # Its own database and EHR, never the configured ones.
    assert f"databases, messages and logs in {folder}" in out
    assert {"practice-sync.db", "sandbox-ehr.db"} <= {path.name for path in folder.iterdir()}
    # The staff book the group with the configured EHR id of the slot's provider.
    assert_staff_story(out, folder, providers={"np-garcia-7", "1001"})
    assert_messages_listed_as_sent(out, folder / "messages")
    assert_no_names(out, folder)


def test_demo_asks_which_practice_when_the_configuration_has_several(tmp_path: Path) -> None:
    config = ROOT / "examples" / "network" / "practice-sync.toml"
    result = run("--config", str(config), "demo", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "has 2 practices: choose one with --practice (northside, riverside)" in result.stderr


def assert_staff_story(out: str, folder: Path, *, providers: set[str]) -> None:
    """Each staff step, in order, followed by practice-sync's appointment in its new status;
    the group takes a time the widget offered and no longer offers; every change came by
    webhook; and the practice's database holds what the story told."""
    lines = out.split("\nthe practice's staff decide in the EHR", 1)[1].splitlines()
    steps = [i for i, line in enumerate(lines) if line.startswith("  staff ")]
    for i, (step, status) in zip(steps, STAFF_STEPS, strict=True):
        assert step in lines[i]
        assert status in lines[i + 1]
    assert found(r"provider (\S+) at location", lines[steps[-1]]) in providers
    offered = found(r"\n  the widget offers (.+) \(", out)
    assert f"      the widget no longer offers {offered}\n" in out
    report = found(r"EHR changes received: (.+); deliveries failed for good: 0\n", out)
    received = re.findall(r"(\d+) (\w+) by (\w+)", report)
    assert {via for _n, _outcome, via in received} == {"webhook"}
    assert sum(int(n) for n, _outcome, _via in received) == 8  # 3 requests, 4 steps, 1 group

    db = Database(f"sqlite:///{folder / 'practice-sync.db'}")
    try:
        with db.read() as session:
            held = session.scalars(select(Appointment)).all()
    finally:
        db.dispose()
    by_status = {(a.origin, a.status): a for a in held}
    assert sorted(by_status) == sorted(
        [
            (Origin.WIDGET, AppointmentStatus.CHECKED_OUT),
            (Origin.WIDGET, AppointmentStatus.DECLINED),
            (Origin.WIDGET, AppointmentStatus.TENTATIVE),
            (Origin.EHR, AppointmentStatus.BOOKED),
        ]
    )
    visit = by_status[(Origin.WIDGET, AppointmentStatus.CHECKED_OUT)]
    assert visit.end_at - visit.start_at == timedelta(minutes=45)  # the EHR's visit reason
    assert visit.start_at != datetime.fromisoformat(found(r"O\.B\. \(.*\) books (\S+):", out))


def found(pattern: str, text: str) -> str:
    """The first group of ``pattern``'s first match in ``text``, which must have one."""
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match[1]


def assert_messages_listed_as_sent(out: str, folder: Path) -> None:
    """Every message, once, in the order the files were written (written in the same instant:
    by name, as the demo lists them), not their random names alone."""
    listed = re.findall(r"^ +(?:email|sms) +→ ([^:]+):", out, flags=re.MULTILINE)
    files = sorted(folder.iterdir(), key=lambda path: (path.stat().st_mtime_ns, path))
    recipients = [path.read_text().split("\n", 1)[0].removeprefix("To: ") for path in files]
    assert listed == [mask(to) for to in recipients]


def assert_no_names(out: str, folder: Path) -> None:
    """Patients appear by initials only, in the output and in every process's log."""
    logs = "".join(path.read_text() for path in folder.glob("*.log"))
    assert {"migrate.log", "sandbox-ehr.log", "run.log"} <= {p.name for p in folder.glob("*.log")}
    for name in NAMES:
        assert name not in out
        assert name not in logs
