"""Every rule through the cross-file path: small multi-file projects of our own in tests/projects/,
each expected finding marked `# expect: CODE` on its line, near-misses unmarked.

Each project is checked as a user would (`torchlint check <project>`), so imports resolve the way
Python resolves them for those files: the script's folder, packages and relative imports,
`__init__` re-exports, a `src`-style folder named in `[tool.torchlint] src`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECTS = Path(__file__).parent / "projects"
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*)")


def _expected(project: Path):
    found = set()
    for path in sorted(project.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = _EXPECT.search(line)
            if match:
                for code in match.group(1).split(","):
                    found.add((path.relative_to(project).as_posix(), number, code.strip()))
    return found


def _reported(project: Path):
    result = subprocess.run(
        [sys.executable, "-m", "torchlint", "check", "--no-cache", "--output-format", "json", "--exit-zero", "."],
        cwd=project, capture_output=True, text=True, check=True,
    )
    return {((project / f["filename"]).resolve().relative_to(project.resolve()).as_posix(), f["location"]["row"], f["code"])
            for f in json.loads(result.stdout)}


@pytest.mark.parametrize("project", sorted(p.name for p in PROJECTS.iterdir() if p.is_dir()))
def test_project_findings_are_exactly_the_marked_lines(project):
    folder = PROJECTS / project
    assert _reported(folder) == _expected(folder)
