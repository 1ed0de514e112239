"""IPython syntax in notebook cells and `ipython` blocks, masked by Python of the same length.

`%time`, `%%capture`, `!pip install`, `x = !ls`, `?obj` and `obj?` are not Python. Each is replaced
by valid Python of exactly the same length (a comment, `if 1:` before the statement a line magic
runs, `...` for the value of `x = !ls`), so the cell parses and every position in it stays where
it is. Masking is tried only when the code does not parse as it is.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Tuple

# Cell magics whose body is Python; any other cell magic (%%bash, %%writefile, ...) is not.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "mprun", "lprun"})
# Line magics whose argument is a Python statement: `%time y = model(x)`.
STATEMENT_LINE_MAGICS = frozenset({"time", "timeit", "prun", "memit", "debug"})
_ASSIGNED_MAGIC = re.compile(r"^(\s*[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*)([!%].*)$")
_HELP = re.compile(r"^(\?{1,2}[\w.*]+|[\w.*]+\?{1,2})$")  # ?obj, obj?, obj??
# IPython's automagic: line magics and shell commands written without `%` (`cd data`, `pip install x`).
_AUTOMAGIC = re.compile(
    r"^(cd|ls|pwd|pip|conda|mkdir|rmdir|cp|mv|rm|cat|wget|curl|unzip|tar|load_ext|reload_ext|matplotlib|"
    r"env|history|who|whos|reset|pinfo|alias|unalias|bookmark|dhist|pushd|popd|sx|sc|tensorboard)"
    r"(\s+[^=\s(][^=]*)?$")
_LINE_MAGIC = re.compile(r"^(\s*)%(\w+)(\s+)(?=[^\s-])")
FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)  # notebooks await at top level

Restores = Dict[int, Tuple[str, str]]  # code line index -> (masked prefix, original prefix)
Spans = List[Tuple[int, int]]  # (first, last) code lines (1-based) that a timing magic times
TIMING_MAGICS = frozenset({"time", "timeit"})


def syntax_error(code: str) -> Optional[SyntaxError]:
    try:
        compile(code, "<cell>", "exec", flags=FLAGS, dont_inherit=True)
    except SyntaxError as error:
        return error
    except (ValueError, RecursionError, MemoryError) as error:
        return SyntaxError(str(error))
    return None


def mask(code: str) -> Tuple[str, Restores]:
    """`code` with its IPython syntax masked, and the line prefixes to restore after a fix."""
    masked, restores, _ = mask_timed(code)
    return masked, restores


def mask_timed(code: str) -> Tuple[str, Restores, Spans]:
    """As `mask`, plus the spans of code that `%%time` / `%time` / `%timeit` time."""
    if syntax_error(code) is None:
        return code, {}, []
    lines = code.splitlines(keepends=True)
    first = lines[0].lstrip() if lines else ""
    timed: Spans = []
    cell_span = 0  # 1 when timed[0] is a %%time cell's body
    if first.startswith("%%"):
        name = re.match(r"%%(\w*)", first).group(1)  # type: ignore[union-attr]
        lines[0] = _comment(lines[0])
        if name not in PYTHON_CELL_MAGICS:  # %%bash, %%writefile: the whole cell is not Python
            return "".join(_comment(line) for line in lines), {}, []
        if name in TIMING_MAGICS and len(lines) > 1:
            timed.append((2, len(lines)))
            cell_span = 1
        start = 1
    else:
        start = 0
    with_statements, restores = list(lines), {}
    comments_only = list(lines)
    continued = False
    for index in range(start, len(lines)):
        line = lines[index]
        stripped = line.strip()
        if not stripped:
            continue
        assigned = _ASSIGNED_MAGIC.match(line.rstrip("\r\n"))
        if assigned:  # x = !ls, files = %sx ls
            value = assigned.group(2)
            placeholder = ("..." if len(value) >= 3 else "0").ljust(len(value))
            masked = assigned.group(1) + placeholder + line[len(line.rstrip("\r\n")):]
            with_statements[index] = comments_only[index] = masked
            continue
        if continued:  # the rest of a `!cmd \` or `%magic \` line
            comments_only[index] = with_statements[index] = _comment(line)
            continued = stripped.endswith("\\")
            continue
        if stripped[0] in "%!" or _HELP.match(stripped) or _AUTOMAGIC.match(stripped):
            comments_only[index] = with_statements[index] = _as_statement(line)
            continued = stripped.endswith("\\")
            magic = _LINE_MAGIC.match(line)
            if magic and magic.group(2) in STATEMENT_LINE_MAGICS:
                prefix = magic.group(0)
                indent = magic.group(1)
                body = prefix[len(indent):]
                if len(body) >= 6:  # "%time " -> "if 1: ": the statement is still linted
                    replacement = indent + "if 1:".ljust(len(body))
                    with_statements[index] = replacement + line[len(prefix):]
                    restores[index] = (replacement, prefix)
                    if magic.group(2) in TIMING_MAGICS:
                        timed.append((index + 1, index + 1))
    masked = "".join(with_statements)
    if restores and syntax_error(masked) is not None:
        return "".join(comments_only), {}, timed[:cell_span]  # line magics' statements are comments now
    return masked, restores, timed


def _as_statement(line: str) -> str:
    """A magic line as a Python statement of the same length (`...` and a comment), so a block
    holding only magics (`elif x:` then `%load_ext ...`) still has a body."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    stripped = body.lstrip()
    indent = body[: len(body) - len(stripped)]
    if len(stripped) >= 3:
        statement = "..." if len(stripped) == 3 else ("... #" + " " * len(stripped))[: len(stripped)]
    else:
        statement = "0".ljust(len(stripped))
    return indent + statement + ending


def _comment(line: str) -> str:
    """The line as a comment of the same length: its first visible character becomes '#'."""
    stripped = line.lstrip()
    if not stripped.strip():
        return line
    at = len(line) - len(stripped)
    return line[:at] + "#" + line[at + 1:]


def unmask_line(line: str, restores: Restores, near: int) -> str:
    """A line a fix changed: its masked prefix back to the magic it stood for."""
    restore = restores.get(near)
    if restore is not None and line.startswith(restore[0]):
        return restore[1] + line[len(restore[0]):]
    return line
