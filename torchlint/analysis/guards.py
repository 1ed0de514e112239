"""Is this code guarded by a version or feature check? Code under `if hasattr(torch, "x")`,
`getattr(torch, "x", None)`, a `torch.__version__` comparison, or `try: ... except
(AttributeError, ImportError)` is written to run on several torch versions: what it names may
exist on some of them only, so API-table rules stay silent there."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator, Optional

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where

_GUARD_WORDS = re.compile(r"\b(hasattr|getattr|__version__|version|TORCH_VERSION|is_available|torch_version|TYPE_CHECKING)\b")
_GUARD_EXCEPTIONS = frozenset({"AttributeError", "ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def version_guarded(analysis: "ModuleAnalysis", attribute: str, where: Optional["Where"] = None) -> bool:
    """True when the code at `where` is guarded by a feature/version test, or the module tests
    for `attribute` by name anywhere (`hasattr(torch, "compile")` before using `torch.compile`)."""
    if _names_attribute_in_test(analysis, attribute):
        return True
    for compound in _enclosing(analysis, where or analysis.where()):
        if isinstance(compound, (cst.If, cst.While)):
            if _GUARD_WORDS.search(analysis.module.code_for_node(compound.test)):
                return True
        elif isinstance(compound, (cst.Try, cst.TryStar)):
            if any(_catches_guard(handler) for handler in compound.handlers):  # type: ignore[arg-type]
                return True
    statement = (where or analysis.where())[1].node
    if isinstance(statement, cst.SimpleStatementLine):
        return bool(_GUARD_WORDS.search(analysis.module.code_for_node(statement)))
    return False


def _names_attribute_in_test(analysis: "ModuleAnalysis", attribute: str) -> bool:
    code = analysis.module.code
    return f'"{attribute}"' in code or f"'{attribute}'" in code


def _enclosing(analysis: "ModuleAnalysis", where: "Where") -> Iterator[cst.CSTNode]:
    """Compound statements around `where`, in its scope and in every scope around that one."""
    scope, statement = where
    yield from statement.enclosing
    while scope is not None and scope.parent is not None:
        definition = analysis.index.statements.get(id(scope.node))
        if definition is None:
            break
        yield from definition.enclosing
        scope = scope.parent


def _catches_guard(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = {n.value for n in _names(handler.type)}
    return bool(names & _GUARD_EXCEPTIONS)


def _names(node: cst.CSTNode) -> Iterator[cst.Name]:
    if isinstance(node, cst.Name):
        yield node
    elif isinstance(node, cst.Attribute):
        yield node.attr
    elif isinstance(node, cst.Tuple):
        for element in node.elements:
            yield from _names(element.value)
