"""The precision harness (benchmarks/wild.py) on a tiny generated checkout: joins, counts, sampling, warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

WILD = Path(__file__).resolve().parent.parent / "benchmarks" / "wild.py"
COMMIT = "a" * 40
SOURCE = 'import torch\n\na = torch.load("a.pt")\nb = torch.load("b.pt")\nc = torch.load("c.pt")\n'


def make_corpus(tmp_path: Path, recorded_commit: str = COMMIT) -> Path:
    checkout = tmp_path / "wild" / "someone+tiny"
    (checkout / "pkg").mkdir(parents=True)
    (checkout / "pkg" / "loads.py").write_text(SOURCE)
    (checkout / ".wild_commit").write_text(COMMIT + "\n")
    (tmp_path / "repos.tsv").write_text(f"repository\tcommit\tfolder\nsomeone/tiny\t{recorded_commit}\tsomeone+tiny\n")
    rows = [
        "repository\tcommit\tpath\tline\tcode\tverdict\treason",
        f"someone/tiny\t{COMMIT}\tpkg/loads.py\t3\tTL502\tTP\tuntrusted path",
        f"someone/tiny\t{COMMIT}\tpkg/loads.py\t4\tTL502\tFP\tfile written by the test",
        f"someone/tiny\t{COMMIT}\tpkg/gone.py\t9\tTL502\tTP\tno such finding any more",
    ]
    (tmp_path / "verdicts.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path / "wild"


def run_wild(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command: List[str] = [sys.executable, str(WILD), str(tmp_path / "wild"), "--repos", str(tmp_path / "repos.tsv"),
                          "--verdicts", str(tmp_path / "verdicts.tsv"), *args, "--", "--select", "TL502", "--jobs", "1"]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=120)


def table_row(out: str, code: str) -> List[str]:
    return next(line.split() for line in out.splitlines() if line.startswith(code + " "))


def test_counts_judged_unjudged_and_precision(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    done = run_wild(tmp_path, "--unjudged", str(tmp_path / "todo.txt"))
    assert done.returncode == 0, done.stderr
    assert table_row(done.stdout, "TL502") == ["TL502", "3", "3", "1", "1", "1", "50.0%"]
    repo_row = table_row(done.stdout, "someone/tiny")
    assert repo_row[2:5] == ["1", "5", repo_row[4]] and repo_row[5] == "3"  # files, lines, seconds, findings
    assert "1 verdicts match no current finding" in done.stdout
    todo = (tmp_path / "todo.txt").read_text()
    assert f"someone/tiny\t{COMMIT}\tpkg/loads.py\t5\tTL502\t\t" in todo
    assert '>     5 | c = torch.load("c.pt")' in todo
    assert "warning" not in done.stderr


def test_sample_limits_what_needs_judgment(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    done = run_wild(tmp_path, "--sample", "2", "--seed", "1")
    assert done.returncode == 0, done.stderr
    row = table_row(done.stdout, "TL502")
    assert row[:3] == ["TL502", "3", "2"] and row[3:5] == ["1", "1"]
    assert "TL502: 3 findings, a random 2 (seed 1) need a verdict" in done.stdout


def test_warns_when_checkout_commit_differs(tmp_path: Path) -> None:
    make_corpus(tmp_path, recorded_commit="b" * 40)
    done = run_wild(tmp_path)
    assert done.returncode == 0
    assert "repos.tsv says " + "b" * 40 in done.stderr
