"""``docs/ehr-adapters.md`` quotes ``examples/acme_ehr``: every snippet must still be in the file
it names, so the guide cannot drift from code that CI runs.

A snippet is a fenced block right after a marker line naming its file, relative to the
repository's root::

    <!-- snippet: examples/acme_ehr/acme_ehr/plugin.py -->
    ```python
    ...
    ```

Its lines must appear in that file as one run of whole lines, as they are or indented by a
constant amount (a method may be shown without its class's indentation). Every Python and TOML
block of the guide must be a snippet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / "docs" / "ehr-adapters.md"
MARKER = re.compile(r"^<!-- snippet: (?P<path>\S+) -->$")
FENCE = re.compile(r"^```(?P<language>[\w-]*)$")
QUOTED_LANGUAGES = {"python", "toml"}
EXAMPLE_FILES = {
    "examples/acme_ehr/pyproject.toml",
    "examples/acme_ehr/practice-sync.toml",
    "examples/acme_ehr/acme_ehr/adapter.py",
    "examples/acme_ehr/acme_ehr/answers.py",
    "examples/acme_ehr/acme_ehr/config.py",
    "examples/acme_ehr/acme_ehr/plugin.py",
    "examples/acme_ehr/acme_ehr/fake_journal.py",
    "examples/acme_ehr/tests/conftest.py",
    "examples/acme_ehr/tests/acme_staff.py",
    "examples/acme_ehr/tests/test_contract.py",
    "examples/acme_ehr/tests/test_end_to_end.py",
}


@dataclass(frozen=True)
class Snippet:
    path: str
    code: str
    line: int
    """The marker's line in the guide (1-based)."""


class GuideError(ValueError):
    """The guide's markers or fences are malformed."""


def snippets(markdown: str) -> list[Snippet]:
    """Every marked snippet; refuses a marker without a block, an unclosed block, and a Python
    or TOML block without a marker."""
    lines = markdown.splitlines()
    found: list[Snippet] = []
    index = 0
    while index < len(lines):
        marker = MARKER.match(lines[index])
        fence = FENCE.match(lines[index])
        if marker is None and fence is None:
            index += 1
            continue
        if marker is not None:
            if index + 1 >= len(lines) or not FENCE.match(lines[index + 1]):
                raise GuideError(f"line {index + 1}: a snippet marker not followed by a block")
            start = index + 2
        else:
            assert fence is not None
            if fence["language"] in QUOTED_LANGUAGES:
                raise GuideError(f"line {index + 1}: a {fence['language']} block with no marker")
            start = index + 1
        end = next((i for i in range(start, len(lines)) if lines[i] == "```"), None)
        if end is None:
            raise GuideError(f"line {index + 1}: a block that is never closed")
        if marker is not None:
            found.append(Snippet(marker["path"], "\n".join(lines[start:end]), index + 1))
        index = end + 1
    return found


def appears_in(code: str, text: str) -> bool:
    """Whether ``code``'s lines are one run of whole lines of ``text``, as they are or all
    indented by the same number of spaces (blank lines stay blank)."""
    wanted = code.splitlines()
    if not any(line.strip() for line in wanted):
        return False
    padded = "\n" + text + "\n"
    for width in range(0, 17, 4):
        block = "\n".join(" " * width + line if line else line for line in wanted)
        if "\n" + block + "\n" in padded:
            return True
    return False


def problems(markdown: str, root: Path) -> list[str]:
    """One line per snippet that is not (or no longer) in the file it names."""
    found = snippets(markdown)
    if not found:
        return ["the guide has no snippets"]
    lines = []
    for snippet in found:
        source = root / snippet.path
        if not source.is_file():
            lines.append(f"line {snippet.line}: {snippet.path} does not exist")
        elif not appears_in(snippet.code, source.read_text()):
            lines.append(f"line {snippet.line}: the snippet is not in {snippet.path} (stale?)")
    return lines


# -- the guide ----------------------------------------------------------------------------------


def test_every_snippet_of_the_guide_is_in_the_file_it_names() -> None:
    assert problems(GUIDE.read_text(), ROOT) == []


def test_the_guide_quotes_each_part_of_the_example() -> None:
    quoted = {snippet.path for snippet in snippets(GUIDE.read_text())}
    assert EXAMPLE_FILES - quoted == set()


# -- the checker --------------------------------------------------------------------------------

SOURCE = '''class Adapter:
    def close(self) -> None:
        """Close it."""
        self.client.close()

    def other(self) -> None:
        pass
'''


def guide(path: str, code: str, language: str = "python") -> str:
    return f"# Guide\n\n<!-- snippet: {path} -->\n```{language}\n{code}\n```\n\nThe end.\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "adapter.py").write_text(SOURCE)
    return tmp_path


@pytest.mark.parametrize(
    "code",
    [
        SOURCE.rstrip("\n"),
        'def close(self) -> None:\n    """Close it."""\n    self.client.close()',
        '    def close(self) -> None:\n        """Close it."""\n        self.client.close()',
        "    self.client.close()\n\ndef other(self) -> None:",
    ],
    ids=["whole_file", "dedented_method", "as_indented", "across_a_blank_line"],
)
def test_a_snippet_found_in_its_file_passes(root: Path, code: str) -> None:
    assert problems(guide("adapter.py", code), root) == []


@pytest.mark.parametrize(
    "code",
    [
        'def close(self) -> None:\n    """Close the pool."""\n    self.client.close()',
        "def close(self) -> None:\n    self.client.close()",
        "self.client.close()\n\n    def other(self) -> None:",
        "lose(self) -> None:",
        "  def close(self) -> None:",
    ],
    ids=["changed", "a_line_left_out", "uneven_indentation", "part_of_a_line", "odd_indentation"],
)
def test_a_stale_snippet_is_found(root: Path, code: str) -> None:
    assert problems(guide("adapter.py", code), root) == [
        "line 3: the snippet is not in adapter.py (stale?)"
    ]


def test_a_snippet_of_a_missing_file_is_found(root: Path) -> None:
    assert problems(guide("gone.py", "pass"), root) == ["line 3: gone.py does not exist"]


def test_a_guide_without_snippets_fails(root: Path) -> None:
    assert problems("# Guide\n\n```sh\nmake test\n```\n", root) == ["the guide has no snippets"]


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ("<!-- snippet: adapter.py -->\n\n```python\npass\n```\n", "line 1: a snippet marker"),
        ("text\n```toml\n[a]\n```\n", "line 2: a toml block with no marker"),
        ("<!-- snippet: adapter.py -->\n```python\npass\n", "line 1: a block that is never"),
    ],
    ids=["marker_without_block", "unmarked_toml", "unclosed"],
)
def test_malformed_markers_and_blocks_are_refused(root: Path, markdown: str, message: str) -> None:
    with pytest.raises(GuideError, match=message):
        problems(markdown, root)
