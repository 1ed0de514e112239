"""Running the engine over files: read, lint or fix, write back, collect what to report."""

from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures.process
import difflib
import itertools
from dataclasses import dataclass, field
from typing import Deque, Iterable, Iterator, List, Optional

from torchlint.cache import ResultCache
from torchlint.config import Settings
from torchlint.report import FileFindings
from torchlint.guard import with_deep_stack
from torchlint.rule import Finding
from torchlint.sources import SourceError, SourceFile, read_source, write_source

FIX_OFF, FIX_WRITE, FIX_DIFF = "off", "write", "diff"


@dataclass
class FileOutcome:
    result: FileFindings
    fixed: int = 0
    diff: str = ""
    messages: List[str] = field(default_factory=list)  # one-line problems for stderr
    internal_error: bool = False


@dataclass(frozen=True)
class RunOptions:
    fix_mode: str = FIX_OFF
    unsafe: bool = False
    cache_dir: Optional[str] = None  # None: no cache


def process_file(path: str, settings: Settings, options: RunOptions = RunOptions()) -> FileOutcome:
    """Lint or fix one file. Never raises: problems become findings or messages."""
    # Imported here: a run answered from the cache never loads the engine (nor LibCST).
    from torchlint.engine import read_error_finding

    settings = settings.for_path(path)
    rules = settings.rules_for(path)
    try:
        source = read_source(path)
    except SourceError as error:
        findings = [read_error_finding(str(error))] if any(r.code == "TL001" for r in rules) else []
        return FileOutcome(FileFindings(path, [], findings))
    cache = ResultCache(options.cache_dir) if options.cache_dir else None
    key = cache.key(source.digest, settings.cache_key(path)) if cache else ""
    try:  # on a thread with a deep stack: deeply nested code must not overflow the C stack
        return with_deep_stack(lambda: _lint_or_fix(path, source, settings, options, rules, cache, key))
    except (RecursionError, MemoryError) as error:  # still too deep or too large: one finding
        from torchlint.engine import TOO_COMPLEX_CODE

        message = f"file not checked: {type(error).__name__} while checking it"
        findings = [Finding(TOO_COMPLEX_CODE, message)] if any(r.code == TOO_COMPLEX_CODE for r in rules) else []
        return FileOutcome(FileFindings(path, [], findings))
    except Exception as error:  # a bug in torchlint must not stop the run or touch the file
        return internal_error_outcome(path, f"{type(error).__name__}: {error}")


def internal_error_outcome(path: str, message: str) -> FileOutcome:
    """One TL002 finding naming what failed; always reported, never cached, and the run exits 2."""
    from torchlint.engine import internal_error_finding

    return FileOutcome(FileFindings(path, [], [internal_error_finding(message)]), internal_error=True)


def _lint_or_fix(path: str, source: SourceFile, settings: Settings, options: RunOptions, rules,
                 cache: Optional[ResultCache], key: str) -> FileOutcome:
    from torchlint.engine import fix_text, lint_text

    if options.fix_mode == FIX_OFF:
        findings = cache.load(key) if cache else None
        if findings is None:
            context = import_context(path, settings, options.cache_dir)
            findings = lint_text(source.text, rules, options=settings.options(), context=context).findings
            if cache:
                cache.store(key, findings, context.consumed)
        return FileOutcome(FileFindings(path, _lines_if(findings, source.text), findings))
    context = import_context(path, settings, options.cache_dir)
    result = fix_text(source.text, rules, options.unsafe, settings.options(), context)
    outcome = FileOutcome(FileFindings(path, _lines_if(result.findings, result.text), result.findings), result.fixed)
    outcome.messages.extend(f"{path}:{line}" for line in result.failed)
    if result.text != source.text:
        if options.fix_mode == FIX_WRITE:
            write_source(source, result.text)
        else:
            outcome.diff = unified_diff(path, source.text, result.text)
    return outcome


def import_context(path: str, settings: Settings, cache_dir: Optional[str] = None):
    """How the file's imports resolve: the project around it (the nearest pyproject.toml,
    setup.cfg, setup.py or .git folder upward) plus the configured `src` folders."""
    from torchlint.analysis.project import ImportContext, project_for

    return ImportContext.create(project_for(path, settings.src, cache_dir), path)


def _lines_if(findings, text: str) -> List[str]:
    """Keep a file's lines only when there is something to show from them (memory stays flat)."""
    return text.splitlines() if findings else []


def _process_batch(tasks) -> List[FileOutcome]:
    return [process_file(*task) for task in tasks]


BATCH = 8  # files per task sent to a worker: fewer round trips


def run(paths: Iterable[str], settings, options: RunOptions, jobs: int) -> Iterator[FileOutcome]:
    """Outcomes in the order of `paths`, computed in `jobs` processes; streamed, not collected.

    `settings` is a Settings or a SettingsResolver (settings per file, resolved here so workers
    never read configuration). A worker that dies (a crash in native code, the OOM killer) costs
    only its own file: the files it held are checked again one by one in fresh processes, the
    one that kills its process again becomes a TL002 finding, and the run goes on."""
    paths = iter(paths)
    first = list(itertools.islice(paths, 2))
    if jobs <= 1 or len(first) < 2:
        for path in itertools.chain(first, paths):
            yield process_file(path, settings, options)
        return
    tasks = ((path, settings.for_path(path), options) for path in itertools.chain(first, paths))
    batches = iter(lambda: list(itertools.islice(tasks, BATCH)), [])
    yield from _pooled(batches, jobs)


def _pooled(batches: Iterator[list], jobs: int) -> Iterator[FileOutcome]:
    window: Deque[tuple] = collections.deque()  # (batch, its pool, its future), oldest first
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs)
    try:
        for batch in itertools.chain(batches, [None]):
            if batch is not None:
                try:
                    window.append((batch, pool, pool.submit(_process_batch, batch)))
                except concurrent.futures.process.BrokenProcessPool:
                    pool = _replace(pool, jobs)
                    window.append((batch, pool, pool.submit(_process_batch, batch)))
            while window and (batch is None or len(window) >= 2 * jobs):
                held, owner, future = window.popleft()
                try:
                    outcomes = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    outcomes = [_isolated(task) for task in held]
                    if owner is pool:
                        pool = _replace(pool, jobs)
                yield from outcomes
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _replace(pool: concurrent.futures.ProcessPoolExecutor, jobs: int) -> concurrent.futures.ProcessPoolExecutor:
    pool.shutdown(wait=False, cancel_futures=True)
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs)


def _isolated(task) -> FileOutcome:
    """One file in a process of its own; if that process dies too, the file is the cause."""
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as alone:
        try:
            return alone.submit(process_file, *task).result()
        except concurrent.futures.process.BrokenProcessPool:
            return internal_error_outcome(task[0], "the process checking it died (a crash in native code "
                                                   "or out of memory)")


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
