"""Precision on real code: run torchlint over checkouts of public repositories and join its
findings with hand-written verdicts.

    python benchmarks/wild.py [DIR] [--preview] [--unjudged FILE] [--sample N --seed S] [-- EXTRA...]
    python benchmarks/wild.py --extract GITDIR DEST

DIR (default /work/wild) holds one folder per repository, named as in benchmarks/wild/repos.tsv
(repository, commit, folder). Each is linted with `python -m torchlint check --no-cache --exit-zero
--output-format json`; a finding is keyed by (repository, commit, path in the checkout, line, code)
and joined with benchmarks/wild/verdicts.tsv (repository, commit, path, line, code, verdict TP/FP,
reason). Prints per rule: findings, judged TP/FP, unjudged, precision; and files, lines, seconds per
repository. Only facts about others' code are committed here, never their source.

`--sample N --seed S`: for a rule with more than N findings, a seeded random N of them need a
verdict (the others may still be judged and then count). `--unjudged FILE` writes the findings
still needing a verdict, each with a few lines of code around it, in a form ready to fill in.
`--extract` unpacks a bare git snapshot (as the `fetch` tool brings it), skipping blobs the
snapshot lacks. Standard library only: it must run where torchlint is merely installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPOS_TSV = os.path.join(HERE, "wild", "repos.tsv")
VERDICTS_TSV = os.path.join(HERE, "wild", "verdicts.tsv")
DEFAULT_DIR = "/work/wild"
# Same folders torchlint skips (torchlint.sources.DEFAULT_EXCLUDES), so the line counts match what it reads.
SKIPPED_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "build", "dist", "__pycache__",
    "node_modules", "site-packages", ".eggs", ".mypy_cache", ".pytest_cache", ".torchlint_cache",
}
CONTEXT = 3

Key = Tuple[str, str, str, int, str]  # repository, commit, path, line, code


@dataclass
class Repo:
    name: str
    commit: str
    folder: str


@dataclass
class Finding:
    key: Key
    message: str
    column: int


@dataclass
class RepoRun:
    repo: Repo
    files: int = 0
    lines: int = 0
    seconds: float = 0.0
    findings: List[Finding] = field(default_factory=list)
    error: Optional[str] = None


def read_tsv(path: str) -> Iterator[List[str]]:
    """Rows of a tab-separated file, skipping blank lines, `#` comments and a header row."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if number == 0 and cells[0] == "repository":
                continue
            yield cells


def read_repos(path: str) -> List[Repo]:
    return [Repo(c[0], c[1], c[2] if len(c) > 2 and c[2] else c[0].replace("/", "+")) for c in read_tsv(path)]


def read_verdicts(path: str) -> Dict[Key, Tuple[str, str]]:
    verdicts: Dict[Key, Tuple[str, str]] = {}
    for cells in read_tsv(path):
        if len(cells) < 6:
            print(f"warning: {path}: short row skipped: {cells!r}", file=sys.stderr)
            continue
        verdict = cells[5].strip().upper()
        if verdict not in ("TP", "FP"):
            print(f"warning: {path}: verdict must be TP or FP: {cells!r}", file=sys.stderr)
            continue
        key = (cells[0], cells[1], cells[2], int(cells[3]), cells[4])
        verdicts[key] = (verdict, cells[6] if len(cells) > 6 else "")
    return verdicts


def checkout_commit(checkout: str) -> Optional[str]:
    """The commit of a checkout: from its .git when it has one, else from the .wild_commit file that --extract leaves."""
    marker = os.path.join(checkout, ".wild_commit")
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as handle:
            return handle.read().strip() or None
    if os.path.exists(os.path.join(checkout, ".git")):
        done = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.strip()
    return None


def count_sources(checkout: str) -> Tuple[int, int]:
    """Python files and their lines (notebooks and Markdown, which torchlint also reads, are not counted)."""
    files = lines = 0
    for root, dirs, names in os.walk(checkout):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in names:
            if name.endswith(".py"):
                files += 1
                with open(os.path.join(root, name), "rb") as handle:
                    lines += handle.read().count(b"\n")
    return files, lines


def lint(repo: Repo, checkout: str, extra: Sequence[str], source: Optional[str] = None) -> RepoRun:
    """Run torchlint from an empty folder, so no module of the checkout shadows the standard library;
    `source` (a folder holding a `torchlint` package) goes first on the path when given."""
    run = RepoRun(repo)
    run.files, run.lines = count_sources(checkout)
    command = [sys.executable, "-m", "torchlint", "check", "--no-cache", "--exit-zero",
               "--output-format", "json", *extra, checkout]
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as empty:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=empty, capture_output=True, text=True, env=env)
        run.seconds = time.perf_counter() - start
    try:
        items = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as error:
        run.error = f"torchlint exited {done.returncode}, unreadable JSON ({error}): {done.stderr.strip()[-300:]}"
        return run
    if done.returncode != 0:  # internal errors are TL002 findings in the JSON; keep the rest of the run
        internal = [i.get("message", "") for i in items if i.get("code") == "TL002"]
        detail = internal[0] if internal else done.stderr.strip()[-300:]
        run.error = f"torchlint exited {done.returncode} ({len(internal)} TL002): {detail[:300]}"
    for item in items:
        path = os.path.relpath(os.path.abspath(os.path.join(empty, item["filename"])), checkout).replace(os.sep, "/")
        if item.get("cell") is not None:  # notebooks: rows count within the cell, as torchlint prints them
            path = f"{path}:cell {item['cell']}"
        key = (repo.name, repo.commit, path, int(item["location"]["row"]), item["code"])
        run.findings.append(Finding(key, item.get("message", ""), int(item["location"].get("column", 1))))
    return run


def sample_rank(key: Key, seed: int) -> str:
    """A stable pseudo-random rank: the same finding keeps its place when other findings come and go."""
    return hashlib.sha256(("%d\t%s" % (seed, "\t".join(map(str, key)))).encode()).hexdigest()


def needing_judgment(findings: List[Finding], sample: Optional[int], seed: int) -> Dict[str, Set[Key]]:
    by_rule: Dict[str, List[Key]] = defaultdict(list)
    for finding in findings:
        by_rule[finding.key[4]].append(finding.key)
    needed: Dict[str, Set[Key]] = {}
    for code, keys in by_rule.items():
        keys = sorted(set(keys))
        if sample is not None and len(keys) > sample:
            keys = sorted(keys, key=lambda k: sample_rank(k, seed))[:sample]
        needed[code] = set(keys)
    return needed


def source_lines(checkout: str, path: str) -> List[str]:
    """The lines a finding's row counts in: the file, or for `nb.ipynb:cell N` that notebook cell."""
    file_path, _, cell = path.partition(":cell ")
    try:
        with open(os.path.join(checkout, file_path), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return []
    if not cell:
        return text.splitlines()
    try:
        source = json.loads(text)["cells"][int(cell) - 1]["source"]
    except (ValueError, KeyError, IndexError, TypeError):
        return []
    return ("".join(source) if isinstance(source, list) else str(source)).splitlines()


def context(checkout: str, path: str, line: int) -> List[str]:
    text = source_lines(checkout, path)
    low, high = max(1, line - CONTEXT), min(len(text), line + CONTEXT)
    return [f"{'>' if n == line else ' '}{n:6d} | {text[n - 1]}" for n in range(low, high + 1)]


def precision(tp: int, fp: int) -> str:
    return f"{100.0 * tp / (tp + fp):.1f}%" if tp + fp else "-"


def report(runs: List[RepoRun], verdicts: Dict[Key, Tuple[str, str]], sample: Optional[int], seed: int,
           unjudged_path: Optional[str], root: str) -> None:
    findings = [f for run in runs for f in run.findings]
    needed = needing_judgment(findings, sample, seed)
    present = {f.key for f in findings}
    rules = sorted({f.key[4] for f in findings})
    print(f"{'repository':50} {'commit':12} {'files':>6} {'lines':>8} {'seconds':>8} {'findings':>8}")
    for run in runs:
        status = f"  ERROR: {run.error}" if run.error else ""
        if run.error:
            print(f"warning: {run.repo.name}: {run.error}", file=sys.stderr)
        print(f"{run.repo.name:50} {run.repo.commit[:12]:12} {run.files:6d} {run.lines:8d} {run.seconds:8.1f} "
              f"{len(run.findings):8d}{status}")
    print(f"{'overall':50} {'':12} {sum(r.files for r in runs):6d} {sum(r.lines for r in runs):8d} "
          f"{sum(r.seconds for r in runs):8.1f} {len(findings):8d}")
    print()
    print(f"{'rule':8} {'findings':>8} {'to judge':>8} {'TP':>5} {'FP':>5} {'unjudged':>8} {'precision':>9}")
    total = {"n": 0, "need": 0, "tp": 0, "fp": 0, "un": 0}
    notes: List[str] = []
    unjudged: List[Finding] = []
    for code in rules:
        keys = {f.key for f in findings if f.key[4] == code}
        tp = sum(1 for k in keys if verdicts.get(k, ("",))[0] == "TP")
        fp = sum(1 for k in keys if verdicts.get(k, ("",))[0] == "FP")
        missing = {k for k in needed[code] if k not in verdicts}
        first = {}
        for finding in findings:
            if finding.key in missing:
                first.setdefault(finding.key, finding)
        unjudged.extend(first.values())
        if len(needed[code]) < len(keys):
            notes.append(f"{code}: {len(keys)} findings, a random {len(needed[code])} (seed {seed}) need a verdict")
        print(f"{code:8} {len(keys):8d} {len(needed[code]):8d} {tp:5d} {fp:5d} {len(missing):8d} "
              f"{precision(tp, fp):>9}")
        for name, value in (("n", len(keys)), ("need", len(needed[code])), ("tp", tp), ("fp", fp),
                            ("un", len(missing))):
            total[name] += value
    print(f"{'all':8} {total['n']:8d} {total['need']:8d} {total['tp']:5d} {total['fp']:5d} {total['un']:8d} "
          f"{precision(total['tp'], total['fp']):>9}")
    for note in notes:
        print(f"sampled: {note}")
    stale = [k for k in verdicts if k[0] in {r.repo.name for r in runs} and k not in present]
    if stale:
        print(f"{len(stale)} verdicts match no current finding (the rule changed, or the line moved):")
        for key in sorted(stale, key=lambda k: (k[4], k))[:200]:
            print(f"  stale: {key[4]} {key[0]} {key[2]}:{key[3]} ({verdicts[key][0]})")
    if unjudged_path:
        write_unjudged(unjudged_path, unjudged, runs, root)
        print(f"{len(unjudged)} unjudged findings written to {unjudged_path}")


def write_unjudged(path: str, unjudged: List[Finding], runs: List[RepoRun], root: str) -> None:
    """One block per finding: the verdict row to complete (verdict and reason blank), then the code."""
    folders = {run.repo.name: os.path.join(root, run.repo.folder) for run in runs}
    with open(path, "w", encoding="utf-8") as out:
        for finding in sorted(unjudged, key=lambda f: (f.key[4], f.key)):
            repository, commit, file_path, line, code = finding.key
            out.write("\t".join([repository, commit, file_path, str(line), code, "", ""]) + "\n")
            out.write(f"# {code} {file_path}:{line}:{finding.column}: {finding.message}\n")
            for text in context(folders[repository], file_path, line):
                out.write(f"#{text}\n")
            out.write("\n")


def extract(git_dir: str, dest: str) -> None:
    """`git archive HEAD | tar -x`, minus the blobs a partial snapshot lacks; records the commit."""
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "-z", "HEAD"], check=True,
                             capture_output=True).stdout
    os.makedirs(dest, exist_ok=True)
    skipped = 0
    for entry in filter(None, listing.split(b"\0")):
        meta, raw_path = entry.split(b"\t", 1)
        mode, kind, obj = meta.split()
        if kind != b"blob" or mode == b"120000":
            continue
        blob = subprocess.run(["git", "--git-dir", git_dir, "cat-file", "blob", obj.decode()], capture_output=True)
        if blob.returncode != 0:
            skipped += 1
            continue
        target = os.path.join(dest, os.fsdecode(raw_path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(blob.stdout)
    with open(os.path.join(dest, ".wild_commit"), "w", encoding="utf-8") as handle:
        handle.write(commit + "\n")
    print(f"{dest}: commit {commit}, {skipped} blobs absent from the snapshot skipped")


def snapshot(revision: str, into: str) -> str:
    """The torchlint package as committed at `revision`, unpacked into `into`: a run that other people's
    uncommitted edits cannot change. Returns the full commit id."""
    repo = os.path.dirname(HERE)
    commit = subprocess.run(["git", "-C", repo, "rev-parse", revision], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", repo, "archive", commit, "torchlint"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return commit


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="folder of checkouts (default /work/wild)")
    parser.add_argument("--repos", default=REPOS_TSV, help="repositories TSV (repository, commit, folder)")
    parser.add_argument("--verdicts", default=VERDICTS_TSV, help="verdicts TSV")
    parser.add_argument("--only", action="append", default=[], help="lint only this repository (repeatable)")
    parser.add_argument("--preview", action="store_true", help="pass --preview to torchlint")
    parser.add_argument("--unjudged", metavar="FILE", help="write the findings still needing a verdict")
    parser.add_argument("--sample", type=int, help="per rule, at most N findings need a verdict")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--torchlint-rev", metavar="REV",
                        help="lint with torchlint as committed at REV (e.g. HEAD), not the working tree")
    parser.add_argument("--extract", nargs=2, metavar=("GITDIR", "DEST"), help="unpack a bare git snapshot")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.extract:
        extract(*args.extract)
        return 0
    if args.preview:
        extra.insert(0, "--preview")
    repos = [r for r in read_repos(args.repos) if not args.only or r.name in args.only]
    runs: List[RepoRun] = []
    with tempfile.TemporaryDirectory() as source:
        if args.torchlint_rev:
            print(f"torchlint at commit {snapshot(args.torchlint_rev, source)}")
        else:
            source = ""
            print("torchlint from the installed package (working tree, uncommitted edits included)")
        for repo in repos:
            run = check_repo(repo, args.dir, extra, source)
            if run is not None:
                runs.append(run)
    report(runs, read_verdicts(args.verdicts), args.sample, args.seed, args.unjudged, args.dir)
    return 0


def check_repo(repo: Repo, root: str, extra: Sequence[str], source: str) -> Optional[RepoRun]:
    """Lint one checkout, warning when it is missing or not at the commit that repos.tsv names."""
    checkout = os.path.abspath(os.path.join(root, repo.folder))
    if not os.path.isdir(checkout):
        print(f"warning: {repo.name}: no checkout at {checkout}, skipped", file=sys.stderr)
        return None
    actual = checkout_commit(checkout)
    if actual is None:
        print(f"warning: {repo.name}: commit of {checkout} unknown (no .git, no .wild_commit)", file=sys.stderr)
    elif actual != repo.commit:
        print(f"warning: {repo.name}: checkout is at {actual}, repos.tsv says {repo.commit}; "
              f"verdicts may not match", file=sys.stderr)
    run = lint(repo, checkout, extra, source or None)
    print(f"linted {repo.name}: {len(run.findings)} findings in {run.seconds:.1f}s", file=sys.stderr)
    return run


if __name__ == "__main__":
    sys.exit(main())
