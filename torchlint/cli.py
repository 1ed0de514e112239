"""`torchlint check|rules|explain`. Exit codes: 0 clean, 1 findings remain, 2 usage or internal error.

`torchlint` with no subcommand means `check`, so `torchlint --fix` and `torchlint src/` work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, NoReturn, Optional, Sequence

from torchlint import __version__, compiled_methods
from torchlint.config import ConfigError, Overrides, SettingsResolver, load_file_config
from torchlint.report import FileFindings, rule_url, text
from torchlint.runner import (FIX_DIFF, FIX_OFF, FIX_STDOUT, FIX_WRITE, RunOptions, tune_command_process,
                              process_file, run)
from torchlint.sources import SourceError, is_excluded, iter_python_files, source_from_bytes

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
CACHE_FOLDER = ".torchlint_cache"
_SUBCOMMANDS = ("check", "rules", "explain", "server")
_MACHINE_FORMATS = ("json", "sarif", "github")


def _render(output_format: str, results, out) -> None:
    """A machine format, imported only when asked for (a warm run stays a few imports)."""
    import importlib

    module = importlib.import_module(f"torchlint.report.{'json_format' if output_format == 'json' else output_format}")
    module.render(results, out)


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, with the terminal's width read as `shutil.get_terminal_size`
    reads it, without importing shutil (argparse makes a formatter per argument: 2 ms a run)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: Optional[int] = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width if width is not None else _columns() - 2)


def _columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # one line, exit 2, like every other usage error
        raise ConfigError(f"{message} (see 'torchlint {self.prog.split()[-1]} --help')"
                          if " " in self.prog else message)


def _comma_list(value: str) -> List[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The command line's parser; with `command`, only that subcommand's (the others' parsers
    are built only for the top-level help: each costs a run a fraction of a millisecond)."""
    parser = _Parser(prog="torchlint", description="Find and fix PyTorch pitfalls.")
    parser.add_argument("--version", action="version", version=f"torchlint {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    if command in (None, "check"):
        _add_check(commands)
    if command in (None, "rules"):
        rules = commands.add_parser("rules", help="list the rules")
        rules.add_argument("--output-format", choices=("text", "json"), default="text")
    if command in (None, "explain"):
        explain = commands.add_parser("explain", help="explain a rule")
        explain.add_argument("rule", help="a code (TL501) or name (whole-model-save)")
    if command in (None, "server"):
        commands.add_parser("server", help="run the language server on stdio (needs the 'lsp' extra)")
    return parser


def _add_check(commands) -> None:
    check = commands.add_parser("check", help="check files (the default command)")
    check.add_argument("paths", nargs="*", default=["."],
                       help="files or folders (default: .); - reads the source from standard input")
    check.add_argument("--stdin-filename", metavar="PATH",
                       help="the path of the source read from standard input (its settings, ignores and kind)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes (with --fix/--diff)")
    check.add_argument("--diff", action="store_true", help="print the fixes as a unified diff, write nothing")
    check.add_argument("--select", type=_comma_list, help="rules to enable: codes, prefixes (TL5) or names")
    check.add_argument("--ignore", type=_comma_list, default=[], help="rules to disable")
    check.add_argument("--extend-select", type=_comma_list, default=[], help="rules to enable on top")
    check.add_argument("--extend-exclude", type=_comma_list, default=[], help="more paths or globs to skip")
    check.add_argument("--extend-include", type=_comma_list, default=[],
                       help="more files to check, read as Markdown (globs such as '*.txt')")
    check.add_argument("--force-exclude", action="store_true",
                       help="apply exclusions to files named on the command line too (for pre-commit)")
    check.add_argument("--output-format", choices=("text", "concise", "json", "sarif", "github"), default="text")
    check.add_argument("--show-fixes", action="store_true", help="list the fixes applied, per file and rule")
    check.add_argument("--show-skipped", action="store_true",
                       help="list the Markdown code blocks skipped because they are not Python")
    check.add_argument("--statistics", action="store_true",
                       help="count findings per rule (as a JSON list with --output-format json)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    check.add_argument("--config", help="pyproject.toml to use for every file instead of the nearest one to each")
    check.add_argument("--preview", action="store_true",
                       help="also run the preview rules (not yet precise enough on real code to be on by default)")
    check.add_argument("--target-torch", metavar="VERSION",
                       help="oldest torch the code runs on (default: the project's torch requirement)")
    check.add_argument("--no-source", action="store_true", help="text format: do not show source lines")
    check.add_argument("--jobs", "-j", type=int, help="processes to use (default: the CPU count)")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    check.add_argument("--cache-dir", help=f"where to keep the result cache (default: {CACHE_FOLDER} in the project)")
    check.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0")
    check.add_argument("--baseline", metavar="FILE", help="report only findings that FILE does not record")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in _SUBCOMMANDS and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "check")
    try:
        args = build_parser(args_list[0] if args_list[0] in _SUBCOMMANDS else None).parse_args(args_list)
        if args.command == "rules":
            return _rules(args.output_format)
        if args.command == "explain":
            return _explain(args.rule)
        if args.command == "server":
            return _server()
        return _check(args)
    except ConfigError as error:
        print(f"torchlint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("torchlint: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `torchlint check | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FINDINGS
    except Exception as error:  # never a traceback for the user; say what broke in one line
        print(f"torchlint: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_ERROR


def console_main() -> NoReturn:
    """The `torchlint` command and `python -m torchlint`: `main`, its output flushed, then an
    exit without the interpreter's teardown, which frees every module and object one by one
    (a twentieth of a one-file check; mypy exits the same way). Nothing is left to finish by
    then: workers are joined and the cache is written inside `main`. The language server, which
    hands its stream to another library, exits the ordinary way."""
    tune_command_process()  # this process and its workers only, not a program calling `main`
    code = main()
    compiled_methods.keep_new()
    if sys.argv[1:2] == ["server"]:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):  # the reader left, or the stream is closed
            pass
    os._exit(code)


def _check(args: argparse.Namespace) -> int:
    overrides = Overrides(args.select, args.ignore, args.extend_select, args.extend_exclude, args.target_torch,
                          args.extend_include, True if args.preview else None)
    resolver = SettingsResolver(overrides, load_file_config(args.config) if args.config else None)
    here = resolver.for_folder(os.getcwd())  # configuration mistakes surface before any work
    if "-" in args.paths:
        return _check_stdin(args, resolver)
    if args.stdin_filename:
        raise ConfigError("--stdin-filename needs '-' among the paths")
    for path in args.paths:
        if not os.path.lexists(path):
            raise ConfigError(f"no such file or directory: {path}")
    if args.write_baseline:
        folder = os.path.dirname(os.path.abspath(args.write_baseline))
        if not os.path.isdir(folder):
            raise ConfigError(f"--write-baseline: no such folder: {folder}")
    fix_mode = FIX_DIFF if args.diff else (FIX_WRITE if args.fix else FIX_OFF)
    if args.baseline or args.write_baseline:
        from torchlint.baseline import load_baseline, write_baseline
    baseline = load_baseline(args.baseline) if args.baseline else None

    cache_dir = None if args.no_cache else (args.cache_dir or os.path.join(here.root, CACHE_FOLDER))
    options = RunOptions(fix_mode, args.unsafe_fixes, cache_dir)
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")

    def warn(message: str) -> None:
        print(f"torchlint: warning: {message}", file=sys.stderr)

    results, fixed, diffs, had_internal_error = [], 0, [], False
    skipped: List[str] = []
    applied: List[tuple] = []
    progress = Progress(sys.stderr)
    paths = iter_python_files(args.paths, resolver.excludes_for, args.force_exclude, warn, resolver.includes_for)
    for outcome in run(paths, resolver, options, jobs):
        progress.tick()
        for message in outcome.messages:
            print(f"torchlint: {message}", file=sys.stderr)
        had_internal_error |= outcome.internal_error
        results.append(outcome.result)
        fixed += outcome.fixed
        skipped.extend(outcome.skipped)
        applied.append((outcome.result.path, outcome.fixed_codes))
        if outcome.diff:
            diffs.append(outcome.diff)
    progress.done()

    if args.write_baseline:
        try:
            count = write_baseline(args.write_baseline, results)
        except OSError as error:
            raise ConfigError(f"--write-baseline: cannot write {args.write_baseline}: "
                              f"{error.strerror or error}") from None
        print(f"Wrote {count} finding{'s' if count != 1 else ''} to the baseline {args.write_baseline}.")
        return EXIT_ERROR if had_internal_error else EXIT_CLEAN
    if baseline is not None:
        results = baseline.apply(results)

    out = sys.stdout
    if fix_mode == FIX_DIFF:
        out.write("".join(diffs))
        out.flush()  # the diff first, then the count on stderr
        print(f"{len(diffs)} file{'s' if len(diffs) != 1 else ''} would be changed ({fixed} fixes).", file=sys.stderr)
    elif args.statistics:
        text.statistics(results, out, args.unsafe_fixes, as_json=args.output_format == "json")
    elif args.output_format in _MACHINE_FORMATS:
        _render(args.output_format, results, out)
    else:
        if args.output_format == "concise":
            text.concise(results, out, args.unsafe_fixes)
        else:
            text.render(results, out, args.unsafe_fixes, show_source=not args.no_source)
        if args.show_skipped:
            out.writelines(f"{line}\n" for line in skipped)
        if args.show_fixes:
            text.fixes(applied, out)
        if results:
            out.write(text.summary(results, args.unsafe_fixes, fixed, len(skipped)) + "\n")
        if had_internal_error:
            out.write("Some files could not be checked because of an internal error (TL002 above).\n")
        if baseline is not None and (baseline.hidden or baseline.stale):
            out.write(f"Baseline: {baseline.hidden} known finding{'s' if baseline.hidden != 1 else ''} hidden")
            if baseline.stale:
                out.write(f"; {baseline.stale} baseline entr{'ies' if baseline.stale != 1 else 'y'} no longer "
                          f"match{'' if baseline.stale != 1 else 'es'} (fixed or changed): refresh with --write-baseline")
            out.write(".\n")

    if had_internal_error:
        return EXIT_ERROR
    remaining = any(r.findings for r in results) or (fix_mode == FIX_DIFF and diffs)
    return EXIT_FINDINGS if remaining and not args.exit_zero else EXIT_CLEAN


class Progress:
    """`torchlint: 812 files` on stderr, only for a terminal and only once a run takes a while."""

    DELAY, INTERVAL = 1.0, 0.2

    def __init__(self, stream) -> None:
        self.stream = stream
        self.enabled = getattr(stream, "isatty", lambda: False)()
        self.count = 0
        self.start = self.last = time.monotonic()
        self.shown = False

    def tick(self) -> None:
        self.count += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start >= self.DELAY and now - self.last >= self.INTERVAL:
            self.stream.write(f"\rtorchlint: {self.count} files checked")
            self.stream.flush()
            self.last, self.shown = now, True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _check_stdin(args: argparse.Namespace, resolver: SettingsResolver) -> int:
    """`torchlint check --stdin-filename path/to/file.py -`: an editor's unsaved buffer. The
    path's settings and per-file ignores apply and findings name it; with --fix, standard output
    gets the fixed source and nothing else (what is left is reported on standard error)."""
    if args.paths != ["-"]:
        raise ConfigError("'-' (standard input) cannot be combined with other paths")
    if args.diff:
        raise ConfigError("--diff does not read standard input")
    path = args.stdin_filename or "-"
    data = sys.stdin.buffer.read()
    fixing = args.fix
    settings = resolver.for_path(path)
    if args.force_exclude and args.stdin_filename and is_excluded(os.path.abspath(path), settings.excludes,
                                                                 settings.root):
        if fixing:
            sys.stdout.buffer.write(data)
        return EXIT_CLEAN
    try:
        source = source_from_bytes(path, data)
    except SourceError as error:
        if fixing:
            sys.stdout.buffer.write(data)
        print(f"{path}:1:1: TL001 {error}", file=sys.stderr)
        return EXIT_FINDINGS
    cache_dir = None if args.no_cache else (args.cache_dir or os.path.join(settings.root, CACHE_FOLDER))
    options = RunOptions(FIX_STDOUT if fixing else FIX_OFF, args.unsafe_fixes, cache_dir)
    outcome = process_file(path, resolver, options, source)
    for message in outcome.messages:
        print(f"torchlint: {message}", file=sys.stderr)
    results: List[FileFindings] = [outcome.result]
    if fixing:
        new_text = outcome.fixed_text if outcome.fixed_text is not None else source.text
        sys.stdout.buffer.write(new_text.encode(source.encoding))
        sys.stdout.flush()
        text.concise(results, sys.stderr, args.unsafe_fixes)
        if args.show_fixes:
            text.fixes([(path, outcome.fixed_codes)], sys.stderr)
    elif args.output_format in _MACHINE_FORMATS:
        _render(args.output_format, results, sys.stdout)
    else:
        if args.output_format == "concise":
            text.concise(results, sys.stdout, args.unsafe_fixes)
        else:
            text.render(results, sys.stdout, args.unsafe_fixes, show_source=not args.no_source)
        if args.show_skipped:
            sys.stdout.writelines(f"{line}\n" for line in outcome.skipped)
        sys.stdout.write(text.summary(results, args.unsafe_fixes, outcome.fixed, len(outcome.skipped)) + "\n")
    if outcome.internal_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if outcome.result.findings and not args.exit_zero else EXIT_CLEAN


def _rules(output_format: str) -> int:
    from torchlint.catalog import rule_infos

    rules = rule_infos()
    if output_format == "json":
        json.dump([{"code": r.code, "name": r.name, "fix": r.fix_safety, "summary": r.summary,
                    "url": rule_url(r.code)} for r in rules], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    width = max(len(r.name) for r in rules)
    print(f"{'code':<6} {'name':<{width}}  {'fix':<9} summary")
    for r in rules:
        print(f"{r.code:<6} {r.name:<{width}}  {r.fix_safety:<9} {r.summary}")
    return EXIT_CLEAN


def _server() -> int:
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise ConfigError("the language server needs the 'lsp' extra: pip install 'torchlint[lsp]'") from None
    from torchlint.server import serve

    serve()
    return EXIT_CLEAN


def _explain(key: str) -> int:
    from torchlint.catalog import rule_infos  # the rules' metadata: no rule (nor LibCST) is imported

    rule = next((r for r in rule_infos() if key.upper() == r.code or key.lower() == r.name), None)
    if rule is None:
        raise ConfigError(f"unknown rule '{key}' (see 'torchlint rules')")
    from torchlint.docs import render_page

    sys.stdout.write(render_page(rule))  # type: ignore[arg-type]  # RuleInfo has what a page shows
    return EXIT_CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
