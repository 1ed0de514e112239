"""Line and column of the nodes that hold findings, from the innermost statements holding them.

LibCST computes positions by generating code: for a whole module that costs as much as parsing
it. A finding needs only the positions inside its own statement, so only that statement is
generated, starting on its own line of the file with the indentation of the blocks around it:
Python's `ast` gives every statement's first line, and a LibCST statement begins that many lines
earlier as it has leading lines (blank lines and comments above it, and above its first
decorator). A compound statement is entered when its header holds none of the nodes. Each
generated statement is compared with the file's text at that line; any difference, or a node
outside the module's statements, falls back to generating the whole module, so the positions
are always the ones the whole-module generation gives.
"""

from __future__ import annotations

import ast
import re
from typing import Iterable, List, Mapping, Optional, Set, Tuple, cast

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from torchlint.syntax_check import python_tree
from torchlint.tree import child_nodes, walk

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


Positions = Mapping[cst.CSTNode, CodeRange]


def positions(module: cst.Module, nodes: Iterable[cst.CSTNode], text: Optional[str] = None,
              tree: Optional[ast.AST] = None) -> Positions:
    """Node -> CodeRange, for at least `nodes` (every node of the statements that hold them)."""
    wanted = list(nodes)
    if text is not None and wanted:
        found = statement_positions(module, wanted, text, tree)
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


def statement_positions(module: cst.Module, nodes: List[cst.CSTNode], text: str,
                        tree: Optional[ast.AST] = None) -> Optional[Positions]:
    """Positions from the innermost statements holding `nodes`; None when they cannot be trusted.

    A compound statement whose header holds none of the nodes (a finding deep in a long `def
    main():`) is not generated whole: the statements of its body that hold them are, each with
    the indentation of the blocks around it. `tree` is CPython's tree of `text`, when known."""
    try:
        from libcst.metadata.position_provider import PositionProvidingCodegenState
    except ImportError:  # pragma: no cover - other LibCST versions
        return None
    if tree is None:
        tree = python_tree(text)
        if tree is None:  # syntax newer than this Python
            return None
    placer = _Placer(module, text, PositionProvidingCodegenState)
    try:
        if not placer.place(module.body, tree.body, [], {id(node) for node in nodes}):  # type: ignore[attr-defined]
            return None
    except (AttributeError, TypeError):  # pragma: no cover - other LibCST versions
        return None
    return cast(Positions, placer.provider._computed)


# LibCST compound statements whose indented body maps onto the `body` of CPython's node.
_DESCEND = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef), cst.ClassDef: (ast.ClassDef,),
    cst.For: (ast.For, ast.AsyncFor), cst.While: (ast.While,), cst.With: (ast.With, ast.AsyncWith),
    cst.If: (ast.If,), cst.Try: (ast.Try,),
}


class _Placer:
    def __init__(self, module: cst.Module, text: str, state_class) -> None:
        self.module = module
        self.text = text
        self.state_class = state_class
        self.provider = PositionProvider()
        self.starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]

    def place(self, statements, body: List[ast.stmt], indents: List[str], wanted: Set[int]) -> bool:
        """Generate the statements of one block that hold wanted nodes (or the statements of
        their bodies); False when a node is not found or a generated text differs from the file."""
        lines = _first_lines(statements, body)
        if lines is None:
            return False
        left = set(wanted)
        for statement, (line, node) in zip(statements, lines):
            if not left:
                break
            found = _found(child_nodes(statement), left) | ({id(statement)} & left)
            if not found:
                continue
            left -= found
            block = _descendable(statement, node)
            if block is not None and not _found([c for c in child_nodes(statement) if c is not block], found) \
                    and id(statement) not in found:
                indent = block.indent if block.indent is not None else self.module.default_indent
                if not self.place(block.body, node.body, indents + [indent], found):  # type: ignore[attr-defined]
                    return False
            elif not self.generate(statement, line, indents):
                return False
        return not left

    def generate(self, statement: cst.CSTNode, line: int, indents: List[str]) -> bool:
        if line < 1 or line > len(self.starts):
            return False
        state = self.state_class(default_indent=self.module.default_indent,
                                 default_newline=self.module.default_newline, provider=self.provider)
        state.line = line
        state.indent_tokens = list(indents)
        statement._codegen(state)
        code = "".join(state.tokens)
        begin = self.starts[line - 1]
        return self.text[begin:begin + len(code)] == code


def _descendable(statement: cst.CSTNode, node: ast.stmt) -> Optional[cst.IndentedBlock]:
    expected = _DESCEND.get(type(statement))
    body = getattr(statement, "body", None)
    if expected is None or not isinstance(node, expected) or type(body) is not cst.IndentedBlock:
        return None
    return body


def _found(roots: Iterable[cst.CSTNode], wanted: Set[int]) -> Set[int]:
    """The wanted ids among the nodes under `roots` (themselves included)."""
    found: Set[int] = set()
    for root in roots:
        for node in walk(root):
            if id(node) in wanted:
                found.add(id(node))
                if len(found) == len(wanted):
                    return found
    return found


def _first_lines(statements, body: List[ast.stmt]) -> Optional[List[Tuple[int, ast.stmt]]]:
    """The line each LibCST statement's code starts on (its leading lines included), with the
    CPython statement it begins with; None when the two trees do not line up."""
    lines: List[Tuple[int, ast.stmt]] = []
    index = 0
    for statement in statements:
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
        lines.append((first - leading, node))
    return lines if index == len(body) else None
