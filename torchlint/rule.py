"""What a rule is: metadata, visitor methods, and the findings and fixes it reports.

A rule is one small class. The engine instantiates it once per file with a `Context`, calls its
`visit_<Node>` / `leave_<Node>` methods during the single shared traversal, then `finish()`.
The class docstring is the rule's documentation (rendered into rules/<CODE>.md and `explain`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Dict, FrozenSet, List, Optional, Sequence, Tuple, Type

if TYPE_CHECKING:  # pragma: no cover
    import libcst as cst

    from torchlint.analysis import ModuleAnalysis
    from torchlint.references import References
# LibCST is imported only where a rule runs: findings and metadata are read from the result cache
# without it (a run the cache answers never imports LibCST).

SAFE = "safe"
UNSAFE = "unsafe"
NO_FIX = "none"
SOMETIMES = "sometimes"  # safe in some spellings, unsafe in others; each finding says which


@dataclass(frozen=True)
class Edit:
    """Replace one node of the parsed module with another (matched by identity)."""

    old: cst.CSTNode
    new: cst.CSTNode


@dataclass(frozen=True)
class Fix:
    """A fix: its safety, what it does in words, and the node replacements."""

    applicability: str  # SAFE or UNSAFE
    message: str
    edits: Tuple[Edit, ...]


@dataclass
class Finding:
    """One problem a rule reports: where, what, and the fix it offers."""

    code: str
    message: str
    node: Optional[cst.CSTNode] = None
    fix: Optional[Fix] = None
    # Filled in by the engine once positions are known (1-based line, 1-based column).
    line: int = 1
    column: int = 1
    end_line: int = 1
    end_column: int = 1
    fix_edits_positions: List[Tuple[int, int, int, int, str]] = field(default_factory=list)
    cell: Optional[int] = None  # the notebook cell the position is in (rows count from the cell's first)


@dataclass(frozen=True)
class LintOptions:
    """Settings that change what rules report, beyond which rules run."""

    target_torch: Tuple[int, ...] = (1, 0)  # the oldest torch the checked code must run on
    target_torch_stated: bool = False  # False: no setting or requirement said so (assume current torch)
    target_torchvision: Optional[Tuple[int, ...]] = None  # the oldest torchvision, when stated
    # Line spans (first, last) of the module that an IPython `%%time` cell or `%time` / `%timeit`
    # line times with the wall clock (a notebook's cells; see torchlint.documents).
    magic_timed: Tuple[Tuple[int, int], ...] = ()


class Rule:
    """Base class of every rule. Subclasses set the metadata and define visitor methods."""

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    fix_safety: ClassVar[str] = NO_FIX
    # Evidence the rule needs to fire (torchlint/triggers.py): "name" an identifier of the code,
    # ".name" an attribute access, "import name" a name in an import statement. Empty: always run.
    triggers: ClassVar[Tuple[str, ...]] = ()
    # Qualified names (canonical) the rule fires only on: a file that may name none of them, by any
    # import (torchlint/references.py), is not parsed for it. Empty: `could_fire` decides.
    fires_on: ClassVar[FrozenSet[str]] = frozenset()
    level: ClassVar[str] = "warning"  # SARIF level: error, warning or note
    preview: ClassVar[bool] = False  # opt-in (`--preview`): below the precision bar on real code
    visits: ClassVar[bool] = True  # False for engine-level rules (TL001) that have no visitor
    # Torch versions the pitfall exists in: [first, last_exclusive); None means unbounded.
    torch_versions: ClassVar[Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]] = (None, None)

    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self.options = LintOptions()  # the engine sets the run's options after construction
        self.findings: List[Finding] = []

    @classmethod
    def could_fire(cls, references: "References") -> bool:
        """False when what the file names (torchlint/references.py: qualified names, call keywords,
        attributes, read before LibCST parses it) shows this rule cannot fire there: by default,
        when the file names none of `fires_on`. Rules that need more than a name override it; a
        file no rule can fire in is never parsed by LibCST."""
        return not cls.fires_on or not cls.fires_on.isdisjoint(references.names)

    @classmethod
    def reads_references(cls) -> bool:
        """Does this rule override `could_fire` or name `fires_on` (so the engine must read the
        file's references)?"""
        return bool(cls.fires_on) or cls.could_fire.__func__ is not Rule.could_fire.__func__  # type: ignore[attr-defined]

    @classmethod
    def applies_to(cls, target_torch: Tuple[int, ...]) -> bool:
        """False when every torch the code may run on (target and newer) is past the pitfall."""
        first, last = cls.torch_versions
        return last is None or target_torch < last

    def report(self, node: cst.CSTNode, message: Optional[str] = None, fix: Optional[Fix] = None) -> None:
        self.findings.append(Finding(self.code, message or self.summary, node, fix))

    def finish(self) -> None:
        """Called after the traversal; rules that need the whole module report here."""

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def handlers(cls) -> Dict[str, List[str]]:
        """Map 'visit_Call' style method names to node class names, computed once per class."""
        cached = cls.__dict__.get("_handler_cache")
        if cached is None:
            import libcst as cst

            cached = {"visit": [], "leave": []}
            for attr in dir(cls):
                for kind in ("visit", "leave"):
                    prefix = kind + "_"
                    if attr.startswith(prefix) and callable(getattr(cls, attr)):
                        node_name = attr[len(prefix):]
                        if not isinstance(getattr(cst, node_name, None), type):
                            raise TypeError(f"{cls.__name__}.{attr}: no LibCST node named {node_name}")
                        cached[kind].append(node_name)
            setattr(cls, "_handler_cache", cached)
        return cached


_REGISTRY: Dict[str, Type[Rule]] = {}


def register(cls: Type[Rule]) -> Type[Rule]:
    """Class decorator: add a rule to the catalogue (codes and names must be unique)."""
    if cls.code in _REGISTRY:
        raise ValueError(f"duplicate rule code {cls.code}")
    if any(other.name == cls.name for other in _REGISTRY.values()):
        raise ValueError(f"duplicate rule name {cls.name}")
    _REGISTRY[cls.code] = cls
    return cls


def all_rules() -> Sequence[Type[Rule]]:
    """Every registered rule, sorted by code. Importing the checks package registers them."""
    import torchlint.checks  # noqa: F401  (registration side effect)

    return [_REGISTRY[code] for code in sorted(_REGISTRY)]


def rule_by_code_or_name(key: str) -> Optional[Type[Rule]]:
    for rule in all_rules():
        if key.upper() == rule.code or key.lower() == rule.name:
            return rule
    return None
