"""CPython's syntax check of a file, before (and often instead of) LibCST's parse.

Every file gets it, even one where no rule has evidence: TL001 for a syntax error, TL003 for a file
too large to check; then one walk of CPython's tree (torchlint/references.py) tells which rules
have evidence. Nothing here imports LibCST, so a file no rule can fire in is checked without it.
"""

from __future__ import annotations

import ast
from typing import List, Optional, Set, Tuple

from torchlint.references import References, references
from torchlint.rule import Finding

SYNTAX_ERROR_CODE = "TL001"
INTERNAL_ERROR_CODE = "TL002"
TOO_COMPLEX_CODE = "TL003"
MAX_SOURCE_CHARS = 2_000_000  # larger files are generated; LibCST needs ~0.5 GB and 6 s per MB
MAX_DEPTH = 1000  # syntax-tree depth; LibCST's parse time grows faster than linearly with it
# CPython refusals that are limits of its parser, not mistakes LibCST might accept.
# CPython's verdicts that no newer syntax can overturn (LibCST would parse the file anyway).
_PARSER_LIMITS = ("too many nested parentheses", "too complex", "too many statically nested blocks",
                  "null bytes")
TOO_DEEP = f"file not checked: its syntax tree is more than {MAX_DEPTH} levels deep"


def precheck(text: str, codes: Set[str]
             ) -> Tuple[Optional[List[Finding]], Optional[SyntaxError], Optional[ast.AST]]:
    """CPython's own parser first: ten times cheaper than LibCST, so every file gets a syntax
    check (TL001) even when no rule's trigger word is in it, and the file's size decides whether
    LibCST may parse it (TL003; its depth is judged by `engine.select_rules`). `codes`: the rules
    on. Returns (the file's findings when nothing more is to be done, else None; CPython's syntax
    error when LibCST, which knows newer syntax than the running Python, must decide; CPython's
    tree of the file when it parsed)."""
    if len(text) > MAX_SOURCE_CHARS:
        megabytes = len(text) / 1_000_000
        return too_complex(codes, f"file not checked: {megabytes:.1f} MB is more than the "
                                   f"{MAX_SOURCE_CHARS // 1_000_000} MB torchlint checks"), None, None
    try:
        tree = compile(text, "<file>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except SyntaxError as error:
        if any(limit in str(error.msg) for limit in _PARSER_LIMITS):
            found = [python_syntax_error_finding(text, error)] if SYNTAX_ERROR_CODE in codes else []
            return found, None, None
        return None, error, None
    except ValueError as error:  # null bytes, on older Pythons: no Python runs such a file
        found = [python_syntax_error_finding(text, SyntaxError(str(error)))] if SYNTAX_ERROR_CODE in codes else []
        return found, None, None
    except (RecursionError, MemoryError):
        return too_complex(codes, "file not checked: nested more than CPython's parser allows"), None, None
    return None, None, tree


def python_tree(text: str) -> Optional[ast.AST]:
    """CPython's tree of `text`, or None when CPython refuses it (newer syntax, a parser limit)."""
    try:
        return compile(text, "<file>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def too_complex(codes: Set[str], message: str) -> List[Finding]:
    return [Finding(TOO_COMPLEX_CODE, message, None, None, 1, 1, 1, 1)] if TOO_COMPLEX_CODE in codes else []


def python_syntax_error_finding(text: str, error: SyntaxError) -> Finding:
    """TL001 where CPython's parser stopped (tokenizer errors included: a NUL byte on line 3 is 3)."""
    message = str(error.msg or "syntax error").splitlines()[0]
    line, column = error.lineno, error.offset
    if line is None and "\0" in text:  # "source code string cannot contain null bytes": no position
        index = text.index("\0")
        line, column = text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)
    line, column = max(line or 1, 1), max(column or 1, 1)
    return Finding(SYNTAX_ERROR_CODE, f"syntax error: {message}", None, None, line, column, line, column)


Prechecked = Tuple[ast.AST, "References"]  # CPython's tree of a text and what it names


def prechecked(text: str) -> Tuple[Optional[List[Finding]], Optional[SyntaxError], Optional[Prechecked]]:
    """CPython's syntax check and the walk of its tree (LibCST-free, torchlint/references.py):
    (findings when nothing more is to be done, CPython's syntax error when LibCST must judge, the
    tree and its references when CPython parsed it). All of TL001-TL003 are considered; callers
    keep the codes that are on."""
    early, python_error, tree = precheck(text, {SYNTAX_ERROR_CODE, TOO_COMPLEX_CODE})
    if early is not None or tree is None:
        return early, python_error, None
    return None, None, (tree, references(tree))
