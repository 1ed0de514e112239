"""Benchmark: lint a corpus and compare with LibCST's parse alone.

    python benchmarks/bench.py [DIR]        # default: the installed torch package's sources

Prints files, lines, seconds and lines/s for:
  - torchlint: read + lint with every rule, serially, in this process;
  - parse-only (all): LibCST parse of every file, the floor any LibCST linter pays without a prefilter;
  - parse-only (triggered): LibCST parse of just the files torchlint decides to parse.
Not a test: numbers depend on the machine. Report them with the machine's core count.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import libcst as cst

from torchlint.engine import lint_text, triggered_rules
from torchlint.rule import all_rules
from torchlint.sources import DEFAULT_EXCLUDES, SourceError, iter_python_files, read_source


def default_corpus() -> str:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("torch is not installed: pass a directory to benchmark")
    return list(spec.submodule_search_locations)[0]


def load_corpus(root: str):
    texts = []
    for path in iter_python_files([root], [e for e in DEFAULT_EXCLUDES if e != "site-packages"]):
        try:
            texts.append((path, read_source(path).text))
        except SourceError:
            pass
    return texts


def timed(label, texts, work, lines):
    start = time.perf_counter()
    for path, text in texts:
        work(path, text)
    seconds = time.perf_counter() - start
    print(f"{label:<28} {len(texts):>6} {lines:>9} {seconds:>9.2f} {lines / seconds:>11,.0f}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", help="directory of Python files (default: torch's sources)")
    args = parser.parse_args(argv)
    root = args.corpus or default_corpus()
    rules = all_rules()
    texts = load_corpus(root)
    lines = sum(text.count("\n") + 1 for _, text in texts)
    triggered = [(p, t) for p, t in texts if triggered_rules(t, rules)]
    triggered_lines = sum(t.count("\n") + 1 for _, t in triggered)
    findings = [0]

    def lint(path, text):
        findings[0] += len(lint_text(text, rules).findings)

    def parse(path, text):
        try:
            cst.parse_module(text)
        except cst.ParserSyntaxError:
            pass

    print(f"corpus: {root}  ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, libcst {cst.__version__ if hasattr(cst, '__version__') else ''})")
    print(f"{'run':<28} {'files':>6} {'lines':>9} {'seconds':>9} {'lines/s':>11}")
    lint_seconds = timed("torchlint (all rules)", texts, lint, lines)
    parse_all = timed("libcst parse-only (all)", texts, parse, lines)
    parse_triggered = timed("libcst parse-only (parsed)", triggered, parse, triggered_lines)
    print(f"findings: {findings[0]}; files parsed by torchlint: {len(triggered)}/{len(texts)}")
    print(f"torchlint / parse-only(all) = {lint_seconds / parse_all:.2f}; "
          f"torchlint / parse-only(parsed files) = {lint_seconds / parse_triggered:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
