"""Reading call arguments in the CST: shared by the analysis and the rules."""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import libcst as cst


def argument(call: cst.Call, position: Optional[int], keyword: str) -> Optional[cst.Arg]:
    """The argument passed at `position` or as `keyword=`, or None (also when unknowable)."""
    index = 0
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg
        elif arg.star == "":
            if index == position:
                return arg
            index += 1
    return None


def argument_value(call: cst.Call, position: Optional[int], keyword: str) -> Optional[cst.BaseExpression]:
    arg = argument(call, position, keyword)
    return arg.value if arg is not None else None


def has_star_args(call: cst.Call) -> bool:
    """`f(*args)` or `f(**kwargs)`: which parameters are passed cannot be known statically."""
    return any(arg.star for arg in call.args)


def is_name(node: cst.CSTNode, value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value


def is_self_attribute(node: cst.CSTNode) -> bool:
    """`self.x`."""
    return isinstance(node, cst.Attribute) and is_name(node.value, "self")


def dotted_name(node: Optional[cst.CSTNode]) -> Optional[str]:
    """`model`, `self.model`, `torch.nn.functional`: a chain of names, or None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def target_names(target: cst.BaseExpression) -> Iterator[str]:
    """The names an assignment or loop target binds: `a`, `a, (b, *c)`, `[x, y]`."""
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)


def statement_expressions(statement: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """What a statement evaluates itself: a line's small statements, a compound statement's
    header (test, iterable, context managers, match subject), never the bodies it holds."""
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return statement.body
    if isinstance(statement, cst.BaseSmallStatement):
        return [statement]
    if isinstance(statement, (cst.If, cst.While)):
        return [statement.test]
    if isinstance(statement, cst.For):
        return [statement.iter]
    if isinstance(statement, cst.With):
        return statement.items
    if isinstance(statement, cst.Match):
        return [statement.subject]
    return []
