"""The README's first command: the demo runs on the embedded default and reports from the stores."""

from __future__ import annotations

from tests.support.commands import run


def test_demo_books_three_patients_into_the_ehr(tmp_path):
    result = run("demo", "--dir", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count(": HTTP 201") == 3
    for match in ("new", "attached", "ambiguous"):
        assert f"(match: {match}), appointment APT-" in out
    assert out.count("is tentative, sync synced") == 3
    assert out.count("we received your appointment request") == 3
    assert out.count("new appointment request") == 3
    assert (
        out.count("sms   → +1617***0100: Demo Family Clinic:") == 3
    )  # texts carry a count, no names
    # Patients appear by initials only, anywhere in the output.
    for name in ("Olivia", "Bennett", "Maria", "Garcia", "Sam Lee"):
        assert name not in out
    assert len(list((tmp_path / "messages").iterdir())) == 9
