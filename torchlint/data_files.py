"""The package's data tables (torchlint/data/), parsed once per install, not once per run.

The hand-written tables are TOML, with comments; the generated API table is gzipped JSON.
Python's TOML reader is pure Python (its import and the parse of the deprecation and library
tables cost 7 ms, a twentieth of a one-file check), and the API table's JSON takes 6 ms. So the
parsed data is kept in `marshal` form beside the package's bytecode, named by the table's name,
size and modification time and the Python that wrote it (as Python names bytecode), and read from
there when it matches; a read-only install only costs the parse.
"""

from __future__ import annotations

import gzip
import json
import marshal
import os
import sys
from typing import Any, Callable, Dict, Iterable, TypeVar

T = TypeVar("T")

try:  # the bytecode's version (loaded at start-up; importlib.util would be an import more)
    from _frozen_importlib_external import MAGIC_NUMBER
except ImportError:  # pragma: no cover  (not CPython)
    from importlib.util import MAGIC_NUMBER

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# Kept files are named by the Python that wrote them, as bytecode is: marshal's format, and that of
# the code objects some of them hold, are the interpreter's.
MARSHAL_SUFFIX = f".{sys.implementation.cache_tag}-{MAGIC_NUMBER.hex()}.marshal"
PARSED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
_PREFIX = "torchlint-data-"


def load_table(name: str) -> Dict[str, Any]:
    """The parsed contents of torchlint/data/`name` (a .toml or .json.gz file)."""
    source = os.path.join(DATA, name)
    status = os.stat(source)
    return kept(f"{_PREFIX}{name}-", f"{status.st_size}-{status.st_mtime_ns}",
                lambda: parse_toml(source) if name.endswith(".toml") else _parse_json_gz(source))


def checksum(pieces: Iterable[bytes]) -> str:
    """zlib's CRC-32 and Adler-32 of the pieces joined, and their length, in hex: names what
    torchlint makes of its own files (kept code, the code version) without importing hashlib."""
    import zlib

    crc, adler, size = 0, 1, 0
    for piece in pieces:
        crc, adler, size = zlib.crc32(piece, crc), zlib.adler32(piece, adler), size + len(piece)
    return f"{crc:08x}{adler:08x}{size:x}"


def kept(stem: str, key: str, make: Callable[[], T]) -> T:
    """`make()`, kept in marshal form beside the bytecode as `stem` + `key` (and the Python that
    wrote it); what earlier keys left is removed when a new one is written."""
    path = os.path.join(PARSED, f"{stem}{key}{MARSHAL_SUFFIX}")
    try:
        with open(path, "rb") as handle:
            return marshal.loads(handle.read())  # (load() reads the file piece by piece: 3x slower)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    value = make()
    keep(path, stem, value)
    return value


def _parse_json_gz(path: str) -> Dict[str, Any]:
    with open(path, "rb") as handle:
        return json.loads(gzip.decompress(handle.read()))


def toml_reader():
    """Python's TOML reader (`tomli` before 3.11), imported when a TOML file is read only."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def parse_toml(path: str) -> Dict[str, Any]:
    with open(path, "rb") as handle:
        return toml_reader().load(handle)


def keep(path: str, stem: str, value: object) -> None:
    """`value` written to `path` in marshal form, atomically (readable by every user, as bytecode
    is), and what earlier files of `stem` left for this Python removed (an earlier key, or an
    earlier build of the same Python version; another Python sharing the install keeps its own).
    Nothing is written when the folder is read-only or marshal cannot write the value."""
    from torchlint.sources import write_atomically

    mine = f".{sys.implementation.cache_tag}"
    try:
        data = marshal.dumps(value)  # type: ignore[arg-type]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, data, mode=0o644)
        for other in os.listdir(os.path.dirname(path)):
            tail = other[len(stem):]
            if other.startswith(stem) and other.endswith(".marshal") and (f"{mine}." in tail or f"{mine}-" in tail) \
                    and other != os.path.basename(path):
                os.unlink(os.path.join(os.path.dirname(path), other))
    except (OSError, ValueError):
        pass
