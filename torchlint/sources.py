"""Reading and writing the user's files without disturbing them.

A file keeps its encoding (coding cookie or BOM), its line endings and every byte outside a fix:
we decode with the encoding Python itself would use, let LibCST round-trip the text, and encode
back the same way. Writes go to a temporary file in the same folder and replace the original
atomically, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "build", "dist", "__pycache__",
    "node_modules", "site-packages", ".eggs", ".mypy_cache", ".pytest_cache", ".torchlint_cache",
)


class SourceError(Exception):
    """A file that cannot be read or decoded; the message is one line for the user."""


@dataclass
class SourceFile:
    path: str
    text: str
    encoding: str  # "utf-8-sig" when the file starts with a BOM: encoding back restores it
    digest: str = ""  # sha256 of the bytes read, for the result cache


def read_source(path: str) -> SourceFile:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
            raise SourceError("cannot read file: not a regular file")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SourceError(f"cannot read file: {error.strerror or error}") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise SourceError(f"cannot decode file: {error.msg}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceError(f"cannot decode file as {encoding}: {error}") from None
    return SourceFile(path, text, encoding, hashlib.sha256(data).hexdigest())


def write_source(source: SourceFile, new_text: str) -> None:
    """Replace the file's contents atomically, in its own encoding, keeping its permissions."""
    data = new_text.encode(source.encoding)
    folder = os.path.dirname(os.path.abspath(source.path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".torchlint-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            os.chmod(temporary, os.stat(source.path).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(temporary, source.path)
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
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.strip("/")
        candidates = prefixes if "/" in pattern else parts
        if any(fnmatch.fnmatch(candidate, pattern) for candidate in candidates):
            return True
    return False


def iter_python_files(paths: Iterable[str], excludes: Sequence[str], force_exclude: bool = False) -> Iterator[str]:
    """Python files under `paths`, sorted within each folder. Files named explicitly are checked
    even when excluded, unless `force_exclude` (pre-commit names every changed file)."""
    for root in paths:
        if not os.path.isdir(root):
            if not (force_exclude and is_excluded(root, excludes, os.getcwd())):
                yield root
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not is_excluded(os.path.join(folder, d), excludes, root))
            for name in sorted(files):
                path = os.path.join(folder, name)
                if name.endswith(".py") and not is_excluded(path, excludes, root):
                    yield path
