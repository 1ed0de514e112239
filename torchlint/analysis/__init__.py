"""The shared analysis of one module, which every rule queries instead of walking the tree again.

`ModuleAnalysis` is built from one statement walk (`ScopeIndex`) and then rides along the engine's
single traversal, tracking the current scope and statement so that rules can ask, at any node,
"what does this name refer to here?" and "what kind of value is this expression?".
"""

from __future__ import annotations

import builtins
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Set, Tuple, Union

import libcst as cst

from torchlint.analysis.scopes import Binding, Scope, ScopeIndex, StatementInfo
from torchlint.analysis.torch_api import TORCH_NN_MODULE_CLASSES, canonical
from torchlint.syntax import target_names

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis.checkpoints import CheckpointFacts
    from torchlint.analysis.gradients import GradientFacts
    from torchlint.analysis.kinds import Kind, LossCall
    from torchlint.analysis.model_classes import ModelClasses
    from torchlint.analysis.modes import ModeFacts
    from torchlint.analysis.project import ImportContext
    from torchlint.analysis.summary import Symbol
    from torchlint.analysis.timing import TimingFacts

Where = Tuple[Scope, StatementInfo]

_STATEMENT_TYPES = (
    "SimpleStatementLine", "SimpleStatementSuite", "FunctionDef", "ClassDef", "For", "While", "If",
    "With", "Try", "TryStar", "Match",
)
_BUILTINS = frozenset(dir(builtins))
_SMALL_STATEMENT_TYPES = (
    "Assign", "AnnAssign", "AugAssign", "Expr", "Return", "Raise", "Assert", "Del", "Pass", "Break", "Continue",
    "Global", "Nonlocal", "Import", "ImportFrom", "TypeAlias",
)
_SHADOWING_TYPES = ("Lambda", "ListComp", "SetComp", "GeneratorExp", "DictComp")


class ModuleAnalysis:
    def __init__(self, module: cst.Module, context: Optional["ImportContext"] = None) -> None:
        self.module = module
        self.context = context  # the project around this file; None: the file alone
        self.index = ScopeIndex(module, context.absolute if context is not None else None)
        root = self.index.module_scope
        self._scopes: List[Scope] = [root]
        self._statements: List[StatementInfo] = [StatementInfo(0, (), root, ())]
        self._shadowed: List[Set[str]] = []
        self._qualified: Dict[Tuple[int, int, int], Tuple[cst.CSTNode, Optional[str]]] = {}
        self._grad: Dict[int, Tuple[StatementInfo, Optional[bool]]] = {}
        self._by_scope: Optional[Dict[int, List[StatementInfo]]] = None
        from torchlint.analysis.devices import DeviceFacts  # local: they import this module's types
        from torchlint.analysis.tensors import TensorFacts
        from torchlint.analysis.values import ValueFacts

        from torchlint.analysis.kinds import Kinds

        self.values = ValueFacts(self)
        self.tensors = TensorFacts(self)
        self.devices = DeviceFacts(self)
        self.kinds = Kinds(self)

    def release(self) -> None:
        """The lint of this module is done: break the reference cycles among its facts (each
        fact object names the analysis, a binding's statement names its scope), so the analysis
        and the syntax tree it holds are freed at once by reference counting. Left to the cyclic
        collector, they would be walked by its passes first: 5% of a pytorch/examples run. Every
        question after this fails."""
        self.index.release()
        self.__dict__.clear()

    # ------------------------------------------------------------------ traversal tracking
    def traversal_handlers(self):
        """(visit, leave) handler maps by node class name, run before the rules' handlers."""
        visit, leave = {}, {}
        for name in _STATEMENT_TYPES:
            visit[name] = self._enter_statement
            leave[name] = self._leave_statement
        for name in _SMALL_STATEMENT_TYPES:
            visit[name] = self._enter_small_statement
            leave[name] = self._leave_small_statement
        for name in _SHADOWING_TYPES:
            visit[name] = self._enter_shadow
            leave[name] = self._leave_shadow
        return visit, leave

    def _enter_statement(self, node: cst.CSTNode) -> None:
        info = self.index.statements.get(id(node))
        if info is not None:
            self._statements.append(info)
        scope = self.index.scopes.get(id(node))
        if scope is not None:
            self._scopes.append(scope)

    def _leave_statement(self, node: cst.CSTNode) -> None:
        if id(node) in self.index.scopes:
            self._scopes.pop()
        if id(node) in self.index.statements:
            self._statements.pop()

    def _enter_small_statement(self, node: cst.CSTNode) -> None:
        """`a = f(); b = a`: the later statements of a line come after the earlier ones."""
        info = self.index.small_statements.get(id(node))
        if info is not None:
            self._statements.append(info)

    def _leave_small_statement(self, node: cst.CSTNode) -> None:
        if id(node) in self.index.small_statements:
            self._statements.pop()

    def _enter_shadow(self, node: cst.CSTNode) -> None:
        names: Set[str] = set()
        if isinstance(node, cst.Lambda):
            params = node.params
            for group in (params.posonly_params, params.params, params.kwonly_params):
                names.update(p.name.value for p in group)
            for extra in (params.star_arg, params.star_kwarg):
                if isinstance(extra, cst.Param):
                    names.add(extra.name.value)
        else:
            comp = node.for_in  # type: ignore[attr-defined]
            while comp is not None:
                names.update(target_names(comp.target))
                comp = comp.inner_for_in
        self._shadowed.append(names)

    def _leave_shadow(self, node: cst.CSTNode) -> None:
        self._shadowed.pop()

    def where(self) -> Where:
        """The scope and statement the traversal is at now."""
        return self._scopes[-1], self._statements[-1]

    @property
    def function(self) -> Optional[cst.FunctionDef]:
        """The innermost function being traversed, if any."""
        for scope in reversed(self._scopes):
            if scope.kind == "function":
                return scope.node  # type: ignore[return-value]
        return None

    # ------------------------------------------------------------------ names
    def reaching(self, name: str, where: Optional[Where] = None) -> List[Binding]:
        """The bindings of `name` that may be the one in force at `where` (empty: unknown)."""
        if where is None:
            if any(name in shadow for shadow in self._shadowed):
                return []
            where = self.where()
        scope, stmt = where
        if scope.kind == "class" and scope is not stmt.scope:
            scope = stmt.scope
        if name in scope.global_names:
            return list(self.index.module_scope.bindings.get(name, []))
        current: Optional[Scope] = scope
        while current is not None:
            bindings = current.bindings.get(name)
            if bindings:
                if stmt.scope is current:
                    return _flow_reaching(bindings, stmt)
                return list(bindings)
            current = current.enclosing_for_lookup() if current.kind != "class" else current.parent
        return []

    def qualified_name(self, node: cst.CSTNode, where: Optional[Where] = None) -> Optional[str]:
        """`nn.functional.softmax` -> `torch.nn.functional.softmax`, through every import form.
        Answers are kept per node and place (every rule asks it of every call)."""
        if where is None and self.shadowing():
            dotted = _qualify(self, node, where)  # lambda / comprehension variables in force
            return canonical(dotted) if dotted else None
        place = where or self.where()
        key = (id(node), id(place[0]), id(place[1]))
        known = self._qualified.get(key)
        if known is not None and known[0] is node:  # the node is held, so its id is not reused
            return known[1]
        dotted = _qualify(self, node, place)
        result = canonical(dotted) if dotted else None
        self._qualified[key] = (node, result)
        return result

    def shadowing(self) -> bool:
        """Lambda or comprehension variables are in force where the traversal is (answers asked
        without a place then hold there only, and are not kept)."""
        return bool(self._shadowed)

    def refers_to(self, node: cst.CSTNode, names: Union[str, FrozenSet[str]], where: Optional[Where] = None) -> bool:
        """`node` names `names` (a qualified name, or any of a set), as `qualified_name` gives it.
        The same answer, cheaper for most nodes: an attribute whose name is not the last part of
        one of `names` names none of them (qualified names end in the attribute, and canonical
        names keep it), so no import is resolved for `x.cuda` when asking about `torch.save`."""
        if type(node) is cst.Attribute and node.attr.value not in _last_parts(names):  # type: ignore[attr-defined]
            return False
        qualified = self.qualified_name(node, where)
        return qualified == names if isinstance(names, str) else qualified in names

    def import_targets(self, name: str) -> Optional[FrozenSet[str]]:
        """Every qualified name (canonical) an import anywhere in the file binds `name` to; None
        when a star import may bind it too. `qualified_name` of a `Name` node is one of these or
        None, so a name with none of the qualified names a rule asks about needs no resolving."""
        if self.index.module_scope.star_imports:
            return None
        return self._import_targets.get(name, frozenset())

    @cached_property
    def _import_targets(self) -> Dict[str, FrozenSet[str]]:
        """Local name -> the canonical names imports bind it to, over every scope."""
        found: Dict[str, Set[str]] = {}
        for scope in self.index.scopes.values():
            for name, bindings in scope.bindings.items():
                for binding in bindings:
                    if binding.kind == "import" and binding.qualified:
                        found.setdefault(name, set()).add(canonical(binding.qualified))
        return {name: frozenset(targets) for name, targets in found.items()}

    def kind(self, expr: cst.BaseExpression, where: Optional[Where] = None) -> "Kind":
        """What kind of value `expr` is (Module, Tensor, Optimizer, Loss or Unknown), with the evidence."""
        return self.kinds.kind(expr, where)

    def loss_call(self, call: cst.Call, where: Optional[Where] = None) -> Optional["LossCall"]:
        """The loss a call computes, with its input and target arguments; None for other calls."""
        return self.kinds.loss_call(call, where)

    def symbol(self, node: cst.CSTNode, where: Optional[Where] = None) -> Optional["Symbol"]:
        """The project class, function or module instance a name refers to (`from models import
        Net`), from that module's summary; None outside a project or for anything else."""
        qualified = self.qualified_name(node, where)
        return self.lookup(qualified) if qualified else None

    def lookup(self, qualified: str) -> Optional["Symbol"]:
        """The project symbol of a qualified name (`models.Net`), or None."""
        return self.context.lookup(qualified) if self.context is not None else None

    @cached_property
    def model_classes(self) -> "ModelClasses":
        """Facts about the nn.Module classes of this file (which layers depend on train/eval)."""
        from torchlint.analysis.model_classes import ModelClasses

        return ModelClasses(self)

    @cached_property
    def modes(self) -> "ModeFacts":
        """Train/eval modes of modules and where evaluations happen (analysis/modes.py)."""
        from torchlint.analysis.modes import ModeFacts

        return ModeFacts(self)

    @cached_property
    def timing(self) -> "TimingFacts":
        """Evaluation order of CUDA work, GPU waits and wall-clock intervals (analysis/timing.py)."""
        from torchlint.analysis.timing import TimingFacts

        return TimingFacts(self)

    @cached_property
    def gradients(self) -> "GradientFacts":
        """Which calls backpropagate, step an optimizer, or clear gradients (analysis/gradients.py)."""
        from torchlint.analysis.gradients import GradientFacts

        return GradientFacts(self)

    @cached_property
    def checkpoints(self) -> "CheckpointFacts":
        """What the file saves and loads, and what `weights_only=True` would refuse (analysis/checkpoints.py)."""
        from torchlint.analysis.checkpoints import CheckpointFacts

        return CheckpointFacts(self)

    def grad_enabled(self, where: Optional[Where] = None) -> Optional[bool]:
        """False where autograd surely does not record (no_grad, inference_mode, ...)."""
        from torchlint.analysis.grad_mode import asking_callers, grad_enabled_at

        where = where or self.where()
        known = self._grad.get(id(where[1]))  # the answer depends on the statement only
        if known is not None and known[0] is where[1]:
            return known[1]
        answer = grad_enabled_at(self, where)
        if not asking_callers():  # an answer cut short by a recursion guard is not kept
            self._grad[id(where[1])] = (where[1], answer)
        return answer

    def simple_statements(self, scope: Scope) -> List[StatementInfo]:
        """The simple statement lines directly in `scope`, in source order (nested functions
        and classes are scopes of their own)."""
        if self._by_scope is None:
            self._by_scope = {}
            for info in sorted(self.index.statements.values(), key=lambda i: i.seq):
                if isinstance(info.node, cst.SimpleStatementLine):
                    self._by_scope.setdefault(id(info.scope), []).append(info)
        return self._by_scope.get(id(scope), [])

    def binding_where(self, binding: Binding) -> Where:
        return binding.stmt.scope, binding.stmt


@lru_cache(maxsize=256)
def _last_parts(names: Union[str, FrozenSet[str]]) -> FrozenSet[str]:
    return frozenset(name.rpartition(".")[2] for name in ((names,) if isinstance(names, str) else names))


def _qualify(analysis: ModuleAnalysis, node: cst.CSTNode, where: Optional[Where]) -> Optional[str]:
    if isinstance(node, cst.Name):
        if node.value not in analysis._import_targets and not analysis.index.module_scope.star_imports:
            return None  # no import anywhere binds it (most names): none of its bindings is one
        bindings = analysis.reaching(node.value, where)
        qualified = {b.qualified for b in bindings if b.kind == "import"}
        if len(qualified) == 1 and all(b.kind == "import" for b in bindings):
            return qualified.pop()
        if not bindings:
            return _star_imported(analysis, node.value, where)
        return None
    if isinstance(node, cst.Attribute):
        base = _qualify(analysis, node.value, where)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _star_imported(analysis: ModuleAnalysis, name: str, where: Optional[Where]) -> Optional[str]:
    """`from models import *` then `Net()`: the star-imported module that defines `Net`, when
    no scope binds the name (and it is not a lambda or comprehension variable)."""
    stars = analysis.index.module_scope.star_imports
    if not stars or name in _BUILTINS or (where is None and any(name in shadow for shadow in analysis._shadowed)):
        return None
    scope: Optional[Scope] = (where or analysis.where())[0]
    while scope is not None:
        if name in scope.bindings:
            return None
        scope = scope.parent
    for star in stars:
        if star == "torch.nn" and name in TORCH_NN_MODULE_CLASSES:
            return f"torch.nn.{name}"
        if analysis.context is not None and analysis.context.lookup(f"{star}.{name}") is not None:
            return f"{star}.{name}"
    return None


def _flow_reaching(bindings: List[Binding], stmt: StatementInfo) -> List[Binding]:
    """Bindings before `stmt` back to the first that dominates it, plus loop back edges that the
    dominating binding does not cut off (it does when it sits in the same loop body: every
    iteration rebinds the name before reaching `stmt`)."""
    result: List[Binding] = []
    dominating: Optional[Binding] = None
    seq, blocks = stmt.seq, stmt.blocks
    for binding in reversed(bindings):
        bound = binding.stmt
        if bound.seq < seq or (bound.seq == seq and binding.kind == "param"):
            result.append(binding)
            if blocks[: len(bound.blocks)] == bound.blocks:
                dominating = binding
                break
    if stmt.loops:  # (outside every loop, no binding after `stmt` reaches it)
        for binding in bindings:
            if binding.stmt.seq >= seq:
                loops = [loop for loop in stmt.loops if binding.stmt.seq in loop]
                if loops and not (dominating and dominating.stmt.seq in loops[-1]):
                    result.append(binding)
    return result


