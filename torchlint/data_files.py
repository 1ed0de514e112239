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
from typing import Any, Dict

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_PARSED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
_PREFIX = "torchlint-data-"


def load_table(name: str) -> Dict[str, Any]:
    """The parsed contents of torchlint/data/`name` (a .toml or .json.gz file)."""
    source = os.path.join(DATA, name)
    status = os.stat(source)
    stem = f"{_PREFIX}{name}-"
    parsed = os.path.join(_PARSED, f"{stem}{status.st_size}-{status.st_mtime_ns}.{sys.implementation.cache_tag}.marshal")
    try:
        with open(parsed, "rb") as handle:
            return marshal.loads(handle.read())  # (load() reads the file piece by piece: 3x slower)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    data = parse_toml(source) if name.endswith(".toml") else _parse_json_gz(source)
    _keep(parsed, stem, data)
    return data


def _parse_json_gz(path: str) -> Dict[str, Any]:
    with open(path, "rb") as handle:
        return json.loads(gzip.decompress(handle.read()))


def parse_toml(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def _keep(path: str, stem: str, data: Dict[str, Any]) -> None:
    """Atomically (temporary file + rename), removing what earlier versions of the table left."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        import tempfile  # here: a run that finds the parsed table never imports it

        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            marshal.dump(data, out)
        os.replace(temporary, path)
        for other in os.listdir(os.path.dirname(path)):
            if other.startswith(stem) and other != os.path.basename(path):
                os.unlink(os.path.join(os.path.dirname(path), other))
    except (OSError, ValueError):
        pass
