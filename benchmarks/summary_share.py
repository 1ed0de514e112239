"""How much of a cold run goes into building module summaries (the project model), in-process.

    python benchmarks/summary_share.py DIR [DIR ...]

Lints every Python file under each folder cold (no cache) with all default rules, twice: with the
project model, and with it switched off (no import resolves to a project module), alternating,
three times each, and reports the medians, the overhead of the project model, the summaries built,
and the seconds spent inside building them (which includes parses the lint then reuses).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from torchlint.analysis import project  # noqa: E402
from torchlint.analysis import summary as summary_module  # noqa: E402
from torchlint.analysis.project import ImportContext  # noqa: E402
from torchlint.config import build_settings, discover_config  # noqa: E402
from torchlint.runner import RunOptions, process_file  # noqa: E402
from torchlint.sources import iter_python_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args()
    spent = [0.0, 0]  # seconds in outermost summarise calls, summaries built
    depth = [0]
    original = summary_module.summarise

    def timed(*a, **k):
        depth[0] += 1
        start = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            depth[0] -= 1
            spent[1] += 1
            if depth[0] == 0:
                spent[0] += time.perf_counter() - start

    summary_module.summarise = timed
    lookup = ImportContext.lookup
    for folder in args.folders:
        settings = build_settings(discover_config(folder))
        files = list(iter_python_files([folder], settings.excludes))
        runs: dict = {"on": [], "off": []}
        for _ in range(3):
            for mode in ("on", "off"):
                ImportContext.lookup = lookup if mode == "on" else (lambda self, qualified: None)  # type: ignore
                project._PROJECTS.clear()
                spent[:] = [0.0, 0]
                start = time.perf_counter()
                for path in files:
                    process_file(path, settings.for_path(path), RunOptions())
                runs[mode].append((time.perf_counter() - start, spent[0], spent[1]))
        on, off = (statistics.median(t for t, _, _ in runs[m]) for m in ("on", "off"))
        inside = statistics.median(s for _, s, _ in runs["on"])
        print(f"{folder}: {len(files)} files; cold {on:.2f} s with the project model, {off:.2f} s without "
              f"(overhead {100 * (on - off) / on:.1f}%); {runs['on'][0][2]} summaries, {inside:.2f} s inside them")
    ImportContext.lookup = lookup  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
