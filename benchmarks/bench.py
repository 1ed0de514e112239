"""Benchmark: whole processes of torchlint, TorchFix, Ruff and LibCST's parse, run by run.

    python benchmarks/bench.py [--corpus LABEL=PATH ...] [--runs N] [--tools FOLDER] [--skip-torchfix]

Each corpus (a folder or one file; default: the torch sources nn + optim + utils/data +
distributed of the installed torch) is copied to a temporary folder, then every tool runs as its
own process, the tools alternating run by run (so a load change on the machine hits all of them),
`--runs` times; each row gives the median, the spread (min-max) and the peak memory of the
process (its own, not its workers'). The tools:
  - torchlint cold: `torchlint check --no-cache` with the default jobs (CPU count) and `--jobs 1`;
  - torchlint warm: the same with a filled cache (nothing changed);
  - TorchFix `torchfix --select ALL` and Ruff `ruff check --select ALL --no-cache`, from `--tools`
    (a folder with their executables, such as a separate venv's bin: they are not dependencies);
  - LibCST parse-only: `python -c "import libcst"` plus parsing what torchlint parses, recorded
    from one run of it (the files where a rule can fire and the project modules it summarises);
  - `torchlint --version` (start-up).
Notebooks and Markdown files are checked as documents by torchlint; TorchFix, Ruff and the parse
get each linted block as a .py file. Not a test: the numbers depend on the machine and its load,
which is printed; report them with its core count.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

from torchlint.documents import PYTHON, document_kind, load_document
from torchlint.sources import DEFAULT_EXCLUDES, SourceError, iter_python_files, read_source

TORCH_SUBSET = ("nn", "optim", "utils/data", "distributed")
PARSE = ("import sys, libcst\n"
         "for path in sys.argv[1:]:\n"
         "    try:\n"
         "        libcst.parse_module(open(path, encoding='utf-8').read())\n"
         "    except libcst.ParserSyntaxError:\n"
         "        pass\n")


def torch_subset(into: str) -> str:
    """A folder with torch's nn, optim, utils/data and distributed sources (copied: a folder walk
    does not follow links)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("torch is not installed: pass --corpus LABEL=PATH")
    base = list(spec.submodule_search_locations)[0]
    for part in TORCH_SUBSET:
        target = os.path.join(into, "torch", part)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copytree(os.path.join(base, part), target, ignore=shutil.ignore_patterns("__pycache__"))
    return into


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


def run_once(command: Sequence[str], cwd: str) -> Tuple[float, float]:
    """Seconds and peak memory (MB) of one whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if code not in (0, 1):  # 1: findings (TorchFix); anything else is a failed run
        sys.exit(f"{' '.join(command)} failed ({code}): {error.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def torchlint_command(work: str) -> List[str]:
    """Run a frozen copy of torchlint: its cache keys and rule catalogue are named by the digest
    of its sources, so sources edited during the benchmark would turn every warm run cold.
    -I: the corpus folder must not shadow the standard library or torch (torch has types.py)."""
    frozen = os.path.join(work, "frozen")
    if not os.path.isdir(frozen):
        import torchlint

        shutil.copytree(os.path.dirname(torchlint.__file__), os.path.join(frozen, "torchlint"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        import compileall  # as `pip install` does: with PYTHONDONTWRITEBYTECODE set, every run would compile

        compileall.compile_dir(frozen, quiet=1)
    launch = f"import sys; sys.path.insert(0, {frozen!r}); from torchlint.cli import console_main; console_main()"
    return [sys.executable, "-I", "-c", launch]


def tool(name: str, folder: Optional[str]) -> str:
    if folder and os.path.exists(os.path.join(folder, name)):
        return os.path.join(folder, name)
    return shutil.which(name) or ""


# Run torchlint once, in one process, and write every text it gives LibCST's parser to a folder:
# the files it lints and the modules the project model summarises, as many times as it parses them.
RECORD = ("import os, sys, libcst\n"
          "sys.path.insert(0, sys.argv[1])\n"
          "out, parse, count = sys.argv[2], libcst.parse_module, [0]\n"
          "def recording(source, *args, **kwargs):\n"
          "    count[0] += 1\n"
          "    with open(os.path.join(out, f'{count[0]}.py'), 'w', encoding='utf-8') as handle:\n"
          "        handle.write(source if isinstance(source, str) else source.decode('utf-8', 'replace'))\n"
          "    return parse(source, *args, **kwargs)\n"
          "libcst.parse_module = recording\n"
          "from torchlint.cli import main\n"
          "main(['check', '--no-cache', '--jobs', '1', '--exit-zero', '--output-format', 'json', '.'])\n")


def prepare(label: str, path: str, work: str) -> Tuple[str, str, List[str], List[str]]:
    """(folder torchlint checks, folder of .py blocks for the other tools, all texts, the texts
    torchlint parses with LibCST, as files: recorded from a run, not guessed)."""
    root = os.path.join(work, label)
    corpus, blocks, parsed_dir = (os.path.join(root, name) for name in ("corpus", "blocks", "parsed"))
    if os.path.isfile(path):
        os.makedirs(os.path.join(root, "single"))
        shutil.copyfile(path, os.path.join(root, "single", os.path.basename(path)))
        path = os.path.join(root, "single")
    texts = copy_corpus(path, corpus, blocks)
    os.makedirs(parsed_dir, exist_ok=True)
    torchlint_command(work)  # makes the frozen copy
    subprocess.run([sys.executable, "-I", "-c", RECORD, os.path.join(work, "frozen"), parsed_dir], cwd=corpus,
                   stdout=subprocess.DEVNULL, check=True)
    parsed = sorted((os.path.join(parsed_dir, name) for name in os.listdir(parsed_dir)),
                    key=lambda name: int(os.path.basename(name)[:-3]))
    return corpus, blocks, texts, parsed


def bench(label: str, path: str, work: str, runs: int, tools: Optional[str], skip_torchfix: bool) -> Dict[str, tuple]:
    corpus, blocks, texts, parsed = prepare(label, path, work)
    lines = sum(text.count("\n") + 1 for text in texts)
    torchlint = torchlint_command(work) + ["check", "--exit-zero", "--output-format", "json"]
    cache = os.path.join(work, label, "cache")
    commands: Dict[str, Tuple[List[str], str]] = {
        "torchlint cold": (torchlint + ["--no-cache", "."], corpus),
        "torchlint cold --jobs 1": (torchlint + ["--no-cache", "--jobs", "1", "."], corpus),
        "torchlint warm": (torchlint + ["--cache-dir", cache, "."], corpus),
        "libcst parse-only": ([sys.executable, "-I", "-c", PARSE] + parsed, work),
        "torchlint --version": (torchlint_command(work) + ["--version"], work),
    }
    torchfix, ruff = tool("torchfix", tools), tool("ruff", tools)
    if torchfix and not skip_torchfix:
        commands["torchfix --select ALL"] = ([torchfix, "--select", "ALL", "."], blocks)
    if ruff:
        commands["ruff --select ALL --no-cache"] = ([ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero",
                                                      "--quiet", "."], blocks)
    run_once(commands["torchlint warm"][0], corpus)  # fills the cache
    times: Dict[str, List[Tuple[float, float]]] = {name: [] for name in commands}
    for number in range(runs):
        order = list(commands)
        if number % 2:
            order.reverse()  # alternate: no tool always runs right after the same one
        for name in order:
            times[name].append(run_once(*commands[name]))
    print(f"\n## {label}: {len(texts)} files, {lines:,} lines; LibCST parses in a torchlint run: {len(parsed)}; {runs} runs")
    print(f"{'tool':<30} {'median s':>9} {'min-max s':>13} {'peak MB':>8}")
    results = {}
    for name, samples in times.items():
        seconds = [s for s, _ in samples]
        median = statistics.median(seconds)
        results[name] = (median, min(seconds), max(seconds))
        print(f"{name:<30} {median:>9.3f} {min(seconds):>6.3f}-{max(seconds):<6.3f} {max(m for _, m in samples):>8.0f}")
    def ratio(a: str, b: str, digits: int = 1) -> str:
        return f"{results[a][0] / results[b][0]:.{digits}f}x" if a in results and b in results else "not run"

    print(f"TorchFix / torchlint cold: {ratio('torchfix --select ALL', 'torchlint cold')}; "
          f"--jobs 1: {ratio('torchfix --select ALL', 'torchlint cold --jobs 1')} (target >= 20x)")
    print(f"torchlint cold --jobs 1 / LibCST parse-only: {ratio('torchlint cold --jobs 1', 'libcst parse-only', 2)} "
          f"(target <= 1.5x; one file <= 1.3x)")
    print(f"torchlint warm / Ruff: {ratio('torchlint warm', 'ruff --select ALL --no-cache', 2)}; "
          f"torchlint cold / Ruff: {ratio('torchlint cold', 'ruff --select ALL --no-cache')}")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", default=[], metavar="LABEL=PATH",
                        help="a folder or one file (repeatable; default: torch nn + optim + utils/data + distributed)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", help="folder holding ruff and torchfix executables")
    parser.add_argument("--skip-torchfix", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as work:
        corpora = [tuple(c.split("=", 1)) for c in args.corpus]
        if not corpora:
            corpora = [("torch-subset", torch_subset(os.path.join(work, "torch-links")))]
        for label, path in corpora:
            bench(label, os.path.abspath(path), work, args.runs, args.tools, args.skip_torchfix)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
