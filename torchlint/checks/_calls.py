"""Small helpers for reading call arguments, shared by the rules."""

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


def has_star_args(call: cst.Call) -> bool:
    """`f(*args)` or `f(**kwargs)`: which parameters are passed cannot be known statically."""
    return any(arg.star for arg in call.args)


def with_keyword(call: cst.Call, keyword: str, value: cst.BaseExpression) -> cst.Call:
    """`call` with `keyword=value` appended, following the call's layout (one line or one per line)."""
    new_arg = cst.Arg(value=value, keyword=cst.Name(keyword),
                      equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                            whitespace_after=cst.SimpleWhitespace("")))
    if not call.args:
        return call.with_changes(args=[new_arg])
    args = list(call.args)
    last = args[-1]
    if isinstance(last.comma, cst.Comma):
        # Trailing comma: the new argument takes it over; the old one gets a separator that
        # repeats the layout before the first argument (a newline and indent in exploded calls).
        separator = cst.Comma(whitespace_after=call.whitespace_before_args
                              if _is_multiline(call.whitespace_before_args) else cst.SimpleWhitespace(" "))
        args[-1] = last.with_changes(comma=separator)
        new_arg = new_arg.with_changes(comma=last.comma)
    else:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=args + [new_arg])


def _is_multiline(whitespace: cst.BaseParenthesizableWhitespace) -> bool:
    return isinstance(whitespace, cst.ParenthesizedWhitespace)
