"""Train/eval mode of modules, statement by statement, and where an evaluation happens.

Queries (rules never read the scope index themselves):
- `mode_at(expr, where)`: the mode (`Mode.EVAL` / `Mode.TRAIN` / `Mode.UNKNOWN`) the module `expr`
  is in when the statement at `where` runs, with the evidence: what last set it (`.eval()`,
  `.train()`, a helper of this file that switches it, a fresh construction, `.apply(fn)`, a
  `.training` test around the statement) on every way of reaching the statement: from the start
  of the scope, and from the previous iteration of each enclosing loop. The start of a function
  takes the modes at its call sites in this file; `self.x` in a method takes the class's own
  history. Anything this file cannot see (a helper of another module given the model, a loaded or
  exported model, `self(...)` in a class that may be an `nn.Module`) is UNKNOWN.
- `evaluation(call, where)`: does this model call evaluate, and why: gradients are off there and
  its output is used for its values (returned, compared, given to a loss or metric, collected),
  outside a training step. A shape check (`y.size()`), a print or an assert is not an evaluation.
- `call_site_arguments(expr, where)`: what a parameter receives at the call sites of this file.
- `eval_insertion(expr, where)`: where `model.eval()` may go so the call runs in evaluation mode,
  and whether that changes anything else (the fix's safety).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from torchlint.analysis.grad_mode import grad_mode
from torchlint.analysis.scopes import Binding, LoopRange, Scope, StatementInfo
from torchlint.analysis.summary import CLASS
from torchlint.analysis.libraries import builds_eval_mode_module
from torchlint.analysis.torch_api import MODULE_RETURNING_METHODS, is_module_factory
from torchlint.analysis.uses import ValueUses
from torchlint.tree import child_nodes as _children
from torchlint.syntax import dotted_name, statement_expressions

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where


class Mode(Enum):
    EVAL = "eval"
    TRAIN = "train"
    UNKNOWN = "unknown"


class _Set(Enum):
    """What an event leaves the mode in; ENTRY: as the scope was entered; FIXED: a planned `.eval()`."""

    EVAL = "eval"
    TRAIN = "train"
    UNKNOWN = "unknown"
    ENTRY = "entry"
    FIXED = "fixed"


@dataclass(frozen=True)
class ModeAnswer:
    """A module's train/eval mode at a statement, with the events that decide it."""

    mode: Mode
    evidence: Tuple[str, ...] = ()
    # TRAIN set by an explicit `.train()` in a scope that never trains: MC dropout, BN recalibration.
    deliberate: bool = False
    # TRAIN because it was just built here, and nothing since loaded weights into it or trained it.
    untrained: bool = False


@dataclass(frozen=True)
class Evaluation:
    """Why a model call is an evaluation."""

    context: str  # how gradients are off
    use: str  # what is done with the output


@dataclass(frozen=True)
class Insertion:
    """Put `<model>.eval()` before `statement` (or as the first statement of the function when
    `at_start`); `restore`: also `<model>.train()` after it; `safe`: nothing else changes mode."""

    statement: cst.CSTNode
    at_start: bool
    restore: bool
    safe: bool


@dataclass(frozen=True)
class _Event:
    """A mode change (or a `.training` test) at a place in a scope's statement order."""

    seq: float
    blocks: tuple
    mode: _Set
    evidence: str
    assume: bool = False  # a `.training` test: holds inside its branch only
    explicit: bool = False  # `.train()` / `.eval()` written on the model in this scope
    built: bool = False  # a new module bound here


_ENTRY = _Event(-math.inf, (), _Set.ENTRY, "")
_BUILT = "built by"
# Module methods that leave the weights as they are (anything else, `load_state_dict` included, may not).
_KEEPS_WEIGHTS = frozenset(
    "to cuda cpu float half double bfloat16 eval train parameters named_parameters modules named_modules "
    "children named_children buffers named_buffers state_dict forward requires_grad_ zero_grad".split())
_MAX_DEPTH = 4
# Builtins and stdlib calls that take a module and never switch its mode.
_NEUTRAL_BUILTINS = frozenset("print len isinstance type id str repr hash hasattr getattr callable vars dir".split())
_NEUTRAL_QUALIFIED = ("torch.", "copy.", "pickle.", "logging.")
_COMPOUND_TARGETS = (cst.With, cst.For, cst.While, cst.Try)  # hoisting above these keeps the meaning
_EXITS = (cst.Return, cst.Raise, cst.Break, cst.Continue, cst.Yield)
_FROZEN_PREFIXES = ("torch.jit.", "torch.onnx.", "torch.export.", "torch.load", "onnxruntime.", "caffe2.",
                    "tensorrt.", "torch._C.", "torch.fx.")


class ModeFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._collected = False
        self._setters: Dict[int, List[Tuple[str, _Set, StatementInfo, str]]] = {}
        self._args: Dict[int, List[Tuple[cst.Call, "Where"]]] = {}  # calls with a dotted argument
        self._applies: Dict[int, List[Tuple[str, cst.Call, StatementInfo]]] = {}
        self._self_calls: Dict[int, List[Tuple[cst.Call, "Where"]]] = {}  # `self.m(...)` per scope
        self._training: Dict[int, List[StatementInfo]] = {}
        self._checks: Dict[int, List[Tuple[str, bool, StatementInfo, tuple]]] = {}  # `.training` tests
        self._callers: Dict[int, List[Tuple[cst.Call, "Where"]]] = {}  # call sites of local functions
        self._loop_ids: Set[int] = set()
        self._visiting: Set[Tuple[int, str]] = set()
        self._binding_modes: Dict[int, Tuple[_Set, str]] = {}
        self._effects: Dict[Tuple[int, str], Optional[_Set]] = {}
        self._uses = ValueUses(analysis)
        self._methods: Dict[int, List[Tuple[str, str]]] = {}  # (receiver, method) per scope

    # ------------------------------------------------------------------ queries
    def mode_at(self, expr: cst.BaseExpression, where: "Where") -> ModeAnswer:
        """The mode the module `expr` is in when the statement at `where` runs."""
        key = dotted(expr)
        if key is None:
            return ModeAnswer(Mode.UNKNOWN, ("not a name",))
        self._collect()
        return self._mode(key, where, 0)

    def evaluation(self, call: cst.Call, where: "Where") -> Optional[Evaluation]:
        """Why the call evaluates a model, or None when it does not (or may not)."""
        if self.analysis.grad_enabled(where) is not False:
            return None
        self._collect()
        scope, stmt = where
        if self._in_training_step(scope, stmt):
            return None
        use = self._uses.use(call, where)
        if use is None:
            return None
        return Evaluation("gradients are off (`no_grad` does not switch modes)", use)

    def call_site_arguments(self, expr: cst.BaseExpression, where: "Where") -> List[Tuple[cst.BaseExpression, "Where"]]:
        """A parameter of a function: what its call sites in this file pass (empty: none known,
        or some call site passes it in a way that cannot be read)."""
        self._collect()
        key = dotted(expr)
        scope = where[0]
        if key is None or "." in key or scope.kind != "function":
            return []
        sites = self._arguments(scope, key)
        return sites or []

    def eval_insertion(self, expr: cst.BaseExpression, where: "Where") -> Optional[Insertion]:
        """Where `expr.eval()` may go so that the call at `where` runs in evaluation mode."""
        key = dotted(expr)
        if key is None:
            return None
        self._collect()
        scope, stmt = where
        root = key.split(".")[0]
        events = self._events(scope, key)
        training = self._training_for(scope, key)
        may_train = training + self._unknown_helpers(scope, key)
        for target, info, at_start in self._insertion_points(scope, stmt, root, training):
            fixed = sorted(events + [_Event(info.seq - 0.5, info.blocks, _Set.FIXED, "")], key=_seq)
            if self._surely_train(fixed, stmt, key, 0):
                continue
            if not self._leaks(fixed, may_train) and not self._escapes(root, scope):
                return Insertion(target, at_start, restore=False, safe=True)
            # Restoring `.train()` keeps the code's meaning only where this scope itself surely
            # left the model in training mode (callers in other files may pass it in either mode).
            if not at_start and not _exits(target) and all(
                    modes == {Mode.TRAIN} for modes, _ in self._resolved(events, stmt, key, 0, entry=False)):
                end = self._extent(target, info, scope) + 0.5
                restored = sorted(fixed + [_Event(end, info.blocks, _Set.TRAIN, "")], key=_seq)
                if not self._leaks(restored, may_train):
                    return Insertion(target, at_start, restore=True, safe=True)
            return Insertion(target, at_start, restore=False, safe=False)
        return None

    # ------------------------------------------------------------------ collecting
    def _collect(self) -> None:
        """One pass over the calls and `if` tests of every statement, grouped by scope."""
        if self._collected:
            return
        self._collected = True
        for info in list(self.analysis.index.statements.values()):
            node = info.node
            if node is None:
                continue
            if isinstance(node, (cst.For, cst.While)):
                self._loop_ids.add(id(node))
            if isinstance(node, cst.If):
                self._record_check(node, info)
            if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                for small in node.body:  # `model.eval(); out = model(x)`: each part in its order
                    part = self.analysis.index.small_statements.get(id(small), info)
                    for call in _calls(small):
                        self._record_call(call, (part.scope, part))
            else:
                for call in _calls(node):
                    self._record_call(call, (info.scope, info))

    def _record_call(self, call: cst.Call, where: "Where") -> None:
        scope, stmt = where
        func = call.func
        if isinstance(func, cst.Attribute):
            attr, key = func.attr.value, dotted(func.value)
            if key is not None and attr in ("eval", "train"):
                mode = _setter_mode(call)
                self._setters.setdefault(id(scope), []).append((key, mode, stmt, f"`{key}.{attr}(...)`"))
            if key is not None:
                self._methods.setdefault(id(scope), []).append((key, attr))
            if key is not None and attr == "apply" and call.args:
                self._applies.setdefault(id(scope), []).append((key, call, stmt))
            if attr in ("backward", "zero_grad") or (attr == "step" and self._is_optimizer(func.value, where)):
                self._training.setdefault(id(scope), []).append(stmt)
            if key == "self":
                self._self_calls.setdefault(id(scope), []).append((call, where))
        if self.analysis.refers_to(func, "torch.autograd.grad", where):
            self._training.setdefault(id(scope), []).append(stmt)
        if any(dotted(arg.value) is not None for arg in call.args):
            self._args.setdefault(id(scope), []).append((call, where))
        if isinstance(func, cst.Name) or (isinstance(func, cst.Attribute) and dotted(func.value) == "self"):
            function = self.analysis.values.local_function(func, where)
            if function is not None:
                self._callers.setdefault(id(function), []).append((call, where))

    def _record_check(self, node: cst.If, info: StatementInfo) -> None:
        """`if not model.training:` says the mode inside the branch (and its else)."""
        test, negated = node.test, False
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, negated = test.expression, not negated
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            right = test.comparisons[0].comparator
            if isinstance(right, cst.Name) and right.value in ("True", "False") and isinstance(
                    test.comparisons[0].operator, (cst.Is, cst.Equal)):
                negated ^= right.value == "False"
                test = test.left
        if not (isinstance(test, cst.Attribute) and test.attr.value == "training"):
            return
        key = dotted(test.value)
        if key is None:
            return
        checks = self._checks.setdefault(id(info.scope), [])
        checks.append((key, not negated, info, info.blocks + ((id(node), "body"),)))
        if node.orelse is not None:
            checks.append((key, negated, info, info.blocks + ((id(node), "else"),)))

    def _is_optimizer(self, expr: cst.BaseExpression, where: "Where") -> bool:
        origins = self.analysis.values.origins(expr, where)
        if not origins:
            return False
        for node, node_where in origins:
            qualified = self.analysis.qualified_name(node.func, node_where) if isinstance(node, cst.Call) else None
            if not qualified or not qualified.startswith("torch.optim.") or "lr_scheduler" in qualified \
                    or "swa_utils" in qualified:
                return False
        return True

    # ------------------------------------------------------------------ modes
    def _mode(self, key: str, where: "Where", depth: int) -> ModeAnswer:
        scope, stmt = where
        root = key.split(".")[0]
        if root in ("self", "cls") and (key == root or not self._plain_method(scope)):
            return ModeAnswer(Mode.UNKNOWN, ("a method of a class that may be an nn.Module: its owner sets the mode",))
        mark = (id(stmt), key)
        if mark in self._visiting or depth > _MAX_DEPTH:
            return ModeAnswer(Mode.UNKNOWN, ("too far to follow",))
        self._visiting.add(mark)
        try:
            events = self._events(scope, key)
            raw = self._paths(events, stmt.seq, stmt.blocks, stmt.loops)
            paths = list(self._resolved(events, stmt, key, depth))
        finally:
            self._visiting.discard(mark)
        # Training mode when some way to the statement surely trains (the first pass, or the later
        # iterations of a loop) and no way is unknown: a helper that may switch it makes us silent.
        unknown = any(Mode.UNKNOWN in modes for modes, _ in paths)
        for (modes, evidence), path in zip(paths, raw):
            if modes == {Mode.TRAIN} and not unknown:
                trains = bool(self._training_for(scope, key))
                deliberate = not trains and any(e.mode is _Set.TRAIN and e.explicit for e in events)
                untrained = not trains and all(e.built for e in path) and all(
                    attr in _KEEPS_WEIGHTS for receiver, attr in self._methods.get(id(scope), ())
                    if _covers(receiver, key) or _covers(key, receiver))
                return ModeAnswer(Mode.TRAIN, evidence, deliberate, untrained)
        if paths and all(modes == {Mode.EVAL} for modes, _ in paths):
            return ModeAnswer(Mode.EVAL, tuple(e for _, ev in paths for e in ev))
        return ModeAnswer(Mode.UNKNOWN, tuple(e for _, ev in paths for e in ev))

    def _surely_train(self, events: List[_Event], stmt: StatementInfo, key: str, depth: int) -> bool:
        return any(modes == {Mode.TRAIN} for modes, _ in self._resolved(events, stmt, key, depth))

    def _resolved(self, events: List[_Event], stmt: StatementInfo, key: str, depth: int, entry: bool = True):
        """The possible modes at `stmt`, one set per kind of path, with the evidence (`entry`:
        the mode at the start of the scope from its callers, else unknown)."""
        for path in self._paths(events, stmt.seq, stmt.blocks, stmt.loops):
            modes: Set[Mode] = set()
            evidence: List[str] = []
            for event in path:
                if event.mode is _Set.ENTRY and not entry:
                    modes.add(Mode.UNKNOWN)
                elif event.mode is _Set.ENTRY:
                    entry_answer = self._entry(stmt.scope, key, depth)
                    modes.add(entry_answer.mode)
                    evidence.extend(entry_answer.evidence)
                else:
                    modes.add(Mode.EVAL if event.mode is _Set.FIXED else Mode(event.mode.value))
                    if event.evidence:
                        evidence.append(event.evidence)
            yield modes, tuple(evidence)

    def _events(self, scope: Scope, key: str) -> List[_Event]:
        """What sets the mode of `key` in `scope`, in statement order."""
        events: List[_Event] = []
        names = self._aliases(scope, key)
        for setter_key, mode, info, evidence in self._setters.get(id(scope), ()):
            if any(_covers(setter_key, name) for name in names):
                events.append(_Event(info.seq, info.blocks, mode, evidence, explicit=True))
            elif any(setter_key.startswith(name + ".") for name in names):
                events.append(_Event(info.seq, info.blocks, _Set.UNKNOWN, evidence))  # a part switched
        for applied_key, call, info in self._applies.get(id(scope), ()):
            if any(_covers(applied_key, name) for name in names):
                events.append(_Event(info.seq, info.blocks, self._applied_mode(call, (scope, info)),
                                     f"`{applied_key}.apply(...)`"))
        for call, call_where in self._args.get(id(scope), ()):
            effect = self._helper_effect(call, names, call_where)
            if effect is not None:
                info = call_where[1]
                events.append(_Event(info.seq, info.blocks, effect, f"`{_code(self.analysis, call.func)}(...)`"))
        if key.startswith("self."):
            for call, call_where in self._self_calls.get(id(scope), ()):
                effect = self._method_effect(call, key, call_where)
                if effect is not None:
                    info = call_where[1]
                    events.append(_Event(info.seq, info.blocks, effect, f"`{_code(self.analysis, call.func)}(...)`"))
        for check_key, training, info, blocks in self._checks.get(id(scope), ()):
            if any(_covers(check_key, name) for name in names):
                mode = _Set.TRAIN if training else _Set.EVAL
                events.append(_Event(info.seq + 0.5, blocks, mode, f"`{check_key}.training` tested", assume=True))
        for binding in self._bindings(scope, key):
            events.append(self._binding_event(binding, key))
        if scope.kind == "module":
            events.extend(self._global_switchers(key))
        events.sort(key=_seq)
        return events

    def _global_switchers(self, key: str) -> List[_Event]:
        """A function that switches a module-level model (`def update(engine, batch):
        model.train()`) may run whenever something calls it, callbacks and engines included:
        from its definition on, the model's mode at module level is unknown."""
        root = key.split(".")[0]
        found = []
        module_scope = self.analysis.index.module_scope
        for scope_id, setters in self._setters.items():
            info = next((i for _, _, i, _ in setters), None)
            if info is None or info.scope is module_scope or root in info.scope.bindings:
                continue
            if not any(_covers(setter, key) or setter.startswith(key + ".") for setter, _, _, _ in setters):
                continue
            definition = info
            while definition.scope is not module_scope and id(definition.scope.node) in self.analysis.index.statements:
                definition = self.analysis.index.statements[id(definition.scope.node)]
            if definition.scope is module_scope:
                found.append(_Event(definition.seq, definition.blocks, _Set.UNKNOWN,
                                    f"`{_name(info.scope)}()` switches it when called"))
        return found

    def _binding_event(self, binding: Binding, key: str) -> _Event:
        info = binding.stmt
        if binding.kind == "param":
            return _Event(info.seq, info.blocks, _Set.ENTRY, "")
        if binding.kind == "for":  # bound at the top of every iteration
            return _Event(info.seq + 0.5, info.blocks + ((id(info.node), "body"),), _Set.UNKNOWN, "a loop variable")
        value = _unpacked(binding)
        if value is None or binding.name != key.rpartition(".")[2]:
            return _Event(info.seq, info.blocks, _Set.UNKNOWN, "rebound")
        if id(binding) not in self._binding_modes:
            self._binding_modes[id(binding)] = (_Set.UNKNOWN, "")  # a value made from itself: unknown
            self._binding_modes[id(binding)] = self._value_mode(value, (info.scope, info), 0)
        mode, evidence = self._binding_modes[id(binding)]
        return _Event(info.seq, info.blocks, mode, evidence, built=evidence.startswith(_BUILT))

    def _value_mode(self, value: cst.BaseExpression, where: "Where", depth: int) -> Tuple[_Set, str]:
        """The mode of a module value when it is made: new modules start in training mode;
        `.to()` / `.cuda()` keep the mode; a loaded, scripted or exported model is unknown."""
        code = _code(self.analysis, value)
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
                and value.func.attr.value in MODULE_RETURNING_METHODS:
            if value.func.attr.value in ("eval", "train"):
                return _setter_mode(value), f"`{code}`"
            value = value.func.value
        if isinstance(value, (cst.Name, cst.Attribute)) and dotted(value) is not None:
            answer = self._mode(dotted(value) or "", where, depth + 1)  # the same module, mode kept
            return _Set(answer.mode.value), "; ".join(answer.evidence)
        if not isinstance(value, cst.Call) or depth > _MAX_DEPTH:
            return _Set.UNKNOWN, f"`{code}`"
        qualified = self.analysis.qualified_name(value.func, where)
        if qualified and qualified.startswith(_FROZEN_PREFIXES):
            return _Set.UNKNOWN, f"`{code}`: loaded or exported, its mode is not known here"
        if qualified in ("torch.nn.DataParallel", "torch.nn.parallel.DistributedDataParallel", "torch.compile"):
            first = value.args[0].value if value.args and not value.args[0].star else None
            return self._value_mode(first, where, depth + 1) if first is not None else (_Set.UNKNOWN, "")
        if any(self.analysis.values.is_module(arg.value, where) for arg in value.args):
            return _Set.UNKNOWN, f"`{code}`: built from an existing module, whose mode it may keep"
        if qualified and builds_eval_mode_module(qualified):
            return _Set.EVAL, f"`{code}` returns the model in evaluation mode"
        if is_module_factory(qualified):
            return _Set.TRAIN, f"{_BUILT} `{code}` (new modules start in training mode)"
        classes = list(self.analysis.values.local_classes(value.func, where))
        if classes and all(self.analysis.values.is_module_classdef(c, w) for c, w in classes):
            return _Set.TRAIN, f"{_BUILT} `{code}` (new modules start in training mode)"
        symbol = self.analysis.symbol(value.func, where)
        if symbol is not None and symbol.kind == CLASS and symbol.module:  # a class of another project module
            return _Set.TRAIN, f"{_BUILT} `{code}` (new modules start in training mode)"
        function = self.analysis.values.local_function(value.func, where)
        if function is not None:
            return self._returned_mode(function, depth + 1)
        return _Set.UNKNOWN, f"`{code}`"

    def _returned_mode(self, function: cst.FunctionDef, depth: int) -> Tuple[_Set, str]:
        """A factory of this file: the mode of every module it returns."""
        scope = self.analysis.index.scopes[id(function)]
        modes, evidence = set(), []
        for value, stmt in scope.returns:
            if value is None:
                return _Set.UNKNOWN, ""
            mode, why = self._value_mode(value, (scope, stmt), depth)
            modes.add(mode)
            evidence.append(why)
        if len(modes) == 1:
            return modes.pop(), "; ".join(evidence)
        return _Set.UNKNOWN, ""

    def _applied_mode(self, call: cst.Call, where: "Where") -> _Set:
        """`model.apply(lambda m: m.eval())`: `fn` runs on every submodule and the model."""
        fn = call.args[0].value
        if isinstance(fn, cst.Lambda) and fn.params.params:
            body = fn.body
            param = fn.params.params[0].name.value
            if isinstance(body, cst.Call) and isinstance(body.func, cst.Attribute) \
                    and dotted(body.func.value) == param and body.func.attr.value in ("eval", "train"):
                return _setter_mode(body)
            return _Set.UNKNOWN
        function = self.analysis.values.local_function(fn, where) if isinstance(fn, cst.Name) else None
        if function is not None:
            params = _positional(function)
            if params:
                effect = self._exit_effect(function, params[0])
                return effect if effect is not None else _Set.ENTRY
        return _Set.UNKNOWN

    def _helper_effect(self, call: cst.Call, names: Sequence[str], where: "Where") -> Optional[_Set]:
        """The mode a call leaves the model in when the model (or a part of it) is an argument:
        a function of this file by what it does, torch and builtins never switch it, any other
        callee may."""
        func = call.func
        passed = None
        for position, arg in _arguments(call):
            arg_key = dotted(arg.value)
            if arg_key is None:
                continue
            if any(_covers(arg_key, name) for name in names):
                passed = (position, arg, True)
                break
            if any(arg_key.startswith(name + ".") for name in names):
                passed = (position, arg, False)
        if passed is None:
            return None
        position, arg, whole = passed
        if isinstance(func, cst.Attribute) and dotted(func.value) is not None and \
                any(_covers(dotted(func.value) or "", name) for name in names):
            return None  # a method of the model itself: `model.load_state_dict(sd)`
        qualified = self.analysis.qualified_name(func, where)
        if (isinstance(func, cst.Name) and func.value in _NEUTRAL_BUILTINS and not self.analysis.reaching(func.value, where)) \
                or (qualified is not None and qualified.startswith(_NEUTRAL_QUALIFIED)):
            return None
        function = self.analysis.values.local_function(func, where)
        if function is None:
            return _Set.UNKNOWN
        param = self._parameter_for(function, position, arg, isinstance(func, cst.Attribute))
        if param is None:
            return _Set.UNKNOWN
        effect = self._exit_effect(function, param)
        if effect is None or whole:
            return effect
        return _Set.UNKNOWN

    def _parameter_for(self, function: cst.FunctionDef, position: Optional[int], arg: cst.Arg,
                       is_method: bool) -> Optional[str]:
        """The parameter of `function` an argument binds (`self.helper(x)` skips `self`)."""
        if arg.keyword is not None:
            return arg.keyword.value
        params = _passed_parameters(function, is_method)
        return params[position] if position is not None and position < len(params) else None

    def _method_effect(self, call: cst.Call, key: str, where: "Where") -> Optional[_Set]:
        """`self.train_epoch(...)`: what a method of the class does to `self.model`."""
        function = self.analysis.values.local_function(call.func, where)
        if function is None:
            return None
        return self._exit_effect(function, key)

    def _exit_effect(self, function: cst.FunctionDef, key: str) -> Optional[_Set]:
        """The mode `key` has when `function` returns: None when it never changes it."""
        mark = (id(function), key)
        if mark not in self._effects:
            self._effects[mark] = None  # recursion: no new effect
            self._effects[mark] = self._compute_exit_effect(function, key)
        return self._effects[mark]

    def _compute_exit_effect(self, function: cst.FunctionDef, key: str) -> Optional[_Set]:
        scope = self.analysis.index.scopes[id(function)]
        events = self._events(scope, key)
        ends = [info for _, info in scope.returns]
        ends.append(StatementInfo(10 ** 9, (), scope, ()))
        modes: Set[_Set] = set()
        for end in ends:
            for path in self._paths(events, end.seq, end.blocks, end.loops):
                modes |= {event.mode for event in path}
        if modes == {_Set.ENTRY}:
            return None
        if len(modes) == 1:
            return modes.pop()
        return _Set.UNKNOWN

    def _entry(self, scope: Scope, key: str, depth: int) -> ModeAnswer:
        """The mode at the start of the scope, from the call sites (or the class) in this file."""
        if scope.kind != "function":
            return ModeAnswer(Mode.UNKNOWN)
        root = key.split(".")[0]
        if root == "self":
            return self._class_entry(scope, key, depth)
        params = {b.name for b in scope.bindings.get(root, ()) if b.kind == "param"}
        if root not in params:
            return ModeAnswer(Mode.UNKNOWN)
        sites = self._arguments(scope, key)
        if not sites:
            return ModeAnswer(Mode.UNKNOWN)
        answers = []
        for value, site in sites:
            if dotted(value) is not None:
                answers.append(self._mode(dotted(value) or "", site, depth + 1))
            else:
                mode, evidence = self._value_mode(value, site, depth + 1)
                answers.append(ModeAnswer(Mode(mode.value) if mode in (_Set.EVAL, _Set.TRAIN) else Mode.UNKNOWN,
                                          (evidence,)))
        return _join(answers, f"every call of `{_name(scope)}()` in this file passes a model")

    def _arguments(self, scope: Scope, key: str) -> Optional[List[Tuple[cst.BaseExpression, "Where"]]]:
        """What the parameter (or an attribute path of it) receives at each call site."""
        function = scope.node
        if not isinstance(function, cst.FunctionDef):
            return None
        root, _, rest = key.partition(".")
        found = []
        for call, site in self._callers.get(id(function), ()):
            if any(arg.star for arg in call.args):
                return None
            value = None
            params = _passed_parameters(function, isinstance(call.func, cst.Attribute))
            for position, arg in _arguments(call):
                name = arg.keyword.value if arg.keyword is not None else (
                    params[position] if position is not None and position < len(params) else None)
                if name == root:
                    value = arg.value
            if value is None:
                return None  # a default value, or unreadable
            if rest:
                base = dotted(value)
                if base is None:
                    return None
                value = cst.parse_expression(f"{base}.{rest}")
            found.append((value, site))
        return found

    def _class_entry(self, scope: Scope, key: str, depth: int) -> ModeAnswer:
        """`self.model` at the start of a method: the modes at the class's own calls of the method,
        or training mode when the class builds it in `__init__` and nothing in this file ever
        switches it (or hands it to code that might)."""
        class_scope = scope.parent
        parts = key.split(".")
        if class_scope is None or class_scope.kind != "class" or len(parts) < 2:
            return ModeAnswer(Mode.UNKNOWN)
        sites = [(call, site) for call, site in self._callers.get(id(scope.node), ())
                 if site[0].parent is class_scope]
        if sites:
            return _join([self._mode(key, site, depth + 1) for _, site in sites],
                         f"`{_name(scope)}()` is called by the class")
        attr = parts[1]
        bindings = class_scope.attributes.get(attr, [])
        if not bindings:
            return ModeAnswer(Mode.UNKNOWN)
        evidence = []
        for binding in bindings:
            method = binding.stmt.scope.node
            if not isinstance(method, cst.FunctionDef) or method.name.value != "__init__" or binding.value is None:
                return ModeAnswer(Mode.UNKNOWN)
            mode, why = self._value_mode(binding.value, (binding.stmt.scope, binding.stmt), depth + 1)
            if mode is not _Set.TRAIN:
                return ModeAnswer(Mode.UNKNOWN)
            evidence.append(f"`self.{attr}` {why}")
        if self._ever_switched(attr, class_scope):
            return ModeAnswer(Mode.UNKNOWN)
        return ModeAnswer(Mode.TRAIN, tuple(evidence) + ("nothing in this file switches it to evaluation mode",))

    def _ever_switched(self, attr: str, class_scope: Scope) -> bool:
        """Is `<anything>.attr` switched (other than to training mode), applied to, or handed to
        a callee that may switch it, anywhere in this file? Is `self` handed out in the class?"""
        def touches(key: str) -> bool:
            return f".{attr}." in f"{key}." and not key.startswith(attr)

        for setters in self._setters.values():
            if any(touches(key) and mode is not _Set.TRAIN for key, mode, _, _ in setters):
                return True
        for applies in self._applies.values():
            if any(touches(key) for key, _, _ in applies):
                return True
        for calls in self._args.values():
            for call, site in calls:
                for _, arg in _arguments(call):
                    key = dotted(arg.value)
                    if key is not None and (touches(key) or (key == "self" and site[0].parent is class_scope)) \
                            and self._helper_effect(call, [key], site) not in (None, _Set.TRAIN):
                        return True
        return False

    def _aliases(self, scope: Scope, key: str) -> List[str]:
        """`key` and the local names bound to the same module (`m = model`, `model = m.to(d)`)."""
        names = [key]
        if "." in key:
            return names
        for name, bindings in scope.bindings.items():
            for binding in bindings:
                value = _unpacked(binding)
                source = dotted(_strip(value)) if value is not None else None
                if name == key and source is not None and "." not in source and source != key:
                    names.append(source)
                elif source == key and name != key:
                    names.append(name)
        return names

    def _bindings(self, scope: Scope, key: str) -> List[Binding]:
        parts = key.split(".")
        if parts[0] != "self":
            return list(scope.bindings.get(key, [])) if len(parts) == 1 else [
                b for b in scope.bindings.get(parts[0], []) if b.kind != "param"]
        if len(parts) < 2 or scope.parent is None or scope.parent.kind != "class":
            return []
        return [b for b in scope.parent.attributes.get(parts[1], []) if b.stmt.scope is scope]

    def _plain_method(self, scope: Scope) -> bool:
        """A method of a class that surely is not an nn.Module (its bases are plain classes)."""
        parent = scope.parent
        if scope.kind != "function" or parent is None or parent.kind != "class":
            return False
        info = self.analysis.index.statements[id(parent.node)]
        return self._plain_class(parent.node, (info.scope, info), 0)

    def _plain_class(self, classdef: cst.CSTNode, where: "Where", depth: int) -> bool:
        if not isinstance(classdef, cst.ClassDef) or depth > _MAX_DEPTH:
            return False
        for base in classdef.bases:
            if base.keyword is not None:
                continue
            expr = base.value
            if isinstance(expr, cst.Name) and expr.value == "object" and not self.analysis.reaching("object", where):
                continue
            if self.analysis.qualified_name(expr, where) in ("abc.ABC", "typing.Generic"):
                continue
            classes = list(self.analysis.values.local_classes(expr, where))
            if not classes or not all(self._plain_class(c, w, depth + 1) for c, w in classes):
                return False
        return True

    # ------------------------------------------------------------------ training
    def _training_for(self, scope: Scope, key: str) -> List[StatementInfo]:
        """Statements that train: backward / zero_grad / optimizer steps, and calls of helpers of
        this file that train the model without setting its mode themselves."""
        found = list(self._training.get(id(scope), ()))
        names = self._aliases(scope, key)
        for call, call_where in self._args.get(id(scope), ()):
            function = self.analysis.values.local_function(call.func, call_where)
            if function is None or self._helper_effect(call, names, call_where) is _Set.TRAIN:
                continue
            passed = any(dotted(a.value) is not None and any(_covers(dotted(a.value) or "", n) for n in names)
                         for a in call.args)
            if passed and self._training.get(id(self.analysis.index.scopes[id(function)])):
                found.append(call_where[1])
        if key.startswith("self."):  # `self.train_epoch(...)` that trains `self.model`
            for call, call_where in self._self_calls.get(id(scope), ()):
                function = self.analysis.values.local_function(call.func, call_where)
                if function is not None and self._training.get(id(self.analysis.index.scopes[id(function)])) \
                        and self._method_effect(call, key, call_where) is not _Set.TRAIN:
                    found.append(call_where[1])
        return found

    def _unknown_helpers(self, scope: Scope, key: str) -> List[StatementInfo]:
        names = self._aliases(scope, key)
        return [w[1] for call, w in self._args.get(id(scope), ())
                if self._helper_effect(call, names, w) is _Set.UNKNOWN]

    def _in_training_step(self, scope: Scope, stmt: StatementInfo) -> bool:
        """In the same loop body (or loop-free function body) as a backward / optimizer step:
        target networks and EMA teachers run under no_grad there, often in training mode on purpose."""
        innermost = stmt.loops[-1] if stmt.loops else None
        return any((t.loops[-1] if t.loops else None) is innermost for t in self._training.get(id(scope), ()))

    # ------------------------------------------------------------------ paths
    def _paths(self, events: List[_Event], seq: float, blocks: tuple, loops: tuple) -> List[List[_Event]]:
        """The settings that may be in force at a statement: one list for the path from before each
        enclosing loop and one for the later iterations of a loop that sets the mode itself."""
        if not loops:
            found, done = self._walk(events, -math.inf, seq, blocks)
            return [found if done else found + [_ENTRY]]
        loop: LoopRange = loops[-1]
        body = self._loop_body_index(blocks, len(loops) - 1)
        found, done = self._walk(events, loop.first - 1, seq, blocks)
        if done:
            return [found]
        later, later_done = self._walk(events, seq, loop.last + 1, blocks, within=blocks[: body + 1])
        outer = self._paths(events, loop.first - 1, blocks[:body], loops[:-1])
        if later_done:
            return [found + first for first in outer] + [found + later]
        return [found + later + first for first in outer]

    def _walk(self, events: List[_Event], low: float, high: float, blocks: tuple,
              within: tuple = ()) -> Tuple[List[_Event], bool]:
        """Settings between `low` and `high` (exclusive) inside the blocks `within`, latest first,
        up to the first that surely runs before the statement (loops are taken to run)."""
        found: List[_Event] = []
        target = self._strip_loops(blocks)
        for event in reversed(events):
            if low < event.seq < high and event.blocks[: len(within)] == within:
                own = self._strip_loops(event.blocks)
                dominates = target[: len(own)] == own
                if event.assume and blocks[: len(event.blocks)] != event.blocks:
                    continue
                found.append(event)
                if dominates:
                    return found, True
        return found, False

    def _strip_loops(self, blocks: tuple) -> tuple:
        return tuple(b for b in blocks if not (b[1] == "body" and b[0] in self._loop_ids))

    def _loop_body_index(self, blocks: tuple, which: int) -> int:
        count = -1
        for index, block in enumerate(blocks):
            if block[1] == "body" and block[0] in self._loop_ids:
                count += 1
                if count == which:
                    return index
        return len(blocks)

    # ------------------------------------------------------------------ fixing
    def _insertion_points(self, scope: Scope, stmt: StatementInfo, root: str, training: List[StatementInfo]):
        """Where `model.eval()` may go, best first: the start of a function that runs with
        gradients off, before the outermost compound statement around the call, before the call's
        own statement."""
        own = stmt.node if stmt.listed else None
        local = [b for b in scope.bindings.get(root, []) if b.kind != "param"] if root != "self" else []
        function = scope.node
        passed_in = root == "self" or any(b.kind == "param" for b in scope.bindings.get(root, []))
        if isinstance(function, cst.FunctionDef) and not training and not local and (
                passed_in or self._decorated_no_grad(function)):
            body = function.body
            statements = body.body if isinstance(body, cst.IndentedBlock) else ()
            first = next((s for s in statements if not _is_docstring(s)), None)
            if first is not None:
                yield first, self.analysis.index.statements[id(first)], True
        reaching = [b for b in self.analysis.reaching(root, (scope, stmt)) if b.kind != "param"]
        for node in (*stmt.enclosing, None):
            info = stmt if node is None else self.analysis.index.statements[id(node)]
            node = node if node is not None else own
            if node is None or not info.listed or any(b.stmt.seq >= info.seq for b in reaching):
                continue
            if node is not own and not isinstance(node, _COMPOUND_TARGETS):
                continue
            last = self._extent(node, info, scope)
            if any(info.seq <= t.seq <= last for t in training):
                continue
            yield node, info, False

    def _decorated_no_grad(self, function: cst.FunctionDef) -> bool:
        outer = self.analysis.index.statements[id(function)]
        return any(grad_mode(self.analysis, d.decorator, (outer.scope, outer)) is False for d in function.decorators)

    def _leaks(self, events: List[_Event], training: List[StatementInfo]) -> bool:
        """Would the inserted `.eval()` still be in force at some training statement?"""
        return any(event.mode is _Set.FIXED for t in training
                   for path in self._paths(events, t.seq, t.blocks, t.loops) for event in path)

    def _escapes(self, root: str, scope: Scope) -> bool:
        """Does the model outlive the scope (a parameter, an attribute, a global, a return value)?"""
        if scope.kind == "module":
            return False
        bindings = scope.bindings.get(root, [])
        if root == "self" or root in scope.global_names or not bindings or any(b.kind == "param" for b in bindings):
            return True
        return any(value is not None and _returns(value, root) for value, _ in scope.returns)

    def _extent(self, node: cst.CSTNode, info: StatementInfo, scope: Scope) -> float:
        """Number of the last statement inside `node` (in the same scope)."""
        return max((i.seq for i in self.analysis.index.statements.values()
                    if i.scope is scope and any(e is node for e in i.enclosing)), default=info.seq)


# ---------------------------------------------------------------------- helpers
dotted = dotted_name  # the rules import it from here


def _seq(event: _Event) -> float:
    return event.seq


def _covers(setter: str, key: str) -> bool:
    """`model.eval()` also switches `model.encoder`."""
    return key == setter or key.startswith(setter + ".")


def _setter_mode(call: cst.Call) -> _Set:
    """`.eval()` and `.train(False)` switch to evaluation; `.train(flag)` with an unknown flag
    may do either."""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "eval":
        return _Set.EVAL
    if not call.args:
        return _Set.TRAIN
    value = call.args[0].value
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return _Set.TRAIN if value.value == "True" else _Set.EVAL
    return _Set.UNKNOWN


def _join(answers: List[ModeAnswer], why: str) -> ModeAnswer:
    modes = {a.mode for a in answers}
    if len(modes) == 1 and Mode.UNKNOWN not in modes:
        return ModeAnswer(modes.pop(), (why,) + tuple(e for a in answers for e in a.evidence))
    return ModeAnswer(Mode.UNKNOWN)


def _name(scope: Scope) -> str:
    node = scope.node
    return node.name.value if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else "<module>"


def _code(analysis: "ModuleAnalysis", node: cst.CSTNode) -> str:
    text = analysis.module.code_for_node(node)
    return text if len(text) <= 40 else text[:37] + "..."


def _strip(node: cst.BaseExpression) -> cst.BaseExpression:
    """`model.to(device).cuda()` -> `model`: calls that return the module itself, mode kept."""
    while (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
           and node.func.attr.value in MODULE_RETURNING_METHODS and node.func.attr.value not in ("eval", "train")):
        node = node.func.value
    return node


def _unpacked(binding: Binding) -> Optional[cst.BaseExpression]:
    """The value bound to the name: `student, teacher = Net(), Net()` gives each its element."""
    value = binding.value
    if binding.kind == "unpack":
        for index in binding.unpack:
            if not isinstance(value, (cst.Tuple, cst.List)) or index >= len(value.elements) or any(
                    isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            value = value.elements[index].value
        return value
    return value if binding.kind in ("assign", "annassign") else None


def _positional(function: cst.FunctionDef) -> List[str]:
    return [p.name.value for p in (*function.params.posonly_params, *function.params.params)]


def _passed_parameters(function: cst.FunctionDef, bound: bool) -> List[str]:
    """The positional parameters a call fills: `self.helper(x)` skips `self` unless the method
    is a staticmethod."""
    static = any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in function.decorators)
    return _positional(function)[1 if bound and not static else 0:]


def _arguments(call: cst.Call) -> Iterator[Tuple[Optional[int], cst.Arg]]:
    """(position or None for keywords, argument) for the arguments of a call."""
    position = 0
    for arg in call.args:
        if arg.keyword is not None:
            yield None, arg
        elif not arg.star:
            yield position, arg
            position += 1


def _calls(statement: cst.CSTNode) -> Iterator[cst.Call]:
    """The calls a statement makes itself: its expressions, not the bodies of compound statements,
    functions, classes or lambdas."""
    stack = list(statement_expressions(statement))
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is cst.Lambda or kind is cst.FunctionDef or kind is cst.ClassDef:
            continue
        if kind is cst.Call:
            yield node  # type: ignore[misc]
        stack.extend(_children(node))


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _returns(expr: cst.BaseExpression, name: str) -> bool:
    """Is the model itself (not, say, its `state_dict()`) part of a returned value?"""
    if isinstance(expr, cst.Name):
        return expr.value == name
    if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
        return any(_returns(element.value, name) for element in expr.elements)
    if isinstance(expr, cst.Dict):
        return any(isinstance(e, cst.DictElement) and _returns(e.value, name) for e in expr.elements)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        return expr.func.attr.value in MODULE_RETURNING_METHODS and _returns(expr.func.value, name)
    return False


def _exits(node: cst.CSTNode) -> bool:
    """Does `node` contain a return/raise/break/continue/yield (so code after it may not run)?"""
    if isinstance(node, _EXITS):
        return True
    if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        return False
    return any(_exits(child) for child in _children(node))
