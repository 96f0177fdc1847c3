"""The README's first command: the demo runs on the embedded default and reports from the store."""

from __future__ import annotations

import subprocess
import sys


def test_demo_pushes_an_event_through_a_plugin(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "integration_core", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("  delivery to activity.on_request: done after 1 attempt") for line in lines
    )
    assert any(" request subject=apt_" in line for line in lines)
    assert (tmp_path / "demo.db").exists()
