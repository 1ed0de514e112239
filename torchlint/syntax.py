"""Reading call arguments in the CST: shared by the analysis and the rules."""

from __future__ import annotations

from typing import Optional

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
