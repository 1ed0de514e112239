"""Line and column of the nodes that hold findings, from the top-level statements holding them.

LibCST computes positions by generating code: for a whole module that costs as much as parsing
it. A finding needs only the positions inside its own top-level statement, so only those
statements are generated, each starting on its own line of the file: Python's `ast` gives every
top-level statement's first line, and a LibCST statement begins that many lines earlier as it
has leading lines (blank lines and comments above it, and above its first decorator). Each
generated statement is compared with the file's text at that line; any difference, or a node
outside the module's statements, falls back to generating the whole module, so the positions
are always the ones the whole-module generation gives.
"""

from __future__ import annotations

import ast
import re
from typing import Iterable, List, Mapping, Optional, Set, cast

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


Positions = Mapping[cst.CSTNode, CodeRange]


def positions(module: cst.Module, nodes: Iterable[cst.CSTNode], text: Optional[str] = None) -> Positions:
    """Node -> CodeRange, for at least `nodes` (every node of the statements that hold them)."""
    wanted = list(nodes)
    if text is not None and wanted:
        found = statement_positions(module, wanted, text)
        if found is not None:
            return found
    return module_positions(module)


def module_positions(module: cst.Module) -> Positions:
    """Every node's position: one code generation of the module that records them, without the
    metadata wrapper's extra visit of the whole tree (half the cost); the public API is the fallback."""
    try:
        from libcst.metadata.position_provider import PositionProvidingCodegenState

        provider = PositionProvider()
        state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                              default_newline=module.default_newline, provider=provider)
        module._codegen(state)
        return cast(Positions, provider._computed)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other LibCST versions
        return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def statement_positions(module: cst.Module, nodes: List[cst.CSTNode], text: str) -> Optional[Positions]:
    """Positions from the top-level statements holding `nodes`; None when they cannot be trusted."""
    try:
        from libcst.metadata.position_provider import PositionProvidingCodegenState
    except ImportError:  # pragma: no cover - other LibCST versions
        return None
    holders = _holders(module, {id(node) for node in nodes})
    if holders is None:
        return None
    first_lines = _first_lines(module, text)
    if first_lines is None:
        return None
    starts = _line_starts(text, max(first_lines[index] for index in holders))
    provider = PositionProvider()
    try:
        for index in sorted(holders):
            line = first_lines[index]
            if line < 1 or line > len(starts):
                return None
            state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                                  default_newline=module.default_newline, provider=provider)
            state.line = line
            module.body[index]._codegen(state)
            code = "".join(state.tokens)
            begin = starts[line - 1]
            if text[begin:begin + len(code)] != code:
                return None
    except (AttributeError, TypeError):  # pragma: no cover - other LibCST versions
        return None
    return cast(Positions, provider._computed)


def _holders(module: cst.Module, wanted: Set[int]) -> Optional[Set[int]]:
    """Indexes of the top-level statements holding the wanted nodes (by id); None when one is
    not inside any (the module itself, its header). Stops once every node is found."""
    from torchlint.engine import child_nodes

    left = set(wanted)
    holders: Set[int] = set()
    for index, statement in enumerate(module.body):
        stack: List[cst.CSTNode] = [statement]
        while stack:
            node = stack.pop()
            if id(node) in left:
                left.discard(id(node))
                holders.add(index)
            stack.extend(child_nodes(node))
        if not left:
            return holders
    return None


def _first_lines(module: cst.Module, text: str) -> Optional[List[int]]:
    """The line each top-level LibCST statement's code starts on (its leading lines included)."""
    try:
        tree = compile(text, "<file>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # syntax newer than this Python
        return None
    body = tree.body  # type: ignore[attr-defined]
    lines: List[int] = []
    index = 0
    for statement in module.body:
        if index >= len(body):
            return None
        node = body[index]
        first = node.lineno
        leading = len(statement.leading_lines)
        decorators = getattr(statement, "decorators", ())
        if decorators:
            first = min([first] + [d.lineno for d in getattr(node, "decorator_list", ())])
            leading += len(decorators[0].leading_lines)
        # `a = 1; b = 2` is one LibCST line of two statements, two statements for `ast`.
        index += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        lines.append(first - leading)
    return lines if index == len(body) else None


def _line_starts(text: str, last: int) -> List[int]:
    """Offsets where lines 1..last begin (fewer when the text has fewer lines)."""
    starts = [0]
    for match in _LINE_BREAK.finditer(text):
        if len(starts) >= last:
            break
        starts.append(match.end())
    return starts
