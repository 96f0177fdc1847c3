"""The messages practice-sync sent, as the file channel wrote them to the demo's folder.

They are told in the order they were written, each once: the story shows after each step the
messages that step caused. A message appears by its channel, its recipient masked and its
subject (an email's) or its text (a text message's), the story's patients' names hidden should
a template ever put one there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["MessageFolder", "mask", "message_files"]


class MessageFolder:
    def __init__(self, folder: Path, names: Iterable[str]) -> None:
        self.folder = folder
        self._told: set[Path] = set()
        self._names = re.compile(
            "|".join(rf"\b{re.escape(name)}\b" for name in sorted(set(names), key=len)[::-1])
            or r"(?!)"  # no names: matches nothing
        )

    def tell_new(self, say: Callable[[str], None], indent: str) -> None:
        """Say each message written since the last call (or "no message")."""
        new = [(to, path) for to, path in message_files(self.folder) if path not in self._told]
        for to, path in new:
            lines = [line for line in path.read_text().splitlines() if line]
            text = next((line[9:] for line in lines if line.startswith("Subject: ")), lines[-1])
            text = self._names.sub(lambda name: f"{name[0][0]}.", text)
            say(f"{indent}{lines[1][9:]:5} → {mask(to)}: {text}")
            self._told.add(path)
        if not new:
            say(f"{indent}no message")


def message_files(folder: Path) -> list[tuple[str, Path]]:
    """``(recipient, file)`` for each message the file channel wrote, the first sent first
    (by modification time: its file names are random)."""
    files = [(path.stat().st_mtime_ns, path) for path in (folder / "messages").glob("*.txt")]
    found = []
    for _written, path in sorted(files):
        first = path.read_text().split("\n", 1)[0]
        found.append((first.removeprefix("To: "), path))
    return found


def mask(address: str) -> str:
    """Recipients by shape, not identity: j***@example.com, +1617***0142."""
    if "@" in address:
        name, domain = address.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return f"{address[:5]}***{address[-4:]}"
