"""Markdown (and Quarto) files: the Python fences, in order, are one module.

Fences are found as a CommonMark parser (markdown-it-py) finds them, so fences in lists and block
quotes, tilde fences and longer fences are found where a renderer finds them, and nothing that
only looks like a fence is. Most files need no parser: a text without a fence that may be Python
is not read further, and one whose fences all open their lines is read by `_plain_fences`.

A fence counts when its info string names Python (`python`, `py`, `python3`, `ipython`, `pycon`,
Quarto's `{python}`, and the misspellings met in real notes); untagged fences and other
languages do not. A block that does not parse as Python (prose or
pseudo-code in a `python` fence is common) is skipped, not reported.
"""

from __future__ import annotations

import functools
import re
from typing import Dict, List, Optional, Tuple

from torchlint.documents import MARKDOWN, Document, Unit
from torchlint.documents.magics import mask_timed, syntax_error

PYTHON_TAGS = frozenset({
    "python", "py", "python3", "py3", "ipython", "ipython3", "pycon", "python-repl",
    "pyhton", "pyrhon", "pytho", "pyton", "pthon",  # misspellings found in the user's notes and elsewhere
})
CONSOLE_TAGS = frozenset({"pycon", "python-repl"})
_PROMPT = re.compile(r"^(>>> ?|\.\.\. ?)")


# Any fence marker followed, on its line, by a Python tag's start, anywhere in a line: every
# opening fence that counts matches (what precedes the marker, list items and quotes, is not
# looked at), so a text without a match has no Python fence, which spares the parser (and its
# import) most READMEs. (An untagged fence whose next line starts with `python ...`, a shell
# command, is no match: the info string ends with its line.)
_MAYBE_PYTHON_FENCE = re.compile(
    r"(?:`{3,}|~{3,})[^\S\r\n]*\{*\.*(?:" + "|".join(sorted(map(re.escape, PYTHON_TAGS), key=len)) + ")",
    re.IGNORECASE)
# For `_plain_fences`: a line that may start an HTML block, any line with a fence marker in it,
# a fence line at the margin (marker, rest), and a closing one.
_HTML_START = re.compile(r"^ {0,3}<", re.MULTILINE)
_OTHER_LINE_ENDS = re.compile("[\r\0\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # (what str.splitlines splits on, but markdown-it does not)
_MARKER = re.compile(r"`{3}|~{3}")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
_CLOSING = re.compile(r"(`{3,}|~{3,})[ \t]*")


@functools.lru_cache(maxsize=1)
def _parser():
    """One CommonMark parser per process (making one costs as much as parsing a README)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def fence_language(info: str) -> str:
    """The language an info string names: "python", "{python}", "{.python}", "python title=x"."""
    word = info.strip().split(None, 1)[0] if info.strip() else ""
    return word.strip("{}").lstrip(".").split(",")[0].lower()


class MarkdownDocument(Document):
    kind = MARKDOWN

    def __init__(self, text: str, units: List[Unit], spans: List[range]) -> None:
        self.text = text
        self.units = units
        self._spans = spans  # unit index -> the document lines (0-based) of its code

    @classmethod
    def parse(cls, text: str) -> "MarkdownDocument":
        units: List[Unit] = []
        spans: List[range] = []
        if not _MAYBE_PYTHON_FENCE.search(text):  # most notes and READMEs: no need for the parser
            return cls(text, units, spans)
        lines = text.splitlines()
        fences = _plain_fences(text, lines)
        for opening, info, content in _parsed_fences(text) if fences is None else fences:
            language = fence_language(info)
            if language not in PYTHON_TAGS:
                continue
            start = opening + 1  # the first content line, 0-based
            span = range(start, min(start + len(content), len(lines)))
            unit = _unit(lines, content, span, language, fence_prefix(lines[opening]))
            units.append(unit)
            spans.append(span)
        return cls(text, units, spans)

    def rewrite(self, new_codes: Dict[int, str]) -> str:
        lines = self.text.splitlines(keepends=True)
        default_end = _line_end(lines[0]) if lines else "\n"
        for unit_index in sorted(new_codes, reverse=True):  # from the end: earlier spans stay valid
            span = self._spans[unit_index]
            old = lines[span.start:span.stop]
            ends = [_line_end(line) for line in old] or [default_end]
            new = self.units[unit_index].rewritten(new_codes[unit_index])
            by_text = {line.rstrip("\r\n"): _line_end(line) for line in old}
            lines[span.start:span.stop] = [line + by_text.get(line, ends[0] or default_end) for line in new]
        return "".join(lines)


Fence = Tuple[int, str, List[str]]  # (the opening line, 0-based; its info string; the content lines)


def _parsed_fences(text: str) -> List[Fence]:
    """The fenced code blocks CommonMark finds, in order."""
    return [(token.map[0], token.info, token.content.splitlines()) for token in _parser().parse(text)
            if token.type == "fence" and token.map is not None]


def _plain_fences(text: str, lines: List[str]) -> Optional[List[Fence]]:
    """The fences of a text whose every fence marker opens its line, read without the parser
    (its import alone is 23 ms, a seventh of a one-file check); None for any other text.

    Where every line holding a marker starts with it, every fence is at the top level: a line at
    the margin can be inside no list item, block quote or indented code block, and an opening
    fence interrupts a paragraph, a list and a quote. Only an HTML block could hold one, so a
    text with a line that may start an HTML block (`<` after up to three spaces) is left to the
    parser, as are texts with a line end other than "\n" (the parser normalises "\r", and Python
    splits lines where the parser does not), backtick fences with a backtick in their info string
    (inline code, not fences), and fences never closed (the parser's handling of a blank last
    line). What is left is CommonMark's rule: the block runs to a line of the same marker, at
    least as long, with nothing but spaces or tabs after it. A test compares this with the parser
    on generated texts."""
    if _OTHER_LINE_ENDS.search(text) or _HTML_START.search(text):
        return None
    fences: List[Fence] = []
    index, count = 0, len(lines)
    while index < count:
        line = lines[index]
        index += 1
        if _MARKER.search(line) is None:
            continue
        opening = _FENCE.fullmatch(line)
        if opening is None:
            return None  # a marker inside a line: lists, quotes, indented or inline code
        marker, info = opening.groups()
        if marker[0] == "`" and "`" in info:
            return None
        start = index
        while index < count:
            line = lines[index]
            index += 1
            if _MARKER.search(line) is None:
                continue
            if _FENCE.fullmatch(line) is None:
                return None
            closing = _CLOSING.fullmatch(line)
            if closing is not None and closing.group(1)[0] == marker[0] and len(closing.group(1)) >= len(marker):
                fences.append((start - 1, info, lines[start:index - 1]))
                break
        else:
            return None  # never closed
    return fences


def fence_prefix(opening: str) -> str:
    """What precedes the fence's backticks or tildes: list indentation, `> ` of a quote."""
    match = re.match(r"^(.*?)(`{3,}|~{3,})", opening)
    return match.group(1) if match else ""


def _line_end(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _unit(lines: List[str], content: List[str], span: range, language: str, prefix: str) -> Unit:
    label = f"block at line {span.start}"  # the opening fence's line, 1-based
    originals = [lines[i] for i in span]
    code_lines: List[str] = []
    columns: List[int] = []
    console = language in CONSOLE_TAGS or any(line.startswith(">>>") for line in content[:1])
    for document_line, line in zip(originals, content):
        offset = len(document_line) - len(line)
        if line and not document_line.endswith(line):  # tabs expanded by the parser: no safe map
            return Unit(label, "", originals, [], span.start + 1, skipped="its indentation uses tabs")
        if console:
            prompt = _PROMPT.match(line)
            if prompt is None:  # the interpreter's output
                code_lines.append("")
                columns.append(0)
                continue
            offset += prompt.end()
            line = line[prompt.end():]
        code_lines.append(line)
        columns.append(max(offset, 0))
    code = "\n".join(code_lines) + "\n" if code_lines else ""
    code, restores, timed = (mask_timed(code) if language.startswith("ipython") or "%" in code or "!" in code
                             else (code, {}, []))
    unit = Unit(label, code, originals, columns, span.start + 1, timed=timed,
                render=lambda line, near: _render(line, near, prefix, console, restores))
    error = syntax_error(code) if code.strip() else None
    if error is not None:
        where = f" (line {span.start + (error.lineno or 1)})" if error.lineno else ""
        unit.skipped = f"not Python: {str(error.msg or 'syntax error').splitlines()[0]}{where}"
    elif not code.strip():
        unit.skipped = "empty"
    return unit


def _render(line: str, near: int, prefix: str, console: bool, restores) -> str:
    from torchlint.documents.magics import unmask_line

    line = unmask_line(line, restores, near)
    if console:
        line = ("... " if line[:1].isspace() else ">>> ") + line
    return (prefix + line) if line else prefix.rstrip()
