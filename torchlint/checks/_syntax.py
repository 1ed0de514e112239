"""Small helpers shared by the rules: reading call arguments and building edits that keep the
user's layout (argument lists, inserted statements)."""

from __future__ import annotations

import libcst as cst

from torchlint.syntax import argument, has_star_args  # noqa: F401  (re-exported for the rules)


def with_keyword(call: cst.Call, keyword: str, value: cst.BaseExpression) -> cst.Call:
    """`call` with `keyword=value` appended, following the call's layout (one line or one per line)."""
    new_arg = cst.Arg(value=value, keyword=cst.Name(keyword),
                      equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                            whitespace_after=cst.SimpleWhitespace("")))
    if not call.args:
        return call.with_changes(args=[new_arg])
    args = list(call.args)
    last = args[-1]
    after = last.comma.whitespace_after if isinstance(last.comma, cst.Comma) else None
    if isinstance(after, cst.ParenthesizedWhitespace):
        # One argument per line with a trailing comma: the old last line keeps its comma and any
        # comment, and breaks to the arguments' indent; the new argument breaks to the `)`.
        args_indent = call.whitespace_before_args
        last_line = args_indent.last_line if isinstance(args_indent, cst.ParenthesizedWhitespace) else after.last_line
        args[-1] = last.with_changes(comma=last.comma.with_changes(  # type: ignore[union-attr]
            whitespace_after=after.with_changes(indent=True, last_line=last_line)))
        new_arg = new_arg.with_changes(comma=cst.Comma(whitespace_after=_line_break_like(after)))
    elif isinstance(last.comma, cst.Comma):
        args[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=cst.SimpleWhitespace(" ")))
        new_arg = new_arg.with_changes(comma=cst.Comma())
    else:
        # The space before `)` belongs to the last argument: hand it on to the new last argument.
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                                     whitespace_after_arg=cst.SimpleWhitespace(""))
        new_arg = new_arg.with_changes(whitespace_after_arg=last.whitespace_after_arg)
    return call.with_changes(args=args + [new_arg])


def _line_break_like(whitespace: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """The same newline and indent, without any comment it carried (comments are never copied)."""
    if isinstance(whitespace, cst.ParenthesizedWhitespace):
        return cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), empty_lines=[], indent=whitespace.indent,
            last_line=whitespace.last_line,
        )
    return cst.SimpleWhitespace(" ")


def insert_before(statement: cst.BaseStatement, *new: cst.BaseStatement) -> cst.FlattenSentinel:
    """Replacement for `statement` that puts `new` statements before it, at its indentation.

    The comments and blank lines above `statement` move up with the inserted code, so they keep
    describing the block they were written for."""
    leading = getattr(statement, "leading_lines", ())
    first, *rest = new
    first = first.with_changes(leading_lines=leading)
    return cst.FlattenSentinel([first, *rest, statement.with_changes(leading_lines=())])


def insert_after(statement: cst.BaseStatement, *new: cst.BaseStatement) -> cst.FlattenSentinel:
    """Replacement for `statement` that puts `new` statements after it, at its indentation."""
    return cst.FlattenSentinel([statement, *(n.with_changes(leading_lines=()) for n in new)])


def statement_of(code: str) -> cst.BaseStatement:
    """One statement parsed from source, for building fixes."""
    return cst.parse_statement(code)
