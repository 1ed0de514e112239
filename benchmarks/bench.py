"""Benchmark: lint a corpus with torchlint and compare with LibCST's parse alone and TorchFix.

    python benchmarks/bench.py [DIR] [--jobs N] [--skip-torchfix] [--tools FOLDER]

DIR defaults to the Python sources of the installed torch package (real PyTorch code, offline).
Prints files, lines, seconds and lines/s for:
  - torchlint cold: `torchlint check` with the cache disabled (--jobs 1 and --jobs N);
  - torchlint warm: the same run again with a filled cache (nothing changed);
  - LibCST parse-only: parsing every file once, in this process (the floor for a LibCST linter);
    and of just the files torchlint parses (the trigger-word prefilter skips the rest);
  - TorchFix, when installed: `torchfix --select ALL` and `flake8 --select TOR`;
  - Ruff, when installed: `ruff check --no-cache` (its default rules), cold;
  - the pre-commit case: `torchlint check --no-cache FILE` of one median-sized file, against
    `python -c "import libcst"` plus LibCST's parse of that file.
A corpus of Markdown files and notebooks (the user's notes: tests/data/notes) is checked as
documents by torchlint; TorchFix and Ruff, which do not read them, get each Python block as a
.py file. `--tools` names a folder with `ruff` and `torchfix` executables (a venv's bin).
Not a test: the numbers depend on the machine. Report them with its core count.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

import libcst as cst

from torchlint.engine import triggered_rules
from torchlint.rule import all_rules
from torchlint.documents import PYTHON, document_kind, load_document
from torchlint.sources import DEFAULT_EXCLUDES, SourceError, iter_python_files, read_source


def default_corpus() -> str:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("torch is not installed: pass a directory to benchmark")
    return list(spec.submodule_search_locations)[0]


def copy_corpus(root: str, into: str, blocks: str) -> list:
    """Copy the corpus's checked files (a torch install lives under site-packages, which torchlint
    skips by default) and return the Python texts: of .py files, and of the linted blocks of
    notebooks and Markdown files, which are also written as .py files under `blocks` for tools
    that read only Python."""
    texts = []
    excludes = [e for e in DEFAULT_EXCLUDES if e != "site-packages"]
    for path in iter_python_files([root], excludes):
        try:
            text = read_source(path).text
        except SourceError:
            continue
        relative = os.path.relpath(path, root)
        target = os.path.join(into, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
        if document_kind(path) == PYTHON:
            texts.append(text)
            pieces = [text]
        else:
            try:
                document = load_document(path, text)
            except Exception:
                continue
            pieces = [unit.code for unit in document.units if not unit.skipped and unit.error is None]
            texts.extend(pieces)
        for number, piece in enumerate(pieces):
            out = os.path.join(blocks, relative + (f".{number}.py" if document_kind(path) != PYTHON else ""))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(piece)
    return texts


def median_file(folder: str) -> str:
    files = sorted((os.path.getsize(p), p) for p in iter_python_files([folder], DEFAULT_EXCLUDES)
                   if p.endswith(".py"))
    return files[len(files) // 2][1]


def tool(name: str, folder) -> str:
    if folder and os.path.exists(os.path.join(folder, name)):
        return os.path.join(folder, name)
    return shutil.which(name) or ""


def timed_command(command, cwd) -> float:
    start = time.perf_counter()
    process = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if process.returncode not in (0, 1):  # 1: findings (TorchFix, flake8); anything else is a failed run
        sys.exit(f"{' '.join(command)} failed ({process.returncode}): {process.stderr.strip()[-500:]}")
    return seconds


def parse_seconds(texts) -> float:
    start = time.perf_counter()
    for text in texts:
        try:
            cst.parse_module(text)
        except cst.ParserSyntaxError:
            pass
    return time.perf_counter() - start


def row(label, files, lines, seconds):
    print(f"{label:<34} {files:>6} {lines:>9} {seconds:>9.2f} {lines / seconds:>11,.0f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", help="directory of Python files (default: torch's sources)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-torchfix", action="store_true")
    parser.add_argument("--tools", help="folder holding ruff and torchfix executables")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.corpus or default_corpus())
    # -I: the corpus folder must not shadow the standard library (torch has types.py, random.py, ...).
    torchlint = [sys.executable, "-I", "-m", "torchlint", "check", "--exit-zero", "--output-format", "json"]
    with tempfile.TemporaryDirectory() as work:
        corpus = os.path.join(work, "corpus")
        blocks = os.path.join(work, "blocks")
        texts = copy_corpus(root, corpus, blocks)
        lines = sum(text.count("\n") + 1 for text in texts)
        parsed = [t for t in texts if triggered_rules(t, all_rules())]
        parsed_lines = sum(t.count("\n") + 1 for t in parsed)
        cache = os.path.join(work, "cache")
        print(f"corpus: {root}\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"{'run':<34} {'files':>6} {'lines':>9} {'seconds':>9} {'lines/s':>11}")
        results = {}
        results["cold1"] = timed_command(torchlint + ["--no-cache", "--jobs", "1", "."], corpus)
        row("torchlint cold, 1 job", len(texts), lines, results["cold1"])
        results["coldN"] = timed_command(torchlint + ["--no-cache", "--jobs", str(args.jobs), "."], corpus)
        row(f"torchlint cold, {args.jobs} jobs", len(texts), lines, results["coldN"])
        timed_command(torchlint + ["--cache-dir", cache, "."], corpus)
        results["warm"] = min(timed_command(torchlint + ["--cache-dir", cache, "."], corpus) for _ in range(3))
        row(f"torchlint warm (cache), {args.jobs} jobs", len(texts), lines, results["warm"])
        results["parse"] = parse_seconds(texts)
        row("libcst parse-only, all files", len(texts), lines, results["parse"])
        results["parse_parsed"] = parse_seconds(parsed)
        row("libcst parse-only, files parsed", len(parsed), parsed_lines, results["parse_parsed"])
        torchfix = tool("torchfix", args.tools)
        if not args.skip_torchfix and torchfix:
            results["torchfix"] = timed_command([torchfix, "--select", "ALL", "."], blocks)
            row("torchfix --select ALL", len(texts), lines, results["torchfix"])
            flake8 = os.path.join(os.path.dirname(torchfix), "flake8")
            if os.path.exists(flake8):
                results["flake8_tor"] = timed_command([flake8, "--select", "TOR", "."], blocks)
                row("flake8 --select TOR (TorchFix)", len(texts), lines, results["flake8_tor"])
        ruff = tool("ruff", args.tools)
        if ruff:
            results["ruff"] = timed_command([ruff, "check", "--no-cache", "--exit-zero", "--quiet", "."], blocks)
            row("ruff check, cold", len(texts), lines, results["ruff"])
        single = median_file(blocks)
        with open(single, encoding="utf-8") as handle:
            single_lines = handle.read().count("\n") + 1
        results["single"] = min(timed_command(torchlint + ["--no-cache", single], work) for _ in range(3))
        row("torchlint cold, one file", 1, single_lines, results["single"])
        floor = [sys.executable, "-I", "-c", "import sys, libcst; libcst.parse_module(open(sys.argv[1]).read())", single]
        results["floor"] = min(timed_command(floor, work) for _ in range(3))
        row("import libcst + parse, one file", 1, single_lines, results["floor"])
        print(f"\nfiles parsed by torchlint (trigger words present): {len(parsed)}/{len(texts)}")
        print(f"torchlint cold 1 job / parse-only of the files it parses: "
              f"{results['cold1'] / results['parse_parsed']:.2f}x")
        if "torchfix" in results:
            print(f"TorchFix / torchlint cold ({args.jobs} jobs): {results['torchfix'] / results['coldN']:.1f}x")
            print(f"TorchFix / torchlint warm: {results['torchfix'] / results['warm']:.1f}x (target: 100x or more)")
        if "ruff" in results:
            print(f"torchlint warm / Ruff cold: {results['warm'] / results['ruff']:.2f}x (target: 3x or less)")
        print(f"torchlint cold one file / (import libcst + parse): {results['single'] / results['floor']:.2f}x "
              f"(target: 1.3x or less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
