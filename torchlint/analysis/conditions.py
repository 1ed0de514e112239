"""Flags that keep their value for a run, and the branches they pick: `if self.gpu_mode:`.

Code often tests one flag in several places: `if self.gpu_mode: self.z = self.z.cuda()` in
`__init__`, then `if self.gpu_mode: ... else: samples.numpy()` in another method. A value
made under one branch of such a test never reaches code under the other branch of the same
test, when the flag cannot change in between. Questions that follow values back to where they
were made (the device of a tensor: analysis/devices.py) assume the branches their starting point
runs under, and drop the origins that those assumptions rule out.

A test is a flag when its value is fixed for the run, as the file shows it:
- `self.a` (or `self.a.b`), with `a` assigned once, in `__init__`, in a class whose methods
  both places belong to;
- `self.a` also needs no `x.a = ...` anywhere in the file outside the class's `self` (it may
  be this object, set from outside);
- `name` or `name.a.b`, with `name` bound once at module level, outside any loop (`args =
  parser.parse_args()`, `use_cuda = torch.cuda.is_available()`), no function declaring it
  `global`, both places seeing that binding, and no attribute of the chain assigned anywhere in
  the file (`args.cuda = args.cuda and ...` makes it no flag). A function's parameters and
  locals are no flags: they hold for one call, and what a call made under them (`self.cache =
  self.cache.cuda()`, a module moved in place) outlives it;
- `torch.cuda.is_available()`;
- `not` one of these (the other branch).
Any other test (a comparison, a call, a name bound twice) assumes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Set, Tuple

import libcst as cst

from torchlint.syntax import dotted_name

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.scopes import Scope, StatementInfo

# A flag, by identity: ("self", id(class scope), "a.b") / ("name", id(binding statement), "name.a") /
# ("call", "torch.cuda.is_available"), and the branch taken: True for the `if` body.
Flag = Tuple[object, ...]
Assumption = Tuple[Flag, bool]
NOTHING: FrozenSet[Assumption] = frozenset()
_AVAILABLE = "torch.cuda.is_available"


class Conditions:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._under: Dict[int, FrozenSet[Assumption]] = {}
        self._assigned: Optional[Set[str]] = None

    def under(self, where: "Where") -> FrozenSet[Assumption]:
        """The flags and branches a statement runs under (the `if` tests around it that are flags)."""
        info = where[1]
        known = self._under.get(id(info))
        if known is not None:
            return known
        found: List[Assumption] = []
        enclosing = {id(node): node for node in info.enclosing}
        for block, branch in info.blocks:
            node = enclosing.get(block)
            if isinstance(node, cst.If) and branch in ("body", "else"):
                found.extend(self._implied(node.test, branch == "body", (info.scope, info)))
        result = frozenset(found)
        self._under[id(info)] = result
        return result

    def excluded(self, assumed: FrozenSet[Assumption], where: "Where") -> bool:
        """A statement at `where` cannot run on a path where `assumed` holds: it sits under the
        other branch of one of those flags."""
        if not assumed:
            return False
        return any((flag, not branch) in assumed for flag, branch in self.under(where))

    def branch(self, test: cst.BaseExpression, assumed: FrozenSet[Assumption], where: "Where") -> Optional[bool]:
        """The value `assumed` gives the test of an `a if test else b`; None when it gives none."""
        if not assumed:
            return None
        flag = self.flag(test, where)
        if flag is None:
            return None
        for polarity in (True, False):
            if (flag[0], polarity) in assumed:
                return polarity == flag[1]
        return None

    def _implied(self, test: cst.BaseExpression, value: bool, where: "Where") -> List[Assumption]:
        """What a test having `value` says of flags: `a and b` true says both are, `a or b`
        false says neither is; other combinations say nothing."""
        if isinstance(test, cst.BooleanOperation) and not test.lpar:
            both = isinstance(test.operator, cst.And) if value else isinstance(test.operator, cst.Or)
            if not both:
                return []
            return self._implied(test.left, value, where) + self._implied(test.right, value, where)
        flag = self.flag(test, where)
        return [(flag[0], flag[1] == value)] if flag is not None else []

    # ------------------------------------------------------------------ what is a flag
    def flag(self, test: cst.BaseExpression, where: "Where") -> Optional[Tuple[Flag, bool]]:
        """(the flag a test reads, True when the test is the flag itself, False for `not flag`)."""
        polarity = True
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, polarity = test.expression, not polarity
        if test.lpar or test.rpar:
            test = test.with_changes(lpar=(), rpar=())
        if isinstance(test, cst.Call) and not test.args:
            if self.analysis.qualified_name(test.func, where) == _AVAILABLE:
                return ("call", _AVAILABLE), polarity
            return None
        dotted = dotted_name(test) if isinstance(test, (cst.Name, cst.Attribute)) else None
        if not dotted:
            return None
        root, _, rest = dotted.partition(".")
        if root == "self":
            found = self._self_flag(rest, where)
        else:
            found = self._name_flag(root, dotted, where)
        return (found, polarity) if found is not None else None

    def _self_flag(self, path: str, where: "Where") -> Optional[Flag]:
        scope = where[0]
        classdef = scope.parent if scope.kind == "function" and scope.parent is not None else None
        if classdef is None or classdef.kind != "class" or not path:
            return None
        first = path.split(".")[0]
        bindings = classdef.attributes.get(first, [])
        if len(bindings) != 1 or not _in_init(bindings[0].stmt.scope):
            return None  # (assigned once, in `__init__`; deeper parts of the chain never assigned)
        full = f"self.{path}"
        for written in self._attribute_writes():
            if written.startswith(f"self.{first}.") and _overlaps(written, full):
                return None  # a deeper part of the chain is assigned
            if not written.startswith("self.") and written.endswith(f".{first}"):
                return None  # set from outside (`sampler.gpu_mode = False`): maybe this object's
        return ("self", id(classdef), path)

    def _name_flag(self, root: str, dotted: str, where: "Where") -> Optional[Flag]:
        bindings = self.analysis.reaching(root, where)
        if len(bindings) != 1 or bindings[0].kind not in ("assign", "annassign", "import"):
            return None
        binding = bindings[0]
        if binding.stmt.scope.kind != "module" or binding.stmt.loops:
            # A function's name (a parameter, a local) holds for one call only, and state made
            # under it (`self.cache = ...cuda()`, a module moved in place) outlives the call; a
            # binding in a loop takes a new value each time round.
            return None
        if len(binding.stmt.scope.bindings.get(root, [])) != 1 or self._declared_global(root):
            return None  # rebound somewhere: its value may change between the places
        if any(_overlaps(w, dotted) for w in self._attribute_writes() if w.split(".")[0] == root):
            return None
        return ("name", id(binding.stmt), dotted)

    def _declared_global(self, name: str) -> bool:
        """Some function says `global name` (it may rebind the module's name)."""
        return any(name in scope.global_names for scope in self.analysis.index.scopes.values())

    def _attribute_writes(self) -> Set[str]:
        """The dotted targets of every attribute assignment in the file (`args.cuda = ...`)."""
        if self._assigned is None:
            found: Set[str] = set()
            for info in self.analysis.index.statements.values():
                node = info.node
                if not isinstance(node, cst.SimpleStatementLine):
                    continue
                for small in node.body:
                    targets: List[cst.BaseExpression] = []
                    if isinstance(small, cst.Assign):
                        targets = [t.target for t in small.targets]
                    elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                        targets = [small.target]
                    for target in targets:
                        for element in _targets(target):
                            if isinstance(element, cst.Attribute):
                                dotted = dotted_name(element)
                                if dotted:
                                    found.add(dotted)
            self._assigned = found
        return self._assigned


def _targets(target: cst.BaseExpression) -> List[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [t for element in target.elements for t in _targets(element.value)]
    return [target]


def _overlaps(written: str, read: str) -> bool:
    """Assigning `written` may change what `read` evaluates to (one is a prefix of the other)."""
    return written == read or read.startswith(written + ".") or written.startswith(read + ".")


def _in_init(scope: "Scope") -> bool:
    node = scope.node
    return isinstance(node, cst.FunctionDef) and node.name.value == "__init__"


__all__ = ["Assumption", "Conditions", "NOTHING"]
