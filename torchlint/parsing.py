"""LibCST's parse of a file, with the per-node costs that only hand-built nodes need left out.

LibCST's native parser builds each node by calling its class. Every class is a frozen dataclass,
so its generated `__init__` stores each field through `object.__setattr__` (a name lookup per
field) and then calls `__post_init__`, which validates the node (a check meant for nodes built by
hand: parsed nodes are valid by construction, and LibCST's own source suggests moving it out of
the parse). When CPython's parser has accepted the text, `parse_source` swaps in, for the length
of the parse only, constructors that store each field through its slot directly and do not
validate: the nodes are the same, built in half the time (a tenth of the whole parse). Making
them costs 4 ms a process (their compiled code is kept beside the bytecode), repaid after about
50,000 characters of parsing: until a process has parsed that much (a one-file check seldom
does), only the validation is skipped. Nodes that fixes build later are made by the original
constructors and validated.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import threading
import types
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union, cast

import libcst as cst

from torchlint.tree import node_types

_swapping = threading.RLock()  # the classes are process-wide: one parse at a time swaps them
FAST_AFTER_CHARS = 50_000  # parsed before the fast constructors are made (4 ms: more than one file saves)
_parsed_chars = 0


# The last few trees, by text: the project model summarises a module right before or after the
# run lints it (a sibling's import), and the two would parse the same text. Trees are immutable
# and the analysis keeps its facts per ModuleAnalysis, so one tree serves both.
RECENT_TREES, RECENT_CHARS = 8, 500_000  # at most this many, of at most this much text (~15 MB)
_recent: "collections.OrderedDict[str, cst.Module]" = collections.OrderedDict()
_recent_lock = threading.Lock()


def parse_source(text: str, checked: Union[bool, Callable[[], bool]] = False) -> cst.Module:
    """LibCST's parse, with the final line end of a CR-only file kept: LibCST's parser does not
    see a trailing "\\r" as a trailing newline, and its code generation would drop it.

    `checked`: CPython's parser has accepted `text`, so LibCST builds its nodes unvalidated (or
    a function saying so, asked only when the text must be parsed: not for a kept tree)."""
    with _recent_lock:
        module = _recent.get(text)
        if module is not None:
            _recent.move_to_end(text)
            return module
    module = _parse(text, checked() if callable(checked) else checked)
    if len(text) <= RECENT_CHARS:
        with _recent_lock:
            _recent[text] = module
            size = sum(map(len, _recent))
            while len(_recent) > RECENT_TREES or size > RECENT_CHARS:
                size -= len(_recent.popitem(last=False)[0])
    return module


def _parse(text: str, checked: bool) -> cst.Module:
    global _parsed_chars
    if checked:
        _parsed_chars += len(text)
        with _trusted_construction(fast=_parsed_chars > FAST_AFTER_CHARS):
            module = cst.parse_module(text)
    else:
        module = cst.parse_module(text)
    if text.endswith("\r") and not module.has_trailing_newline:
        module = module.with_changes(has_trailing_newline=True)
    return module


@contextlib.contextmanager
def _trusted_construction(fast: bool = True) -> Iterator[None]:
    """Nodes built unvalidated; with `fast`, by the slot-storing constructors too."""
    constructors = _constructors() if fast else {}
    validating = cst.CSTNode.__dict__["__post_init__"]
    with _swapping:
        cst.CSTNode.__post_init__ = _not_validated  # type: ignore[method-assign]
        for kind, (_, constructor) in constructors.items():
            kind.__init__ = constructor  # type: ignore[misc]
        try:
            yield
        finally:
            for kind, (original, _) in constructors.items():
                kind.__init__ = original  # type: ignore[misc]
            cst.CSTNode.__post_init__ = validating  # type: ignore[method-assign]


def _not_validated(self: cst.CSTNode) -> None:
    pass


@functools.lru_cache(maxsize=None)
def _constructors() -> Dict[type, Tuple[Callable, Callable]]:
    """(LibCST's constructor, the fast one) of every node class that has its own.

    The fast constructors are one generated module; its compiled code is kept beside the
    bytecode, named by a digest of its source (so by LibCST's classes), and compiling it is paid
    once per install (the module docstring gives what making them costs a process)."""
    from torchlint.data_files import checksum, kept

    classes = sorted((kind for kind in node_types(cst.CSTNode) if "__init__" in kind.__dict__),
                     key=lambda kind: (kind.__module__, kind.__qualname__))
    namespace: Dict[str, object] = {"_MISSING": _MISSING}
    sources: List[str] = []
    made: List[type] = []
    for kind in classes:  # (the classes LibCST replaced by slotted copies have no slots: skipped)
        source = _fast_constructor(kind, f"_c{len(made)}", namespace)
        if source is not None:
            sources.append(source)
            made.append(kind)
    source = "\n".join(sources)
    code = kept("torchlint-constructors-", checksum([source.encode()]),
                lambda: compile(source, "<torchlint: LibCST constructors>", "exec"))
    exec(code, namespace)  # noqa: S102  (built from LibCST's own field names)
    return {kind: (kind.__dict__["__init__"], cast(Callable, namespace[f"_c{index}"]))
            for index, kind in enumerate(made)}


_MISSING = object()


def _fast_constructor(kind: type, prefix: str, namespace: Dict[str, object]) -> Optional[str]:
    """The source of `prefix`, an `__init__` with the dataclass's signature (the parser passes
    keywords) that stores each field through its slot, with what it needs put in `namespace`;
    None when the class is not a plain slotted dataclass (then LibCST's own is kept)."""
    if not dataclasses.is_dataclass(kind):
        return None
    parameters, body = [], []
    names: Dict[str, object] = {}
    for field in dataclasses.fields(kind):
        slot = _slot(kind, field.name)
        if slot is None or not field.init or field.kw_only or field.name.startswith("_"):
            return None
        name = field.name
        names[f"{prefix}_set_{name}"] = slot.__set__
        if field.default is not dataclasses.MISSING:
            names[f"{prefix}_default_{name}"] = field.default
            parameters.append(f"{name}={prefix}_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            names[f"{prefix}_factory_{name}"] = field.default_factory
            parameters.append(f"{name}=_MISSING")
            body.append(f"    if {name} is _MISSING:\n        {name} = {prefix}_factory_{name}()")
        else:
            parameters.append(name)
        body.append(f"    {prefix}_set_{name}(self, {name})")
    namespace.update(names)
    return f"def {prefix}(self, {', '.join(parameters)}):\n" + "\n".join(body + ["    pass"]) + "\n"


def _slot(kind: type, name: str) -> Optional[types.MemberDescriptorType]:
    for base in kind.__mro__:
        found = base.__dict__.get(name)
        if found is not None:
            return found if isinstance(found, types.MemberDescriptorType) else None
    return None
