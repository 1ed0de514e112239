"""Which rules a file can need, read from the names in its code without parsing it.

A rule's `triggers` are evidence it needs to fire, not substrings: `"save"` is the identifier
`save` in code (a name, an attribute, an imported name, a keyword), `".numpy"` is an attribute
access `x.numpy` (also `x . numpy`, or across a continuation line), `"import torch"` is `torch` in
an import statement (`import torch.nn as nn`, `from torch import nn`, `import os, torch`). Comments and string literals
are blanked first, by one compiled regular expression, so a word in a docstring admits nothing;
f-strings and t-strings are kept whole, since their replacement fields are code. The blanking
errs only towards keeping text: a file it misreads is parsed, never skipped for a rule that
could fire in it. A file where no enabled rule has its evidence is never parsed by LibCST.

The regular expression is the fallback: when CPython's parser accepts the file (nearly always), the
evidence comes from its tree instead (torchlint/references.py), exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Iterable, Sequence

# One alternation, tried left to right at each position, so a `#` inside a string never starts a
# comment and a quote inside a comment never starts a string. Group `keep` is a string whose
# prefix has an f or t (`f"..."`, `rf'...'`, `t"..."`): its text stays. `if"x"` is taken for an
# f-string too, which keeps a plain string: harmless.
_F = r"(?:(?<=[fFtT])|(?<=[fFtT][rRbB]))"
_QUOTED = (r"'''(?:[^'\\]|\\.|'(?!''))*'''"
           r'|"""(?:[^"\\]|\\.|"(?!""))*"""'
           r"|'(?:[^'\\\r\n]|\\.)*'"
           r'|"(?:[^"\\\r\n]|\\.)*"')
# The leading look-ahead lets the regex engine skip to the next quote or `#` (twice as fast).
_NOISE = re.compile(rf"(?=['\"#])(?:(?P<keep>{_F}(?:{_QUOTED}))|(?:{_QUOTED})|#[^\r\n]*)", re.DOTALL)
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_ATTRIBUTE = re.compile(r"\.[\s\\]*([^\W\d]\w*)")
# An import statement, at the start of a line or after `;` / `:` (`try: import torch`), with its
# parenthesised names or its continuation lines.
_IMPORT = re.compile(r"(?:^|[;:])[ \t]*(?:from[ \t][^\n;]*?\bimport\b|import\b)[ \t]*(?:\([^)]*\)|(?:[^\n;\\]|\\.)*)",
                     re.MULTILINE | re.DOTALL)
_IMPORT_PREFIX = "import "


@dataclass(frozen=True)
class Evidence:
    """The identifiers of a file's code, those of them that follow a dot, and those in imports."""

    names: FrozenSet[str]
    attributes: FrozenSet[str]
    imports: FrozenSet[str]

    def admits(self, triggers: Iterable[str]) -> bool:
        """True when any trigger is present: `name` among the names, `.name` among the attributes,
        `import name` among the identifiers of import statements."""
        for trigger in triggers:
            if trigger[:1] == ".":
                if trigger[1:] in self.attributes:
                    return True
            elif trigger.startswith(_IMPORT_PREFIX):
                if trigger[len(_IMPORT_PREFIX):] in self.imports:
                    return True
            elif trigger in self.names:
                return True
        return False


def code_only(text: str) -> str:
    """`text` with comments and plain string literals removed (f-strings and t-strings kept)."""
    return _NOISE.sub(r"\g<keep>", text)


def evidence(text: str) -> Evidence:
    code = code_only(text)
    imports = frozenset(name for statement in _IMPORT.findall(code) for name in _IDENTIFIER.findall(statement))
    return Evidence(frozenset(_IDENTIFIER.findall(code)), frozenset(_ATTRIBUTE.findall(code)), imports)


def triggered(rules: Sequence, text: str, extra: Iterable[str] = ()) -> list:
    """The rules of `rules` that visit and whose evidence `text` has (a rule with no triggers
    always runs). `extra` adds names that are evidence without being in the code (`%time`)."""
    return admitted(rules, evidence(text), extra)


def admitted(rules: Sequence, found: Evidence, extra: Iterable[str] = ()) -> list:
    """The rules of `rules` that visit and whose triggers `found` has (from the text, or exactly
    from CPython's tree: torchlint/references.py)."""
    if extra:
        found = Evidence(found.names | frozenset(extra), found.attributes, found.imports)
    return [r for r in rules if r.visits and (not r.triggers or found.admits(r.triggers))]
