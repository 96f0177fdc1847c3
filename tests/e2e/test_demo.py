"""The README's first command: the demo runs on the embedded default and reports from the stores."""

from __future__ import annotations

from pathlib import Path

from plugins.demo.timeline import mask
from tests.support.commands import ROOT, run

NAMES = ("Olivia", "Bennett", "Maria", "Garcia", "Sam Lee")


def test_demo_books_three_patients_into_the_ehr(tmp_path):
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
    assert len(list((tmp_path / "messages").iterdir())) == 9
    assert_messages_listed_as_sent(out, tmp_path / "messages")
    assert_no_names(out, tmp_path)


def test_demo_tells_the_story_of_the_configured_practice(tmp_path):
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
    assert_no_names(out, folder)


def test_demo_asks_which_practice_when_the_configuration_has_several(tmp_path):
    config = ROOT / "examples" / "network" / "practice-sync.toml"
    result = run("--config", str(config), "demo", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "has 2 practices: choose one with --practice (northside, riverside)" in result.stderr


def assert_messages_listed_as_sent(out: str, folder: Path) -> None:
    """The listing follows the order the files were written (written in the same instant: by
    name, as the demo lists them), not their random names alone."""
    listed = out.split("in the order they were written:\n", 1)[1].splitlines()[:9]
    files = sorted(folder.iterdir(), key=lambda path: (path.stat().st_mtime_ns, path))
    recipients = [path.read_text().split("\n", 1)[0].removeprefix("To: ") for path in files]
    assert [line.split(" → ", 1)[1].split(":", 1)[0] for line in listed] == [
        mask(to) for to in recipients
    ]


def assert_no_names(out: str, folder: Path) -> None:
    """Patients appear by initials only, in the output and in every process's log."""
    logs = "".join(path.read_text() for path in folder.glob("*.log"))
    assert {"migrate.log", "sandbox-ehr.log", "run.log"} <= {p.name for p in folder.glob("*.log")}
    for name in NAMES:
        assert name not in out
        assert name not in logs
