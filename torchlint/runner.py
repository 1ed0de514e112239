"""Running the engine over files: read, lint or fix, write back, collect what to report."""

from __future__ import annotations

import concurrent.futures
import difflib
import itertools
from dataclasses import dataclass, field
from typing import Iterable, Iterator, List, Optional

from torchlint.cache import ResultCache
from torchlint.config import Settings
from torchlint.report import FileFindings
from torchlint.sources import SourceError, read_source, write_source

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
    from torchlint.engine import fix_text, lint_text, read_error_finding

    rules = settings.rules_for(path)
    try:
        source = read_source(path)
    except SourceError as error:
        findings = [read_error_finding(str(error))] if any(r.code == "TL001" for r in rules) else []
        return FileOutcome(FileFindings(path, [], findings))
    cache = ResultCache(options.cache_dir) if options.cache_dir else None
    key = cache.key(source.digest, settings.cache_key(path)) if cache else ""
    try:
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
    except Exception as error:  # a bug in torchlint must not stop the run or touch the file
        message = f"{path}: internal error, file skipped: {type(error).__name__}: {error}"
        return FileOutcome(FileFindings(path, [], []), messages=[message], internal_error=True)
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


def _process(task) -> FileOutcome:
    return process_file(*task)


def run(paths: Iterable[str], settings: Settings, options: RunOptions, jobs: int) -> Iterator[FileOutcome]:
    """Outcomes in the order of `paths`, computed in `jobs` processes; streamed, not collected."""
    paths = iter(paths)
    first = list(itertools.islice(paths, 2))
    if jobs <= 1 or len(first) < 2:
        for path in itertools.chain(first, paths):
            yield process_file(path, settings, options)
        return
    tasks = ((path, settings, options) for path in itertools.chain(first, paths))
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_process, tasks, chunksize=8)


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
