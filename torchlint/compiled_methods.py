"""The methods `dataclasses` generates, compiled once per install instead of once per process.

`dataclasses` writes each class's `__init__`, `__repr__`, `__eq__`... as source text and compiles
it when the class is made. Importing LibCST makes about 200 dataclasses (600 distinct texts), and
compiling those texts is half of its import: 55 of 115 ms, paid again by every process of a run
(the command, then each worker), a quarter of a one-file check. In the command's own processes
(`cli.console_main` calls `install`), `dataclasses` gets an `exec` that compiles each text once
and keeps its code in marshal form beside the package's bytecode, as Python keeps a module's.
The same text compiled by the same Python is the same code, so the classes made are the same;
any other `exec` call (a code object, other arguments) goes to the built-in unchanged.
"""

from __future__ import annotations

import _thread  # (not threading: `torchlint --version` imports neither it nor LibCST)
import builtins
import marshal
import os
from typing import Any, Dict, Optional, Set


MAX_KEPT = 5_000  # texts kept; beyond that, only those this process used are written back
_lock = _thread.allocate_lock()
_codes: Optional[Dict[str, Any]] = None  # text -> code, read from the kept file at the first use
_used: Set[str] = set()
_new = False


def kept_path() -> str:
    """Named by the Python that compiled it: a code object's format is the interpreter's."""
    from torchlint import data_files  # (gzip and json: not for `torchlint --version`)

    return os.path.join(data_files.PARSED, f"torchlint-dataclass-methods{data_files.MARSHAL_SUFFIX}")


def install() -> None:
    """Give `dataclasses` the keeping `exec` (once; the module looks `exec` up in its globals
    first, then in the built-ins)."""
    import dataclasses

    dataclasses.exec = _exec  # type: ignore[attr-defined]


def uninstall() -> None:
    import dataclasses

    if getattr(dataclasses, "exec", None) is _exec:
        del dataclasses.exec  # type: ignore[attr-defined]


def _exec(source: Any, globals: Any = None, locals: Any = None, /, **keywords: Any) -> None:
    """`exec(source, globals, locals)`, with a text's code compiled once: without inheriting
    this module's `__future__` flags (the built-in `exec` of a text inherits those of its caller,
    `dataclasses`, which has none)."""
    global _codes, _new
    if type(source) is not str or keywords:
        return builtins.exec(source, globals, locals, **keywords)
    with _lock:
        if _codes is None:
            _codes = _read()
        code = _codes.get(source)
        if code is None:
            code = _codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _new = True
        _used.add(source)
    return builtins.exec(code, globals, locals)


def _read() -> Dict[str, Any]:
    try:
        with open(kept_path(), "rb") as handle:
            codes = marshal.loads(handle.read())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    return codes if isinstance(codes, dict) else {}


def keep_new() -> None:
    """Write the kept file when this process compiled a text it did not have (cheap otherwise):
    after a command, and after a worker's batch."""
    global _new
    with _lock:
        if not _new or _codes is None:
            return
        _new = False
        codes = _codes if len(_codes) <= MAX_KEPT else {text: _codes[text] for text in _used}
        try:
            data = marshal.dumps(codes)
        except ValueError:  # something in the code that marshal cannot write: keep nothing
            return
    from torchlint.sources import write_atomically

    try:
        os.makedirs(os.path.dirname(kept_path()), exist_ok=True)
        write_atomically(kept_path(), data, mode=0o644)  # readable by all, as bytecode
    except OSError:  # a read-only install compiles every time, as before
        pass
