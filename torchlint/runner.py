"""Running the engine over files: read, lint or fix, write back, collect what to report."""

from __future__ import annotations

import collections
import itertools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from torchlint import compiled_methods
from torchlint.cache import ResultCache
from torchlint.config import Settings, SettingsResolver
from torchlint.documents import NOTEBOOK, PYTHON, document_kind
from torchlint.report import FileFindings
from torchlint.guard import with_deep_stack
from torchlint.rule import Finding
from torchlint.sources import SourceError, SourceFile, read_source, write_source
from torchlint.syntax_check import SYNTAX_ERROR_CODE

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import ProcessPoolExecutor

    from torchlint.syntax_check import Prechecked

FIX_OFF, FIX_WRITE, FIX_DIFF, FIX_STDOUT = "off", "write", "diff", "stdout"


@dataclass
class FileOutcome:
    """What processing one file gave: findings, fixes, a diff, messages for stderr."""

    result: FileFindings
    fixed: int = 0
    diff: str = ""
    messages: List[str] = field(default_factory=list)  # one-line problems for stderr
    internal_error: bool = False
    skipped: List[str] = field(default_factory=list)  # "path:line: why": a document's blocks not linted
    fixed_codes: Dict[str, int] = field(default_factory=dict)  # code -> fixes applied
    fixed_text: Optional[str] = None  # FIX_STDOUT: the whole fixed source


@dataclass(frozen=True)
class RunOptions:
    """How a run treats files: fix mode, unsafe fixes, the cache folder."""

    fix_mode: str = FIX_OFF
    unsafe: bool = False
    cache_dir: Optional[str] = None  # None: no cache


def process_file(path: str, settings: "Union[Settings, SettingsResolver]", options: RunOptions = RunOptions(),
                 source: Optional[SourceFile] = None) -> FileOutcome:
    """Lint or fix one file (`source`: its text when it does not come from the disk, as from
    an editor's standard input). Never raises: problems become findings or messages."""
    settings = settings.for_path(path)  # a resolver (the CLI) or one file's settings
    codes = settings.codes_for(path)
    if source is None:
        try:
            source = read_source(path)
        except SourceError as error:
            return FileOutcome(FileFindings(path, [], _read_error(str(error), codes)))
    cache = ResultCache(options.cache_dir) if options.cache_dir else None
    key = cache.key(source.digest, settings.cache_key(path)) if cache else ""
    if cache and options.fix_mode == FIX_OFF:  # answered here, the engine and LibCST are never imported
        known = _from_cache(path, source, settings, cache, key)
        if known is not None:
            return known
    try:  # on a thread with a deep stack: deeply nested code must not overflow the C stack
        return with_deep_stack(lambda: _lint_or_fix(path, source, settings, options, cache, key))
    except (RecursionError, MemoryError) as error:  # still too deep or too large: one finding
        from torchlint.engine import TOO_COMPLEX_CODE

        message = f"file not checked: {type(error).__name__} while checking it"
        findings = [Finding(TOO_COMPLEX_CODE, message)] if TOO_COMPLEX_CODE in codes else []
        return FileOutcome(FileFindings(path, [], findings))
    except Exception as error:  # a bug in torchlint must not stop the run or touch the file
        return internal_error_outcome(path, f"{type(error).__name__}: {error}")


def _from_cache(path: str, source: SourceFile, settings: Settings, cache: ResultCache, key: str
                ) -> Optional[FileOutcome]:
    entry = cache.load_entry(key)
    if entry is None:
        return None
    findings, extra = entry
    return _outcome(path, source.text, findings, document_kind(path, settings.includes),
                    list(extra.get("skipped", [])))


def cached_outcome(path: str, settings: Settings, options: RunOptions) -> Optional[FileOutcome]:
    """The file's outcome when the result cache has it (linting only), else None."""
    if not options.cache_dir or options.fix_mode != FIX_OFF:
        return None
    settings = settings.for_path(path)
    try:
        source = read_source(path)
    except SourceError:
        return None
    cache = ResultCache(options.cache_dir)
    return _from_cache(path, source, settings, cache, cache.key(source.digest, settings.cache_key(path)))


def _read_error(message: str, codes: List[str]) -> List[Finding]:
    """A file that cannot be read or decoded: one TL001 at its start (when TL001 is on)."""
    return [Finding(SYNTAX_ERROR_CODE, message)] if SYNTAX_ERROR_CODE in codes else []


def internal_error_outcome(path: str, message: str) -> FileOutcome:
    """One TL002 finding naming what failed; always reported, never cached, and the run exits 2."""
    from torchlint.engine import internal_error_finding

    return FileOutcome(FileFindings(path, [], [internal_error_finding(message)]), internal_error=True)


def _outcome(path: str, text: str, findings: List[Finding], kind: str, skipped: List[str]) -> FileOutcome:
    lines, cells = _lines_if(findings, text, kind)
    return FileOutcome(FileFindings(path, lines, findings, cells), skipped=skipped)


def _lint_or_fix(path: str, source: SourceFile, settings: Settings, options: RunOptions,
                 cache: Optional[ResultCache], key: str) -> FileOutcome:
    kind = document_kind(path, settings.includes)
    checked = None
    if kind == PYTHON and options.fix_mode == FIX_OFF:
        unparsed, checked = _found_without_parsing(source.text, settings.codes_for(path))
        if unparsed is not None:
            if cache:
                cache.store(key, unparsed, {})
            return _outcome(path, source.text, unparsed, kind, [])
    if kind != PYTHON:
        return _document(path, source, kind, settings, options, cache, key)
    from torchlint.engine import fix_text, lint_text

    rules = settings.rules_for(path)
    _freeze_what_is_imported()
    if options.fix_mode == FIX_OFF:
        context = import_context(path, settings, options.cache_dir)
        findings = lint_text(source.text, rules, options=settings.options(), context=context, checked=checked).findings
        if cache:
            cache.store(key, findings, context.consumed)
        return _outcome(path, source.text, findings, kind, [])
    context = import_context(path, settings, options.cache_dir)
    result = fix_text(source.text, rules, options.unsafe, settings.options(), context)
    outcome = FileOutcome(FileFindings(path, _lines_if(result.findings, result.text, kind)[0], result.findings),
                          result.fixed, fixed_codes=dict(result.fixed_codes))
    outcome.messages.extend(f"{path}:{line}" for line in result.failed)
    _deliver(outcome, source, result.text, options)
    return outcome


def _deliver(outcome: FileOutcome, source: SourceFile, new_text: str, options: RunOptions) -> None:
    """The fixed text where the fix mode sends it: the file, a diff, or standard output."""
    if options.fix_mode == FIX_STDOUT:
        outcome.fixed_text = new_text
    elif new_text != source.text:
        if options.fix_mode == FIX_WRITE:
            write_source(source, new_text)
        else:
            outcome.diff = unified_diff(source.path, source.text, new_text)


def _document(path: str, source: SourceFile, kind: str, settings: Settings, options: RunOptions,
              cache: Optional[ResultCache], key: str) -> FileOutcome:
    """A notebook or Markdown file: its code units linted as one module (torchlint.documents).
    One without code (most READMEs) is checked without importing LibCST or a rule."""
    from torchlint.documents import DocumentError, load_document

    try:
        document = load_document(path, source.text, settings.includes)
    except DocumentError as error:
        return FileOutcome(FileFindings(path, [], _read_error(str(error), settings.codes_for(path))))
    assert document is not None
    if not document.units and options.fix_mode == FIX_OFF:
        if cache:
            cache.store(key, [], {})
        return _outcome(path, source.text, [], kind, [])
    from torchlint.documents.check import fix_document, lint_document

    rules = settings.rules_for(path)
    _freeze_what_is_imported()
    skipped = [f"{path}:{unit.first_line - 1}: {unit.label} skipped: {unit.skipped}" for unit in document.skipped()]
    context = import_context(path, settings, options.cache_dir)
    if options.fix_mode == FIX_OFF:
        findings = lint_document(document, rules, settings.options(), context)
        if cache:
            cache.store(key, findings, context.consumed, {"skipped": skipped} if skipped else None)
        return _outcome(path, source.text, findings, kind, skipped)
    result = fix_document(document, rules, options.unsafe, settings.options(), context)
    new_text = result.text if result.text is not None else source.text
    lines, cells = _lines_if(result.findings, new_text, kind)
    outcome = FileOutcome(FileFindings(path, lines, result.findings, cells), result.fixed, skipped=skipped,
                          fixed_codes=result.fixed_codes)
    outcome.messages.extend(f"{path}: {message}" for message in result.failed)
    _deliver(outcome, source, new_text, options)
    return outcome


def import_context(path: str, settings: Settings, cache_dir: Optional[str] = None):
    """How the file's imports resolve: the project around it (the nearest pyproject.toml,
    setup.cfg, setup.py or .git folder upward) plus the configured `src` folders."""
    from torchlint.analysis.project import ImportContext, project_for

    return ImportContext.create(project_for(path, settings.src, cache_dir), path)


def _lines_if(findings, text: str, kind: str = PYTHON) -> Tuple[List[str], Dict[int, List[str]]]:
    """Keep a file's lines (a notebook's: each cell's) only when there is something to show
    from them (memory stays flat)."""
    if not findings:
        return [], {}
    if kind == NOTEBOOK:
        from torchlint.documents.notebook import cell_lines

        return [], cell_lines(text)
    return text.splitlines(), {}


def _found_without_parsing(text: str, codes: List[str]) -> "Tuple[Optional[List[Finding]], Optional[Prechecked]]":
    """(The findings of a file where no enabled rule has evidence, found by CPython's syntax check
    and one walk of its tree (torchlint/references.py) with neither LibCST nor a rule imported, or
    None when the rules must run; the tree and its references, for the engine to reuse)."""
    from torchlint.catalog import by_code
    from torchlint.syntax_check import prechecked
    from torchlint.triggers import admitted

    early, python_error, checked = prechecked(text)
    if early is not None:
        return [f for f in early if f.code in codes], None
    if checked is None:  # CPython refused the text: LibCST, which knows newer syntax, judges it
        return None, None
    infos = by_code()
    if admitted([infos[code] for code in codes if code in infos], checked[1].evidence):
        return None, checked
    return [], None


def _process_batch(tasks) -> List[FileOutcome]:
    outcomes = [process_file(*task) for task in tasks]
    compiled_methods.keep_new()  # a worker that imported LibCST itself (nothing to do otherwise)
    return outcomes


BATCH = 8  # files per task sent to a worker: fewer round trips
# Batches in flight per worker. Outcomes are shown in the order of the paths, so a slow batch (a
# large file) holds back those after it; with enough in flight the other workers keep going
# meanwhile (torch corpus, 2 workers: 4.5 s with 2 per worker, 4.1 s with 16).
AHEAD = 16


def run(paths: Iterable[str], settings, options: RunOptions, jobs: int) -> Iterator[FileOutcome]:
    """Outcomes in the order of `paths`, computed in `jobs` processes; streamed, not collected.

    `settings` is a Settings or a SettingsResolver (settings per file, resolved here so workers
    never read configuration). A worker that dies (a crash in native code, the OOM killer) costs
    only its own file: the files it held are checked again one by one in fresh processes, the
    one that kills its process again becomes a TL002 finding, and the run goes on.

    Workers start only for work worth them: what the cache answers needs none, and when the files
    left to lint hold less than POOL_MIN_BYTES of source, starting processes (each imports
    LibCST and the rules) costs more than it saves, so they are linted here."""
    paths = iter(paths)
    if jobs <= 1:
        for path in paths:
            yield process_file(path, settings, options)
        return
    ahead: List[Tuple[str, Optional[FileOutcome]]] = []  # looked at, not yet yielded
    left, count = 0, 0  # bytes and number of the files ahead that the cache does not answer
    for path in paths:
        known = cached_outcome(path, settings, options)
        if known is not None and not ahead:
            yield known
            continue
        ahead.append((path, known))
        if known is None:
            left, count = left + _size(path), count + 1
            if left >= POOL_MIN_BYTES and count >= 2:
                break
    else:  # every path seen, too little left for a pool
        for path, known in ahead:
            yield known if known is not None else process_file(path, settings, options)
        return
    tasks = ((path, settings.for_path(path), options) for path in itertools.chain((p for p, _ in ahead), paths))
    batches = iter(lambda: list(itertools.islice(tasks, BATCH)), [])
    yield from _pooled(batches, jobs)


# The cyclic garbage collector's first generation, in allocations. Parsing allocates millions of
# objects that reference counting frees (syntax trees hold no cycles); at Python's default of 700
# the collector runs thousands of times per file for nothing: 8% of a cold run of torch's sources.
GC_ALLOCATIONS = 50_000


def tune_command_process() -> None:
    """For the command line's process and its workers (not the editor's, flake8's, or a program
    that calls `main`; `cli.console_main` calls it, before LibCST is imported): LibCST's dataclass
    methods from kept code (torchlint/compiled_methods.py), the collector run less often, and
    frozen once the rules are imported."""
    global _freeze_pending, _tuned
    import gc

    compiled_methods.install()
    first, second, third = gc.get_threshold()
    if 0 < first < GC_ALLOCATIONS:
        gc.set_threshold(GC_ALLOCATIONS, second, third)
    _freeze_pending = _tuned = True


_freeze_pending = False
_tuned = False  # this is the command's process (or one of its workers)


def _worker_started(tuned: bool) -> None:
    """A worker of a process that `console_main` tuned is tuned the same way: a forked one
    inherits it anyway, a spawned one (macOS, Windows; forkserver, Python 3.14's default on
    Linux) starts with a fresh interpreter."""
    if tuned:
        tune_command_process()


def _freeze_what_is_imported() -> None:
    """Once LibCST and the rules are imported, in a process `tune_command_process` is for:
    their objects (LibCST alone makes hundreds of thousands) live as long as the process, and
    the collector's full passes walked them all again each time (5% of a pytorch/examples run).
    `gc.freeze` leaves them out of every later pass."""
    global _freeze_pending
    if _freeze_pending:
        import gc

        _freeze_pending = False
        gc.freeze()


POOL_MIN_BYTES = 256_000  # about 7,000 lines: what one process lints in the time a pool takes to start


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _pooled(batches: Iterator[list], jobs: int) -> Iterator[FileOutcome]:
    import concurrent.futures.process  # only here: a run that needs no worker never imports multiprocessing

    window: Deque[tuple] = collections.deque()  # (batch, its pool, its future), oldest first
    pool = _new_pool(jobs)
    try:
        for batch in itertools.chain(batches, [None]):
            if batch is not None:
                try:
                    window.append((batch, pool, pool.submit(_process_batch, batch)))
                except concurrent.futures.process.BrokenProcessPool:
                    pool = _replace(pool, jobs)
                    window.append((batch, pool, pool.submit(_process_batch, batch)))
            while window and (batch is None or len(window) >= AHEAD * jobs):
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


def _replace(pool: "ProcessPoolExecutor", jobs: int) -> "ProcessPoolExecutor":
    pool.shutdown(wait=False, cancel_futures=True)
    return _new_pool(jobs)


def _new_pool(jobs: int) -> "ProcessPoolExecutor":
    import concurrent.futures.process

    compiled_methods.keep_new()  # here, once: forked workers would each write it again
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs, initializer=_worker_started, initargs=(_tuned,))


def _isolated(task) -> FileOutcome:
    """One file in a process of its own; if that process dies too, the file is the cause."""
    import concurrent.futures.process

    with _new_pool(1) as alone:
        try:
            return alone.submit(process_file, *task).result()
        except concurrent.futures.process.BrokenProcessPool:
            return internal_error_outcome(task[0], "the process checking it died (a crash in native code "
                                                   "or out of memory)")


def unified_diff(path: str, before: str, after: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
