"""Running at scale: parallel jobs give the same answer as serial, and the result cache is
correct (hits, misses on change, corrupt entries ignored, fixes never served stale)."""

import json
from pathlib import Path

from torchlint import runner



ROOT = Path(__file__).resolve().parents[1]
BAD = "import torch\n\n\ndef load(path):\n    return torch.load(path)\n"


def findings(cli, *args, cwd):
    result = cli("check", "--output-format", "json", *args, ".", cwd=cwd)
    return result.code, [(Path(f["filename"]).name, f["code"], f["location"]["row"]) for f in json.loads(result.out)]


def test_parallel_equals_serial(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "POOL_MIN_BYTES", 0)  # the fixtures are small: workers only when told to
    for index, bad in enumerate(sorted((ROOT / "fixtures").glob("*/bad.py"))):
        (tmp_path / f"f{index}.py").write_text(bad.read_text())
    serial = findings(cli, "--jobs", "1", "--no-cache", cwd=tmp_path)
    parallel = findings(cli, "--jobs", "2", "--no-cache", cwd=tmp_path)
    assert serial == parallel and serial[1]


PROBE = """
from torchlint import compiled_methods, runner

started = runner._worker_started


def probe(tuned):  # what a worker is given, and how it is set up
    started(tuned)
    import dataclasses, gc
    print("WORKER", tuned, getattr(dataclasses, "exec", None) is compiled_methods._exec,
          gc.get_threshold()[0] >= runner.GC_ALLOCATIONS, flush=True)
"""
SPAWNED = """
import multiprocessing, sys
multiprocessing.set_start_method(sys.argv[1])
from torchlint import runner
import probe  # (a module of its own: a spawned worker imports its initializer by name)
runner.POOL_MIN_BYTES = 0
runner._worker_started = probe.probe
from torchlint.cli import console_main
sys.argv = ["torchlint", "check", "--no-cache", "-j", "2", "--output-format", "concise", "."]
console_main()
"""


def test_spawned_workers_are_set_up_as_the_command(tmp_path):
    """Where workers start in a fresh interpreter (spawn, forkserver), they get what
    `console_main` gives its own process and forked workers: the kept dataclass methods and the
    collector's threshold; the findings are those of a serial run."""
    import subprocess
    import sys

    for index, bad in enumerate(sorted((ROOT / "fixtures").glob("TL5*/bad.py"))):
        (tmp_path / f"f{index}.py").write_text(bad.read_text())
    (tmp_path / "pyproject.toml").write_text("[tool.torchlint]\nextend-exclude = [\"probe.py\"]\n")
    (tmp_path / "probe.py").write_text(PROBE)
    serial = subprocess.run([sys.executable, "-m", "torchlint", "check", "--no-cache", "-j", "1", "--output-format",
                             "concise", "."], cwd=tmp_path, capture_output=True, text=True)
    spawned = subprocess.run([sys.executable, "-c", SPAWNED, "spawn"], cwd=tmp_path, capture_output=True, text=True)
    workers = [line for line in spawned.stdout.splitlines() if line.startswith("WORKER")]
    assert workers and set(workers) == {"WORKER True True True"}, spawned.stdout + spawned.stderr
    assert [line for line in spawned.stdout.splitlines() if not line.startswith("WORKER")] == serial.stdout.splitlines()
    assert serial.stdout.count("TL50") >= 3


def test_cache_hit_skips_linting(cli, write, tmp_path, monkeypatch):
    write("bad.py", BAD)
    first = findings(cli, "--jobs", "1", cwd=tmp_path)
    assert (tmp_path / ".torchlint_cache" / "CACHEDIR.TAG").exists()

    def fail(*args, **kwargs):
        raise AssertionError("linted although cached")

    monkeypatch.setattr("torchlint.engine.lint_text", fail)
    assert findings(cli, "--jobs", "1", cwd=tmp_path) == first


def test_cache_misses_when_content_or_settings_change(cli, write, tmp_path):
    path = write("bad.py", BAD)
    assert findings(cli, "--jobs", "1", cwd=tmp_path)[1] == [("bad.py", "TL502", 5)]
    path.write_text(BAD.replace("torch.load(path)", "torch.load(path, weights_only=True)"))
    assert findings(cli, "--jobs", "1", cwd=tmp_path)[1] == []
    path.write_text(BAD)
    assert findings(cli, "--jobs", "1", "--ignore", "TL502", cwd=tmp_path)[1] == []
    assert findings(cli, "--jobs", "1", "--target-torch", "2.6", cwd=tmp_path)[1] == []
    assert findings(cli, "--jobs", "1", cwd=tmp_path)[1] == [("bad.py", "TL502", 5)]


def test_corrupt_cache_entries_are_ignored(cli, write, tmp_path):
    write("bad.py", BAD)
    expected = findings(cli, "--jobs", "1", cwd=tmp_path)
    entries = list((tmp_path / ".torchlint_cache").rglob("*.json"))
    assert entries
    for entry in entries:
        entry.write_text("{not json")
    assert findings(cli, "--jobs", "1", cwd=tmp_path) == expected
    for entry in (tmp_path / ".torchlint_cache").rglob("*.json"):
        entry.write_text('[{"c": "TL502"}]')
    assert findings(cli, "--jobs", "1", cwd=tmp_path) == expected


def test_fix_then_check_is_never_stale(cli, write, tmp_path):
    write("bad.py", BAD)
    assert findings(cli, cwd=tmp_path)[0] == 1
    cli("check", "--fix", ".", cwd=tmp_path)
    assert findings(cli, cwd=tmp_path) == (0, [])


def test_no_cache_writes_nothing(cli, write, tmp_path):
    write("bad.py", BAD)
    findings(cli, "--no-cache", cwd=tmp_path)
    assert not (tmp_path / ".torchlint_cache").exists()


def test_cached_json_output_keeps_fix_edits(cli, write, tmp_path):
    write("bad.py", BAD)
    cold = cli("check", "--output-format", "json", ".", cwd=tmp_path).out
    warm = cli("check", "--output-format", "json", ".", cwd=tmp_path).out
    assert json.loads(cold) == json.loads(warm)
    assert json.loads(warm)[0]["fix"]["edits"][0]["content"] == "torch.load(path, weights_only=True)"


def test_bad_jobs_value(cli, write, tmp_path):
    write("bad.py", BAD)
    result = cli("check", "--jobs", "0", ".", cwd=tmp_path)
    assert result.code == 2 and "--jobs must be at least 1" in result.err


def test_progress_shows_only_on_a_terminal_for_long_runs(monkeypatch):
    import io

    from torchlint import cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    clock = iter([0.0, 0.5, 1.5, 1.6, 2.0, 0.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    stream = Terminal()
    progress = cli.Progress(stream)  # starts at 0.0
    progress.tick()  # 0.5 s: too early
    progress.tick()  # 1.5 s: shown
    progress.tick()  # 1.6 s: too soon after the last update
    progress.tick()  # 2.0 s: shown again
    progress.done()
    assert stream.getvalue() == "\rtorchlint: 2 files checked\rtorchlint: 4 files checked\r\033[K"
    quiet = io.StringIO()
    progress = cli.Progress(quiet)
    progress.tick()
    progress.done()
    assert quiet.getvalue() == ""


def test_little_work_starts_no_process(cli, tmp_path, monkeypatch):
    """Fewer bytes to lint than a pool is worth, or a cache that answers everything: no worker."""
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "other.py").write_text(BAD)

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(runner, "_pooled", no_pool)
    assert findings(cli, "--jobs", "2", "--no-cache", cwd=tmp_path)[1] == [("bad.py", "TL502", 5), ("other.py", "TL502", 5)]
    monkeypatch.setattr(runner, "POOL_MIN_BYTES", 0)
    findings(cli, "--jobs", "1", cwd=tmp_path)  # fills the cache
    assert findings(cli, "--jobs", "2", cwd=tmp_path)[1] == [("bad.py", "TL502", 5), ("other.py", "TL502", 5)]


def test_memory_stays_flat_in_the_number_of_files(tmp_path):
    """What one file's lint allocates is freed before the next: the heap after 80 files is the
    heap after 20, give or take the caches that are bounded by the project (not by the run)."""
    import gc
    import tracemalloc

    from torchlint.config import Overrides, SettingsResolver

    sources = [bad.read_text() for bad in sorted((ROOT / "fixtures").glob("*/bad.py"))]
    for index in range(80):
        (tmp_path / f"f{index:03}.py").write_text(f"# copy {index}\n" + sources[index % len(sources)])
    (tmp_path / "pyproject.toml").write_text("[tool.torchlint]\n")
    paths = sorted(str(p) for p in tmp_path.glob("f*.py"))
    settings = SettingsResolver(Overrides())
    options = runner.RunOptions()
    from torchlint import parsing
    from torchlint.parsing import _constructors

    _constructors()  # made once a process has parsed 50 KB (a one-time 0.4 MB, not per file)
    tracemalloc.start()
    try:
        heaps = []
        for count, outcome in enumerate(runner.run(paths, settings, options, jobs=1), 1):
            assert outcome.result.findings is not None
            if count in (20, 80):
                del outcome
                parsing._recent.clear()  # the last few trees: bounded by RECENT_* (tested in test_parsing)
                gc.collect()
                heaps.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert heaps[1] - heaps[0] < 300_000, heaps  # under 5 KB per file for 60 more files


def test_a_linted_file_is_freed_without_the_cyclic_collector():
    """`ModuleAnalysis.release` breaks the analysis's reference cycles: once the result is
    dropped, reference counting frees the tree and the analysis, and the collector's passes never
    walk them (what is left for it is a few objects of some fixes, not the file)."""
    import gc

    import libcst as cst

    from torchlint import engine, parsing
    from torchlint.analysis.project import ImportContext, project_for
    from torchlint.rule import all_rules

    rules = [r for r in all_rules() if not r.preview]
    for bad in sorted((ROOT / "fixtures").glob("*/bad.py")):
        text, path = bad.read_text(), str(bad)
        context = ImportContext.create(project_for(path), path)
        engine.lint_text(text, rules, context=context)  # the project's summaries, made once
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            result = engine.lint_text(text, rules, context=context)
            assert result.findings or bad.parent.name == "TL608"
            del result
            parsing._recent.clear()  # the kept trees: otherwise the tree is alive, not garbage
            gc.collect()
            left = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert len(left) < 200, (bad, len(left))
        assert not any(isinstance(o, (cst.Module, cst.FunctionDef, cst.ClassDef)) for o in left), bad
