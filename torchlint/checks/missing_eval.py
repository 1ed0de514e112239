"""TL301: a model with dropout or batch norm evaluated while it is still in training mode.

The facts come from the analysis (torchlint/analysis/modes.py: the mode of a module at a
statement, and whether a call evaluates); this rule only combines them and builds the fix.
"""

from __future__ import annotations

from typing import List, Optional, Set, Tuple, cast

import libcst as cst

from torchlint.analysis import Where
from torchlint.analysis.kinds import ValueKind
from torchlint.analysis.model_classes import ModeLayers
from torchlint.analysis.modes import Evaluation, Insertion, Mode, dotted
from torchlint.analysis.uses import PRINTED
from torchlint.analysis.torch_api import MODULE_ONLY_METHODS, MODULE_RETURNING_METHODS
from torchlint.checks._syntax import insert_before, statement_of
from torchlint.rule import SAFE, SOMETIMES, UNSAFE, Edit, Fix, Rule, register

_NOT_FORWARD = MODULE_ONLY_METHODS | MODULE_RETURNING_METHODS


@register
class MissingEval(Rule):
    """
    ## What it does
    Finds a model with dropout or batch-norm layers (or layers that cannot be seen) that is
    evaluated while it is surely still in training mode: called with gradients off
    (`torch.no_grad()` / `torch.inference_mode()` blocks or decorated functions), its output used
    for its values (returned, compared, given to a loss or metric, collected, accumulated), after
    a `.train()` or a fresh construction (new modules start in training mode) with no `.eval()` /
    `.train(False)` since. Enclosing loops are followed, so an epoch loop that calls
    `model.train()` at its top and then validates without `.eval()` is found, as is one that calls
    `.eval()` once before the loop while a helper of the file switches back to training each epoch.

    Everything rests on evidence, never on how names are spelled:
    - the called thing is a module: its value is an `nn.Module` (followed through assignments,
      factories and the classes of the project), or a parameter that every call site in the file
      passes a module;
    - its mode: `.eval()`, `.train()`, `.train(False)`, `model.apply(lambda m: m.eval())`, helpers
      of this file that switch it (read from their bodies), `if not model.training:` branches, and
      a parameter's mode at the call sites of this file; `.to()` / `.cuda()` keep the mode;
    - the model's layers are read from the classes of the project (what `__init__` assigns,
      inside `nn.Sequential` / `nn.ModuleList` and nested classes too): a model made only of
      `nn.Linear`, `nn.Conv2d`, `nn.LayerNorm`, activations and the like computes the same in both
      modes and is not reported. Reported layers: `nn.Dropout*`, `nn.BatchNorm*`,
      `nn.SyncBatchNorm`, `nn.InstanceNorm*(track_running_stats=True)`, `nn.RReLU`, RNNs, attention
      and transformer layers with dropout, and any class that reads `self.training`.

    Left alone, on purpose (when in doubt, silent):
    - a model whose mode is not surely training on some way to the call: a parameter with no
      call site in the file, `self.model` of a class that switches it anywhere, a model handed
      to a function this file cannot read (it may switch it), a loaded, scripted or exported model
      (`torch.load`, `torch.jit.load`, ONNX runners: their mode was fixed when saved);
    - `self(...)` and `self.layer(...)` inside a class that may be an `nn.Module` (a base class
      from another module, Lightning): the module's owner sets its mode;
    - an output whose values are not used: a shape smoke test (`print(net(x).size())`), an
      assert, a discarded call, or a print of a model just built (no weights loaded, no training);
    - a no-grad block inside a training step (its loop body, or function body, also calls
      `.backward()` / `optimizer.step()` / `.zero_grad()`): target networks, EMA teachers and
      sample images computed under `no_grad` there are often meant to run in training mode;
    - an explicit `model.train()` followed by no-grad calls with no training in that function:
      Monte Carlo dropout and BatchNorm recalibration (`torch.optim.swa_utils.update_bn`);
    - any path on which `.eval()` or `.train(False)` may have run, or on which the mode is not
      known, and `.train(flag)` with a non-literal flag;
    - loss modules (`criterion = nn.CrossEntropyLoss()`): they compute the same in both modes.

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
    before the evaluation: at the start of the function when the model comes from the caller and
    the function does not train (or the whole function runs under `@torch.no_grad()`), else before
    the outermost `with torch.no_grad():` block, loop or statement that evaluates. It is safe when
    nothing after it runs in the mode it leaves behind: the model is local and nothing trains
    afterwards, or the loop sets `.train()` again before training. When the evaluation sits in a
    training loop that relies on one `model.train()` before the loop (in this function), the fix
    also puts `model.train()` after the evaluation block, restoring the mode the code had, and is
    safe. It is unsafe, applied only with `--unsafe-fixes`, when the model comes from the caller (a
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
    triggers = ("no_grad", "inference_mode", "set_grad_enabled")

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._candidates: List[Tuple[cst.Call, cst.BaseExpression, str, Where]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        target = func.value if isinstance(func, cst.Attribute) and func.attr.value == "forward" else func
        if target is func and isinstance(func, cst.Attribute) and func.attr.value in _NOT_FORWARD:
            return
        key = dotted(target)
        # A name bound by an enclosing lambda or comprehension is not the scope's variable.
        if key is not None and self.analysis.reaching(key.split(".")[0]):
            self._candidates.append((node, target, key, self.analysis.where()))

    def finish(self) -> None:
        reported: Set[Tuple[int, str]] = set()
        for node, target, key, where in self._candidates:
            if (id(where[0]), key) not in reported and self._check(node, target, key, where):
                reported.add((id(where[0]), key))

    def _check(self, node: cst.Call, target: cst.BaseExpression, key: str, where: Where) -> bool:
        if self.analysis.grad_enabled(where) is not False:
            return False  # cheap questions first
        layers = self._layers(target, where)
        if layers is None or not layers.depends_on_mode:
            return False
        if self.analysis.kind(target, where).kind is ValueKind.LOSS:
            return False  # `criterion(out, y)`: a loss module computes the same in both modes
        modes = self.analysis.modes
        answer = modes.mode_at(target, where)
        if answer.mode is not Mode.TRAIN or answer.deliberate:
            return False
        evaluation = modes.evaluation(node, where)
        if evaluation is None or (evaluation.use == PRINTED and answer.untrained):
            return False  # not an evaluation, or a print of a model just built: a smoke test
        fix = self._fix(key, modes.eval_insertion(target, where))
        self.report(node, _message(key, evaluation, layers), fix)
        return True

    def _layers(self, target: cst.BaseExpression, where: Where, depth: int = 0) -> Optional[ModeLayers]:
        """The mode-dependent layers of the model, or None when it is not known to be a module:
        its value is one, or every call site of this file passes one for the parameter (whose
        layers then come from those arguments: a loss module passed as `criterion` has none)."""
        layers = None
        if self.analysis.values.is_module(target, where):
            layers = self.analysis.model_classes.of_value(target, where)
            if not layers.unknown:
                return layers
        sites = self.analysis.modes.call_site_arguments(target, where) if depth < 3 else []
        found = [self._layers(value, site, depth + 1) for value, site in sites]
        if not found or any(f is None for f in found):
            return layers
        result = ModeLayers()
        for f in found:
            result |= f  # type: ignore[operator]
        return result

    def _fix(self, key: str, insertion: Optional[Insertion]) -> Optional[Fix]:
        if insertion is None:
            return None
        target = cast(cst.BaseStatement, insertion.statement)
        eval_statement = statement_of(f"{key}.eval()\n")
        if insertion.at_start:  # keep the comment above the function's first statement with it
            edit = _edit(target, cst.FlattenSentinel([eval_statement, target]))
        elif insertion.restore:
            nodes = [*insert_before(target, eval_statement).nodes, statement_of(f"{key}.train()\n")]
            return Fix(SAFE, f"Call `{key}.eval()` before evaluating and `{key}.train()` after",
                       (_edit(target, cst.FlattenSentinel(nodes)),))
        else:
            edit = _edit(target, insert_before(target, eval_statement))
        if insertion.safe:
            return Fix(SAFE, f"Call `{key}.eval()` before evaluating", (edit,))
        return Fix(UNSAFE, f"Call `{key}.eval()` before evaluating (it stays in evaluation mode)", (edit,))


def _edit(old: cst.CSTNode, new: cst.FlattenSentinel) -> Edit:
    return Edit(old, cast(cst.CSTNode, new))  # the engine replaces a statement with several


def _message(key: str, evaluation: Evaluation, layers: ModeLayers) -> str:
    if layers.layers:
        named = ", ".join(f"`{layer}`" for layer in sorted(layers.layers))
        effect = f"its {named} act as in training"
    else:
        effect = "any dropout or batch-norm layers in it act as in training"
    return (f"`{key}` is evaluated while still in training mode ({evaluation.context}; its output is "
            f"{evaluation.use}): {effect}; call `{key}.eval()` first")
