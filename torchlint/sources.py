"""Reading and writing the user's files without disturbing them.

A file keeps its encoding (coding cookie or BOM), its line endings and every byte outside a fix:
we decode with the encoding Python itself would use, let LibCST round-trip the text, and encode
back the same way. Writes go to a temporary file in the same folder and replace the original
atomically, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import fnmatch
import functools
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional, Pattern, Sequence, Set, Tuple, Union

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "build", "dist", "__pycache__",
    "node_modules", "site-packages", ".eggs", ".mypy_cache", ".pytest_cache", ".torchlint_cache",
)


class SourceError(Exception):
    """A file that cannot be read or decoded; the message is one line for the user."""


@dataclass
class SourceFile:
    """A file's text as Python decodes it, with its encoding and the bytes read."""

    path: str
    text: str
    encoding: str  # "utf-8-sig" when the file starts with a BOM: encoding back restores it
    data: bytes = field(default=b"", repr=False)  # the bytes read

    @property
    def digest(self) -> str:
        """The digest of the bytes read, for the result cache: made when asked."""
        return digest_of(self.data)


def read_source(path: str) -> SourceFile:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
            raise SourceError("cannot read file: not a regular file")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SourceError(f"cannot read file: {error.strerror or error}") from None
    return source_from_bytes(path, data)


def source_from_bytes(path: str, data: bytes) -> SourceFile:
    """Decode bytes read from `path` (or from standard input for it) as Python would."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise SourceError(f"cannot decode file: {error.msg}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceError(f"cannot decode file as {encoding}: {error}") from None
    return SourceFile(path, text, encoding, data)


def write_source(source: SourceFile, new_text: str) -> None:
    """Replace the file's contents atomically, in its own encoding, keeping its permissions."""
    target = os.path.realpath(source.path)  # through a symbolic link: fix the file, keep the link
    try:
        mode: Optional[int] = os.stat(target).st_mode & 0o7777
    except OSError:
        mode = None
    write_atomically(target, new_text.encode(source.encoding), mode)


def write_atomically(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename, so a
    reader sees the old file or the new one, never part of one (the caches, the catalogue, fixed
    sources). `mode`: the permissions to give it. Raises OSError; leaves no temporary behind."""
    import tempfile  # here: a run that writes nothing never imports it

    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".torchlint-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        if mode is not None:
            try:
                os.chmod(temporary, mode)
            except OSError:
                pass
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def is_excluded(path: str, patterns: Sequence[str], root: str = "") -> bool:
    """Excluded when a pattern matches the name of the file or of a folder below `root` (the
    folder the user asked to check: its own ancestors never count), or, for a pattern with a
    slash such as `tests/golden`, the path below `root` or one of its leading folders."""
    relative = os.path.relpath(path, root) if root else path
    parts = [p for p in os.path.normpath(relative).replace(os.sep, "/").split("/") if p not in ("", ".", "..")]
    names, paths = _compiled(tuple(patterns))
    if names is not None and any(names.match(os.path.normcase(part)) for part in parts):
        return True
    if paths is not None:
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(paths.match(os.path.normcase(prefix)) for prefix in prefixes)
    return False


@functools.lru_cache(maxsize=64)
def _compiled(patterns: Tuple[str, ...]) -> Tuple[Optional[Pattern[str]], Optional[Pattern[str]]]:
    """The patterns as two regular expressions, compiled once per set (a walk asks per folder):
    those matched against each name, and those with a slash, against each leading path.
    As `fnmatch.fnmatch`: both sides through `os.path.normcase`."""
    stripped = [pattern.strip("/") for pattern in patterns]
    names = [fnmatch.translate(os.path.normcase(p)) for p in stripped if "/" not in p]
    paths = [fnmatch.translate(os.path.normcase(p)) for p in stripped if "/" in p]
    return (re.compile("|".join(names)) if names else None, re.compile("|".join(paths)) if paths else None)


Excludes = Union[Sequence[str], Callable[[str], Tuple[Sequence[str], str]]]
Includes = Union[Sequence[str], Callable[[str], Sequence[str]]]
# Files a folder walk checks: Python, notebooks and Markdown (see torchlint.documents).
CHECKED_SUFFIXES = (".py", ".ipynb", ".md", ".markdown", ".qmd")


def is_checked(name: str, folder: str, includes: Includes) -> bool:
    """A file a folder walk checks: by its suffix, or matched by an `extend-include` pattern."""
    if name.lower().endswith(CHECKED_SUFFIXES) and not name.lower().endswith(".pyi"):
        return True
    patterns = includes(folder) if callable(includes) else includes
    if not patterns:
        return False
    from torchlint.documents import matches_include

    return matches_include(os.path.join(folder, name), patterns)


def _patterns(excludes: Excludes, folder: str, walk_root: str) -> Tuple[Sequence[str], str]:
    """Patterns for `folder` and the folder they are relative to: the walked root, or the folder
    of the configuration that applies when that one is deeper (a nested project's own excludes)."""
    if not callable(excludes):
        return excludes, walk_root
    patterns, config_root = excludes(folder)
    if not config_root:
        return patterns, walk_root
    walk_root = os.path.abspath(walk_root)
    config_root = os.path.abspath(config_root)
    inside = os.path.commonpath([walk_root, config_root]) == walk_root
    return patterns, config_root if inside else walk_root


def _warn_and_skip(path: str) -> Optional[str]:
    """Why a path named on the command line is not checked, or None when it is."""
    if os.path.islink(path) and not os.path.exists(path):
        return f"{path}: skipped: a symbolic link to a missing file"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return f"{path}: skipped: not a regular file"
    except OSError as error:
        return f"{path}: skipped: {error.strerror or error}"
    return None


def iter_python_files(paths: Iterable[str], excludes: Excludes, force_exclude: bool = False,
                      warn: Optional[Callable[[str], None]] = None, includes: Includes = ()) -> Iterator[str]:
    """Python files, notebooks and Markdown files (and those `includes` matches) under `paths`, sorted within each folder, each real file once (a file and a
    link to it are one file, reported under the first name met). Files named explicitly are
    checked even when excluded, unless `force_exclude` (pre-commit names every changed file).
    `excludes` is a list of patterns or, per folder, (patterns, their root) from its settings.
    `warn` hears about named paths that are not files (devices, dangling links) and folders
    without Python files; those are skipped."""
    seen: Set[str] = set()

    def first_time(path: str) -> bool:
        real = os.path.realpath(path)
        if real in seen:
            return False
        seen.add(real)
        return True

    for root in paths:
        if not os.path.isdir(root):
            patterns, base = _patterns(excludes, os.path.dirname(os.path.abspath(root)), os.getcwd())
            if force_exclude and is_excluded(root, patterns, base):
                continue
            problem = _warn_and_skip(root) if warn is not None else None
            if problem is not None:
                warn(problem)  # type: ignore[misc]
            elif first_time(root):
                yield root
            continue
        found = False
        for folder, dirs, files in os.walk(root):
            patterns, base = _patterns(excludes, folder, root)
            dirs[:] = sorted(d for d in dirs if not is_excluded(os.path.join(folder, d), patterns, base))
            for name in sorted(files):
                path = os.path.join(folder, name)
                if is_checked(name, folder, includes) and not is_excluded(path, patterns, base):
                    found = True
                    if first_time(path):
                        yield path
        if not found and warn is not None:
            warn(f"no Python files found under {root}")


def file_digest(path: str) -> Optional[str]:
    """sha256 of a file's bytes (None when it cannot be read): how the caches know a file."""
    try:
        with open(path, "rb") as handle:
            return digest_of(handle.read())
    except OSError:
        return None


def digest_of(data: bytes) -> str:
    """sha256 of `data`, in hex: how the caches know a file or a key. hashlib is imported here
    only, when a digest is asked (costly to import: a run that asks none never does)."""
    import hashlib

    return hashlib.sha256(data).hexdigest()
