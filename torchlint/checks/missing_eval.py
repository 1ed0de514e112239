"""TL301: a model with dropout or batch norm evaluated while it is still in training mode.

The rule records, per scope, what can set a model's mode (`.eval()`, `.train()`, a helper that
calls them, a new binding of the name) and the calls made in an evaluation context. At the end it
works out, for each such call, which modes can reach it: on the way from the start of the scope,
and from the previous iteration of each enclosing loop. It reports when some way surely leaves the
model in training mode and the model may hold dropout or batch-norm layers.
"""

from __future__ import annotations

import math
import re
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.analysis.grad_mode import grad_mode
from torchlint.analysis.scopes import Scope, StatementInfo
from torchlint.analysis.torch_api import MODULE_ONLY_METHODS, MODULE_RETURNING_METHODS, is_module_factory
from torchlint.checks._syntax import insert_before, statement_of
from torchlint.rule import SAFE, SOMETIMES, UNSAFE, Edit, Fix, Rule, register

EVAL, TRAIN, UNKNOWN, ENTRY, FIXED = "eval", "train", "unknown", "entry", "fixed"

# Words of a function name that make it an evaluation function (`evaluate`, `run_validation`, ...).
_EVAL_WORDS = frozenset(
    "eval evaluate evaluation validate validation val test testing predict prediction infer inference".split()
)
# Helpers that take a model and may switch it to evaluation mode on their own.
_EVAL_HELPER_WORDS = _EVAL_WORDS | {"freeze", "frozen"}
# Last words of a name that say "this is a model" (`model`, `ema_model`, `resnet`, `classifier`).
_MODEL_WORDS = frozenset(
    "model net network classifier encoder decoder backbone generator discriminator teacher student "
    "critic actor autoencoder vae cnn rnn lstm mlp transformer detector".split()
)
_NOT_FORWARD = MODULE_ONLY_METHODS | MODULE_RETURNING_METHODS
# By class name, so importing the rule does not load LibCST (see torchlint/__init__.py).
_COMPOUND_TARGETS = frozenset({"With", "For", "While", "Try"})  # hoisting above these keeps the meaning
_VALUE_BINDINGS = frozenset({"param", "assign", "annassign", "unpack", "with", "for"})
_TRAIN_WORDS = frozenset({"train", "training", "fit"})
_WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DistributedDataParallel"})
_EXITS = frozenset({"Return", "Raise", "Break", "Continue", "Yield"})

Event = Tuple[float, tuple, str]  # (statement number, blocks, mode)


@register
class MissingEval(Rule):
    """
    ## What it does
    Finds a model with dropout or batch-norm layers (or whose class is not known here) that is
    called for evaluation while it is still in training mode: inside `torch.no_grad()` /
    `torch.inference_mode()` (blocks or decorated functions) or in a function named like
    `evaluate`, `validate`, `test`, `predict` or `infer`, with no `.eval()` / `.train(False)` on
    it since its last `.train()` (or since it was built: new modules start in training mode).
    Enclosing loops are followed, so an epoch loop that calls `model.train()` at its top and then
    validates without `.eval()` is found, as is one that calls `.eval()` once before the loop.

    The model's layers are read from the classes of this file (what `__init__` assigns, inside
    `nn.Sequential` / `nn.ModuleList` and nested classes too): a model made only of `nn.Linear`,
    `nn.Conv2d`, `nn.LayerNorm`, activations and the like computes the same in both modes and is
    not reported. Reported layers: `nn.Dropout*`, `nn.BatchNorm*`, `nn.SyncBatchNorm`,
    `nn.InstanceNorm*(track_running_stats=True)`, `nn.RReLU`, RNNs, attention and transformer
    layers with dropout, and any class that reads `self.training`.

    The called thing must be a model: a value that is an `nn.Module` (followed through
    assignments), or a variable or `self` attribute named like one (`model`, `net`, `encoder`,
    `classifier`, ...) called with inputs, or one that has `.parameters()` or another module-only
    method called on it. Any other callable (`transform(x)`, `fn(x)`) is left alone.

    Left alone, on purpose:
    - a no-grad block inside a training step (its loop body, or function body, also calls
      `.backward()` / `optimizer.step()` / `.zero_grad()`): target networks, EMA teachers and
      sample images computed under `no_grad` there are often meant to run in training mode;
    - an explicit `model.train()` followed by no-grad calls with no training in that function:
      Monte Carlo dropout and BatchNorm recalibration (`torch.optim.swa_utils.update_bn`) switch to
      training mode on purpose;
    - a model that comes from the caller (a parameter, `self.model`, a global), unless the
      function is named as an evaluation function: a `no_grad` helper may rely on its caller
      having called `.eval()`. It is also left alone when a caller in this file calls `.eval()`
      before calling it, or, for `self.model`, when the class calls `self.model.eval()` elsewhere
      and never `.train()`;
    - `self(...)` and `self.layer(...)` inside an `nn.Module` (or LightningModule) subclass: the
      module's owner sets its mode; Lightning switches modes around `validation_step` and the
      other hooks. Functions named `*_step` / `*_batch` and pytest `test_*` functions are not
      taken as evaluation functions;
    - any path on which `.eval()` or `.train(False)` may have run (a branch, a helper named like
      `evaluate` or `freeze` that was given the model), `.train(flag)` with a non-literal flag,
      models from `from_pretrained()` (Hugging Face loads them in evaluation mode), and
      `DataParallel` / `DistributedDataParallel` wrappers (they keep the wrapped model's mode).

    ## Why is this bad?
    `torch.no_grad()` only stops recording gradients; it does not change the module's mode. In
    training mode `nn.Dropout` zeroes a random part of its input (and scales the rest by
    `1/(1-p)`), so the same input gives a different output at every call; `nn.BatchNorm` normalises
    with the statistics of the current batch instead of its running estimates, so predictions
    depend on what else is in the batch, and it *updates* the running estimates with the
    evaluation data, changing the model that is later saved or trained further. Validation
    metrics come out noisy and wrong, with no error message.

    ## Example
    ```python
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            ...
        with torch.no_grad():
            val_loss = criterion(model(val_x), val_y)
    ```

    ## Use instead
    ```python
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            ...
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(val_x), val_y)
    ```

    ## Fix safety
    The fix inserts `model.eval()` (with the expression the code uses, such as `self.model`)
    before the evaluation: before the outermost `with torch.no_grad():` block, or at the start of
    an evaluation function, or before the loop or statement that evaluates. It is safe when
    nothing after it runs in the mode it leaves behind: the model is local and nothing trains
    afterwards, or the loop sets `.train()` again before training. When the evaluation sits in a
    training loop that relies on one `model.train()` before the loop, the fix also puts
    `model.train()` after the evaluation block, restoring the mode the code had, and is safe.
    It is unsafe, applied only with `--unsafe-fixes`, when the model comes from the caller (a
    parameter, `self.model`, a global) or training may follow without a `.train()`: the model then
    stays in evaluation mode after this point, which the code around it may not expect (an epoch
    loop that calls `model.train()` only once would go on training without dropout).

    ## Source
    Note 001, "26.Pytorch中model.train()和model.eval()区别": the note rightly says that a model with
    BN or Dropout layers needs `model.train()` for training and `model.eval()` for testing, and
    that in eval mode dropout keeps every connection. It is imprecise on BN: in eval mode BN does
    not use "the mean and variance of all the data" but running averages collected while training,
    and in training mode it also overwrites those averages, so evaluating in training mode damages
    the model. It never says that `torch.no_grad()` does not switch modes, which is the mistake
    this rule finds; note 002's "with torch.no_grad()" section describes `no_grad` correctly (no
    gradients, less memory) but leaves that gap open too.
    """

    code = "TL301"
    name = "missing-eval"
    summary = "model evaluated in training mode: dropout and batch norm stay active; call `.eval()` first"
    fix_safety = SOMETIMES
    # Gradients off, or a function named like evaluation (`val` alone would match every `value`).
    triggers = ("no_grad", "inference_mode", "set_grad_enabled", "eval", "Eval", "valid", "Valid", "val_", "_val",
                "def val", "test", "Test", "predict", "Predict", "infer", "Infer")

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._setters: Dict[int, List[Tuple[str, str, StatementInfo]]] = {}
        self._helpers: Dict[int, List[Tuple[cst.Call, Where]]] = {}
        self._training: Dict[int, List[StatementInfo]] = {}
        self._module_uses: Set[Tuple[int, str]] = set()
        self._calls_by_name: Dict[str, List[Where]] = {}
        self._candidates: List[Tuple[cst.Call, cst.BaseExpression, str, Where, str]] = []
        self._loop_ids: Set[int] = set()
        self._contexts: Dict[int, Optional[str]] = {}

    # ------------------------------------------------------------------ traversal
    def visit_For(self, node: cst.For) -> None:
        self._loop_ids.add(id(node))

    def visit_While(self, node: cst.While) -> None:
        self._loop_ids.add(id(node))

    def visit_Call(self, node: cst.Call) -> None:
        where = self.analysis.where()
        scope, stmt = where
        func = node.func
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            key = _key(func.value)
            if key is not None and attr in ("eval", "train"):
                self._setters.setdefault(id(scope), []).append((key, _setter_mode(node), stmt))
            if key is not None and attr in MODULE_ONLY_METHODS:
                self._module_uses.add((id(scope), key))
            if attr in ("backward", "zero_grad") or (attr == "step" and _optimizer_like(func.value)) or (
                    attr == "grad" and self.analysis.qualified_name(func) == "torch.autograd.grad"):
                self._training.setdefault(id(scope), []).append(stmt)
            self._calls_by_name.setdefault(attr, []).append(where)
        elif isinstance(func, cst.Name):
            self._calls_by_name.setdefault(func.value, []).append(where)
            if func.value == "grad" and self.analysis.qualified_name(func) == "torch.autograd.grad":
                self._training.setdefault(id(scope), []).append(stmt)
        if any(_key(arg.value) is not None for arg in node.args):
            self._helpers.setdefault(id(scope), []).append((node, where))
        target = func.value if isinstance(func, cst.Attribute) and func.attr.value == "forward" else func
        key = _key(target)
        if key is None or (target is func and isinstance(func, cst.Attribute) and func.attr.value in _NOT_FORWARD):
            return
        context = self._context(scope, stmt)
        if context is not None:
            self._candidates.append((node, target, key, where, context))

    def _context(self, scope: Scope, stmt: StatementInfo) -> Optional[str]:
        """Why the statement evaluates: "grad" (gradients off), "name" (an evaluation function), or None."""
        if id(stmt) not in self._contexts:
            name = scope.node.name.value if scope.kind == "function" else None
            if name is not None and name.startswith("test") and name != "test":
                context = None  # a pytest test: it may check training-mode behaviour on purpose
            elif self.analysis.grad_enabled((scope, stmt)) is False:
                context = "grad"
            elif name is not None and _evaluation_name(name):
                context = "name"
            else:
                context = None
            self._contexts[id(stmt)] = context
        return self._contexts[id(stmt)]

    # ------------------------------------------------------------------ judging
    def finish(self) -> None:
        reported: Set[Tuple[int, str]] = set()
        for node, target, key, where, context in self._candidates:
            if (id(where[0]), key) not in reported and self._check(node, target, key, where, context):
                reported.add((id(where[0]), key))

    def _check(self, node, target, key, where: Where, context: str) -> bool:
        scope, stmt = where
        root = key.split(".")[0]
        if root in ("self", "cls") and (key == root or self._in_module_class(scope)):
            return False
        if not self._is_model(node, target, key, root, where) or self._in_training_step(scope, stmt):
            return False
        layers = self.analysis.model_classes.of_value(target, where)
        if not layers.depends_on_mode:
            return False
        training = self._training_for(scope, key)
        if not training and self._explicit_train(scope, key, stmt):
            return False  # `.train()` on purpose, then no-grad passes: BN recalibration, MC dropout
        events = self._events(scope, key, root)
        entry = self._entry_mode(scope, key, root)
        responsible = (scope.kind == "function" and _evaluation_name(scope.node.name.value)
                       and not self._caller_sets_eval(scope.node.name.value))
        if not self._reports(events, stmt, entry, responsible):
            return False
        fix = self._fix(key, root, where, events, entry, responsible, training)
        self.report(node, _message(key, context, scope, layers), fix)
        return True

    def _is_model(self, node: cst.Call, target, key: str, root: str, where: Where) -> bool:
        """Evidence that the called thing is a module, not any callable: its value is one, or it
        is a variable / `self` attribute named like a model (`model`, `net`, `encoder`), given
        inputs, or it has `.parameters()` (or another module-only method) called on it here."""
        scope = where[0]
        if self.analysis.values.is_module(target, where):
            return True
        if (id(scope), key) in self._module_uses:
            return True
        if root == "self":
            named = key.count(".") == 1
        else:
            bindings = self.analysis.reaching(root, where)
            named = key == root and bool(bindings) and all(b.kind in _VALUE_BINDINGS for b in bindings)
        if not named or not node.args or not _model_name(key.split(".")[-1]):
            return False
        origins = self.analysis.values.origins(target, where)
        return not (origins and any(isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) for n, _ in origins))

    def _in_module_class(self, scope: Scope) -> bool:
        parent = scope.parent
        if scope.kind != "function" or parent is None or parent.kind != "class":
            return False
        classdef = parent.node
        info = self.analysis.index.statements[id(classdef)]
        return self.analysis.values.is_module_classdef(classdef, (info.scope, info))  # type: ignore[arg-type]

    def _training_for(self, scope: Scope, key: str) -> List[StatementInfo]:
        """Statements that train: backward/step/zero_grad, and calls that hand the model to a
        helper that trains it without switching it to training mode itself (a local function with
        a backward, or one named like `train_one_epoch` / `fit`)."""
        found = list(self._training.get(id(scope), ()))
        for call, call_where in self._helpers.get(id(scope), ()):
            if self._helper_mode(call, key, call_where) == TRAIN:
                continue
            if any(_key(arg.value) is not None and _covers(_key(arg.value), key) for arg in call.args) \
                    and self._helper_trains(call, call_where):
                found.append(call_where[1])
        return found

    def _helper_trains(self, call: cst.Call, where: Where) -> bool:
        func = call.func
        if isinstance(func, cst.Name):
            bindings = self.analysis.reaching(func.value, where)
            if len(bindings) == 1 and bindings[0].kind == "def":
                return bool(self._training.get(id(self.analysis.index.scopes[id(bindings[0].node)])))
            return bool(_words(func.value) & _TRAIN_WORDS)
        return isinstance(func, cst.Attribute) and bool(_words(func.attr.value) & _TRAIN_WORDS)

    def _explicit_train(self, scope: Scope, key: str, stmt: StatementInfo) -> bool:
        """Is there a `.train()` on the model in this scope that may run before the statement?"""
        return any(mode == TRAIN and _covers(setter_key, key)
                   and (info.seq < stmt.seq or any(info.seq in loop for loop in stmt.loops))
                   for setter_key, mode, info in self._setters.get(id(scope), ()))

    def _in_training_step(self, scope: Scope, stmt: StatementInfo) -> bool:
        """Is the call in the same loop body (or loop-free function body) as a backward/step?"""
        innermost = stmt.loops[-1] if stmt.loops else None
        return any((e.loops[-1] if e.loops else None) is innermost for e in self._training.get(id(scope), ()))

    # ------------------------------------------------------------------ modes
    def _events(self, scope: Scope, key: str, root: str) -> List[Event]:
        """What sets the mode of `key` in `scope`, as (statement number, blocks, mode), in order."""
        events: List[Event] = []
        for setter_key, mode, info in self._setters.get(id(scope), ()):
            if _covers(setter_key, key) or (mode == EVAL and setter_key.startswith(key + ".")):
                events.append((info.seq, info.blocks, mode))
        for call, call_where in self._helpers.get(id(scope), ()):
            mode = self._helper_mode(call, key, call_where)
            if mode is not None:
                events.append((call_where[1].seq, call_where[1].blocks, mode))
        for binding in self._bindings(scope, key, root):
            if binding.kind == "param":
                mode = ENTRY
            elif binding.kind == "for":
                mode = UNKNOWN
            else:
                mode = self._binding_mode(binding) if binding.name == key.rpartition(".")[2] else UNKNOWN
                if mode is None:
                    continue
            seq, blocks = binding.stmt.seq, binding.stmt.blocks
            if binding.kind == "for":  # bound at the top of every iteration
                seq, blocks = seq + 0.5, blocks + ((id(binding.stmt.node), "body"),)
            events.append((seq, blocks, mode))
        events.sort(key=lambda event: event[0])
        return events

    def _bindings(self, scope: Scope, key: str, root: str):
        if root != "self":
            return scope.bindings.get(root, [])
        parts = key.split(".")
        if len(parts) < 2 or scope.parent is None or scope.parent.kind != "class":
            return []
        return [b for b in scope.parent.attributes.get(parts[1], []) if b.stmt.scope is scope]

    def _binding_mode(self, binding) -> Optional[str]:
        """A new model starts in training mode; `Net().eval()` in evaluation mode; None when the
        binding keeps the mode (`model = DataParallel(model)`)."""
        value = binding.value
        if binding.kind == "unpack":  # `student, teacher = Net(), Net()`
            for index in binding.unpack:
                if not isinstance(value, (cst.Tuple, cst.List)) or index >= len(value.elements) or any(
                        isinstance(e, cst.StarredElement) for e in value.elements):
                    return UNKNOWN
                value = value.elements[index].value
        elif binding.kind not in ("assign", "annassign"):
            return UNKNOWN
        if value is None:
            return UNKNOWN
        while (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
               and value.func.attr.value in MODULE_RETURNING_METHODS):
            if value.func.attr.value in ("eval", "train"):
                return _setter_mode(value)
            value = value.func.value
        if isinstance(value, cst.Call):
            if isinstance(value.func, cst.Attribute) and value.func.attr.value == "from_pretrained":
                return EVAL  # Hugging Face models load in evaluation mode
            where = self.analysis.binding_where(binding)
            qualified = self.analysis.qualified_name(value.func, where)
            if qualified in _WRAPPERS:  # the wrapped model keeps whatever mode it had
                first = value.args[0].value if value.args else None
                return None if first is not None and _key(first) == binding.name else UNKNOWN
            if is_module_factory(qualified):
                return TRAIN
            classes = list(self.analysis.values.local_classes(value.func, where))
            if classes and all(self.analysis.values.is_module_classdef(c, w) for c, w in classes):
                return TRAIN
        return UNKNOWN

    def _helper_mode(self, call: cst.Call, key: str, where: Where) -> Optional[str]:
        """`evaluate(model)`, `train_one_epoch(model, ...)`: the mode the helper leaves `key` in."""
        position = 0
        for arg in call.args:
            arg_key = _key(arg.value)
            if arg_key is not None and _covers(arg_key, key):
                return self._helper_sets(call, where, position if arg.keyword is None else arg.keyword.value)
            if arg.keyword is None and not arg.star:
                position += 1
        return None

    def _helper_sets(self, call: cst.Call, where: Where, parameter) -> Optional[str]:
        func = call.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        if isinstance(func, cst.Name):
            bindings = self.analysis.reaching(func.value, where)
            if len(bindings) == 1 and bindings[0].kind == "def":
                function = bindings[0].node
                params = list(function.params.posonly_params) + list(function.params.params)
                if isinstance(parameter, int):
                    param = params[parameter].name.value if parameter < len(params) else None
                else:
                    param = parameter
                modes = {mode for setter_key, mode, _ in self._setters.get(id(self.analysis.index.scopes[id(function)]), ())
                         if param is not None and _covers(param, setter_key)}
                return EVAL if EVAL in modes else TRAIN if TRAIN in modes else None
        return EVAL if _words(name) & _EVAL_HELPER_WORDS else None

    def _entry_mode(self, scope: Scope, key: str, root: str) -> str:
        """The mode at the start of the scope: known only from evidence elsewhere in the file."""
        if scope.kind == "module":
            return UNKNOWN
        if root == "self":
            class_scope = scope.parent
            if class_scope is None or class_scope.kind != "class":
                return UNKNOWN
            others = [s for s in self.analysis.index.scopes.values() if s.parent is class_scope and s is not scope]
        elif root in scope.bindings:
            return UNKNOWN  # a parameter, or a local bound only on some paths
        else:
            others = [s for s in self.analysis.index.scopes.values() if s is not scope]
        modes = {mode for other in others for setter_key, mode, _ in self._setters.get(id(other), ())
                 if _covers(setter_key, key) or setter_key.startswith(key + ".")}
        return EVAL if EVAL in modes and TRAIN not in modes else UNKNOWN

    def _caller_sets_eval(self, function_name: str) -> bool:
        """Does some caller in this file call `.eval()` (on anything) before calling the function?"""
        for scope, stmt in self._calls_by_name.get(function_name, ()):
            for _, mode, info in self._setters.get(id(scope), ()):
                if mode == EVAL and (info.seq < stmt.seq or any(info.seq in loop for loop in stmt.loops)):
                    return True
        return False

    def _reports(self, events: List[Event], stmt, entry: str, responsible: bool) -> bool:
        return any(modes == {TRAIN} for modes in self._resolved(events, stmt, entry, responsible))

    def _resolved(self, events, stmt, entry: str, responsible: Optional[bool]):
        """The possible modes at `stmt`, one set per kind of path; unknown means training mode
        when the function is responsible for the mode (None: keep it unknown)."""
        for modes in self._paths(events, stmt.seq, stmt.blocks, stmt.loops):
            resolved = set()
            for mode in modes:
                mode = entry if mode == ENTRY else EVAL if mode == FIXED else mode
                if mode == UNKNOWN and responsible is not None:
                    mode = TRAIN if responsible else EVAL
                resolved.add(mode)
            yield resolved

    def _paths(self, events: List[Event], seq: float, blocks: tuple, loops: tuple) -> List[Set[str]]:
        """Modes that may reach a statement: one set for the path from before each enclosing loop
        and one for the later iterations of a loop that sets the mode itself."""
        if not loops:
            modes, done = self._walk(events, -math.inf, seq, blocks)
            return [modes if done else modes | {ENTRY}]
        loop = loops[-1]
        body = self._loop_body_index(blocks, len(loops) - 1)
        modes, done = self._walk(events, loop.first - 1, seq, blocks)
        if done:
            return [modes]
        later, later_done = self._walk(events, seq, loop.last + 1, blocks, within=blocks[: body + 1])
        outer = self._paths(events, loop.first - 1, blocks[:body], loops[:-1])
        if later_done:
            return [modes | first for first in outer] + [modes | later]
        return [modes | later | first for first in outer]

    def _walk(self, events: List[Event], low: float, high: float, blocks: tuple,
              within: tuple = ()) -> Tuple[Set[str], bool]:
        """Modes set between `low` and `high` (exclusive) inside the blocks `within`, latest first,
        up to the first setting that surely runs before the statement (loops are taken to run)."""
        modes: Set[str] = set()
        target = self._strip(blocks)
        for seq, event_blocks, mode in reversed(events):
            if low < seq < high and event_blocks[: len(within)] == within:
                modes.add(mode)
                own = self._strip(event_blocks)
                if target[: len(own)] == own:
                    return modes, True
        return modes, False

    def _strip(self, blocks: tuple) -> tuple:
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
    def _fix(self, key, root, where: Where, events, entry, responsible, training) -> Optional[Fix]:
        scope, stmt = where
        for target, info, at_start in self._insertion_points(scope, stmt, root, training):
            fixed = events + [(info.seq - 0.5, info.blocks, FIXED)]
            fixed.sort(key=lambda event: event[0])
            if self._reports(fixed, stmt, entry, responsible):
                continue
            eval_statement = statement_of(f"{key}.eval()\n")
            if not self._leaks(fixed, training) and not self._escapes(root, scope):
                return Fix(SAFE, f"Call `{key}.eval()` before evaluating", (self._edit(target, eval_statement, at_start),))
            surely_train = all(modes == {TRAIN} for modes in self._resolved(events, stmt, entry, None))
            if surely_train and not at_start and not _exits(target):
                restored = fixed + [(self._extent(target, info, scope) + 0.5, info.blocks, TRAIN)]
                restored.sort(key=lambda event: event[0])
                if not self._leaks(restored, training):
                    edit = Edit(target, cst.FlattenSentinel(
                        [*insert_before(target, eval_statement).nodes, statement_of(f"{key}.train()\n")]))
                    return Fix(SAFE, f"Call `{key}.eval()` before evaluating and `{key}.train()` after", (edit,))
            return Fix(UNSAFE, f"Call `{key}.eval()` before evaluating (it stays in evaluation mode)",
                       (self._edit(target, eval_statement, at_start),))
        return None

    def _insertion_points(self, scope: Scope, stmt: StatementInfo, root: str, training):
        """Where `model.eval()` may go, best first: the start of an evaluation function, before the
        outermost `with no_grad()` / loop around the call, before the call's own statement."""
        own = stmt.node if stmt.listed else None
        local_bindings = [b for b in scope.bindings.get(root, []) if b.kind != "param"] if root != "self" else []
        if scope.kind == "function" and not training and not local_bindings and self._evaluation_function(scope):
            body = scope.node.body
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
            if node is not own and type(node).__name__ not in _COMPOUND_TARGETS:
                continue
            last = self._extent(node, info, scope)
            if any(info.seq <= t.seq <= last for t in training):
                continue
            yield node, info, False

    def _evaluation_function(self, scope: Scope) -> bool:
        function = scope.node
        if _evaluation_name(function.name.value):
            return True
        outer = self.analysis.index.statements[id(function)]
        return any(grad_mode(self.analysis, d.decorator, (outer.scope, outer)) is False for d in function.decorators)

    def _leaks(self, events: List[Event], training) -> bool:
        """Would the inserted `.eval()` still be in force at some training statement?"""
        return any(FIXED in modes for t in training for modes in self._paths(events, t.seq, t.blocks, t.loops))

    def _escapes(self, root: str, scope: Scope) -> bool:
        """Does the model outlive the scope (a parameter, an attribute, a global, a return value)?"""
        if scope.kind == "module":
            return False
        bindings = scope.bindings.get(root, [])
        if root == "self" or root in scope.global_names or not bindings or any(b.kind == "param" for b in bindings):
            return True
        return any(value is not None and _returns(value, root) for value, _ in scope.returns)

    def _edit(self, target, statement, at_start: bool) -> Edit:
        if at_start:  # keep the comment above the function's first statement with it
            return Edit(target, cst.FlattenSentinel([statement, target]))
        return Edit(target, insert_before(target, statement))

    def _extent(self, node, info: StatementInfo, scope: Scope) -> int:
        """Number of the last statement inside `node` (in the same scope)."""
        return max((i.seq for i in self.analysis.index.statements.values()
                    if i.scope is scope and any(e is node for e in i.enclosing)), default=info.seq)

# ---------------------------------------------------------------------- helpers
def _key(expr) -> Optional[str]:
    """`model` / `self.model` / `trainer.model`: a dotted name, or None."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = _key(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


def _covers(setter: str, key: str) -> bool:
    """`model.eval()` also switches `model.encoder`."""
    return key == setter or key.startswith(setter + ".")


def _setter_mode(call: cst.Call) -> str:
    """`.eval()` and `.train(False)` switch to evaluation; `.train(flag)` with an unknown flag
    counts as a possible switch (so the rule stays silent)."""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "eval":
        return EVAL
    if not call.args:
        return TRAIN
    value = call.args[0].value
    if isinstance(value, cst.Name) and value.value == "True":
        return TRAIN
    return EVAL


def _words(name: str) -> Set[str]:
    return set(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().split("_")) - {""}


def _evaluation_name(name: str) -> bool:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().strip("_").split("_")
    return bool(set(words) & _EVAL_WORDS) and words[-1] not in ("step", "batch")


def _model_name(name: str) -> bool:
    words = name.lower().rstrip("0123456789_").split("_")
    return words[-1] in _MODEL_WORDS or words[-1].endswith(("model", "net"))


def _optimizer_like(expr) -> bool:
    key = _key(expr)
    return key is not None and "opt" in key.split(".")[-1].lower()


def _is_docstring(statement) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _returns(expr, name: str) -> bool:
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


def _exits(node) -> bool:
    """Does `node` contain a return/raise/break/continue/yield (so code after it may not run)?"""
    if type(node).__name__ in _EXITS:
        return True
    if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        return False
    return any(_exits(child) for child in node.children)


def _message(key: str, context: str, scope: Scope, layers) -> str:
    if context == "grad":
        how = "is called with gradients off (`no_grad` does not switch modes)"
    else:
        how = f"is called in `{scope.node.name.value}()`"
    if layers.layers:
        named = ", ".join(f"`{layer}`" for layer in sorted(layers.layers))
        effect = f"its {named} act as in training"
    else:
        effect = "any dropout or batch-norm layers in it act as in training"
    return f"`{key}` {how} and may still be in training mode: {effect}; call `{key}.eval()` first"
