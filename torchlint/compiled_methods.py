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
import sys
import types
from typing import Any, Dict, Optional, Set

MAX_KEPT = 2_000  # texts kept (LibCST and torchlint make about 800); beyond that, only this process's
_STEM = "torchlint-dataclass-methods"
_lock = _thread.allocate_lock()
_codes: Optional[Dict[str, Any]] = None  # text -> code, read from the kept file at the first use
_used: Set[str] = set()
_new = False


def kept_path() -> str:
    """Named by the Python that compiled it: a code object's format is the interpreter's."""
    from torchlint import data_files  # (gzip and json: not for `torchlint --version`)

    return os.path.join(data_files.PARSED, f"{_STEM}{data_files.MARSHAL_SUFFIX}")


def install() -> None:
    """Give `dataclasses` the keeping `exec` (the module looks `exec` up in its globals first,
    then in the built-ins). Forked workers inherit it; spawned ones get it from the pool's
    initializer (`runner._worker_started`)."""
    import dataclasses

    dataclasses.exec = _exec  # type: ignore[attr-defined]


def uninstall() -> None:
    import dataclasses

    if getattr(dataclasses, "exec", None) is _exec:
        del dataclasses.exec  # type: ignore[attr-defined]


def _exec(source: Any, globals: Any = None, locals: Any = None, /, **keywords: Any) -> None:
    """`exec(source, globals, locals)`, with a text's code compiled once: without inheriting
    this module's `__future__` flags (the built-in `exec` of a text inherits those of its caller,
    `dataclasses`, which has none). Namespaces not given are the caller's, as the built-in's are;
    anything but a text goes to the built-in."""
    global _codes, _new
    if globals is None:
        caller = sys._getframe(1)
        globals, locals = caller.f_globals, caller.f_locals if locals is None else locals
    if type(source) is not str or keywords:
        return builtins.exec(source, globals, locals, **keywords)
    if _codes is None:
        read = _read()  # (outside the lock: reading imports modules, which may make dataclasses)
        with _lock:
            if _codes is None:
                _codes = read
    with _lock:
        code = _codes.get(source)
        if type(code) is not types.CodeType:  # not kept yet (or a damaged entry)
            code = _codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _new = True
        _used.add(source)
    return builtins.exec(code, globals, locals)


def _read() -> Dict[str, Any]:
    path = kept_path()
    try:
        with open(path, "rb") as handle:
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
        codes = dict(_codes) if len(_codes) <= MAX_KEPT else {text: _codes[text] for text in _used}
    from torchlint import data_files

    data_files.keep(kept_path(), _STEM, codes)  # (a read-only install compiles every time, as before)
