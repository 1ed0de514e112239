"""TL103 and TL104: a sigmoid output reaching binary cross-entropy.

Both rules find the binary cross-entropy calls (`F.binary_cross_entropy(...)`, a `nn.BCELoss`
instance called, and their `_with_logits` forms, through any import form and variable) and ask the
shared analysis whether the input is a sigmoid's output: applied here, through a variable, or by a
model whose `forward` returns one or whose final layer is `nn.Sigmoid`.
"""

from __future__ import annotations

from typing import Optional, Tuple, cast

import libcst as cst

from torchlint.analysis.tensors import Activation
from torchlint.analysis.torch_api import BCE_FUNCTION, BCE_LOSSES, BCE_WITH_LOGITS_LOSSES
from torchlint.rule import SAFE, Edit, Fix, Rule, register

_WITH_LOGITS = "binary_cross_entropy_with_logits"
_FUNCTIONAL = "torch.nn.functional"


class _SigmoidInput(Rule):
    triggers = ("binary_cross_entropy", _WITH_LOGITS, "BCELoss", "BCEWithLogitsLoss")
    losses = frozenset()  # type: ignore[var-annotated]

    def visit_Call(self, node: cst.Call) -> None:
        given = self.analysis.tensors.loss_input_activation(node, self.losses)
        if given is None or given[1].kind != "sigmoid":
            return
        loss_input, found = given
        logits = self.analysis.tensors.activation_input_here(loss_input.value, found)
        self.report(node, self.message(found), self.fix(node, loss_input, found, logits))

    template = ""  # the finding's message; `{where}` says who applied the sigmoid, when not here

    def message(self, found: Activation) -> str:
        return self.template.format(where=self.applied_by(found))

    def fix(self, call: cst.Call, loss_input: cst.Arg, found: Activation,
            logits: Optional[cst.BaseExpression]) -> Optional[Fix]:
        return None

    def applied_by(self, found: Activation) -> str:
        """Who applies the sigmoid the loss receives, in parentheses, when it is not applied here."""
        if found.input is not None and found.where[0] is self.analysis.where()[0]:
            return ""
        if found.source is not None:
            return f" (`{found.source}` returns sigmoid outputs)"
        code = self.analysis.module.code_for_node(found.node).strip()
        if found.input is not None:
            return f" (from `{code}` in another function)"
        return f" (the model ends in `{code}`)"


def _pass_logits(loss_input: cst.Arg, found: Activation, logits: cst.BaseExpression) -> Tuple[str, Edit]:
    """The edit passing the sigmoid's input instead of its output, and what it does in words."""
    said = "the logits" if logits is found.input else f"`{cast(cst.Name, logits).value}` (the logits)"
    return f"Pass {said}", Edit(loss_input.value, logits)


@register
class SigmoidBeforeBCEWithLogits(_SigmoidInput):
    """
    ## What it does
    Finds a sigmoid output passed to `nn.BCEWithLogitsLoss` or `F.binary_cross_entropy_with_logits`:
    directly (`criterion(torch.sigmoid(logits), y)`), through a variable, or through a model whose
    `forward` returns a sigmoid or whose final `nn.Sequential` layer is `nn.Sigmoid`.

    ## Why is this bad?
    `BCEWithLogitsLoss` applies the sigmoid itself, so it computes `sigmoid(sigmoid(z))`. A
    probability lies in [0, 1], so the second sigmoid lies in [0.5, 0.73]: the predicted
    probability of the positive class can never fall below one half, the loss can never fall
    below 0.31 (positive targets) or 0.69 (negative ones), and the gradients are squashed by the
    second sigmoid's slope (at most 1/4). Training runs and the loss goes down a little, so
    nothing fails loudly.

    ## Example
    ```python
    loss = F.binary_cross_entropy_with_logits(torch.sigmoid(logits), y)
    ```

    ## Use instead
    ```python
    loss = F.binary_cross_entropy_with_logits(logits, y)
    ```

    ## Fix safety
    Safe when the sigmoid is applied in the same function: the fix passes its input (the
    logits), when that is the same value at the loss (not rebound in between); the sigmoid stays
    where other code uses it. No fix when the model applies it: remove the model's final sigmoid
    and apply it where probabilities are needed.

    ## Source
    Note 003 (the BCELoss section): the loss wants a sigmoid before `BCELoss`; its `_with_logits`
    form wants none, and code moving from one to the other keeps the sigmoid.
    """

    code = "TL103"
    name = "sigmoid-before-bce-with-logits"
    summary = "sigmoid output passed to BCEWithLogitsLoss, which applies the sigmoid itself"
    fix_safety = SAFE
    losses = BCE_WITH_LOGITS_LOSSES

    template = ("BCEWithLogitsLoss applies the sigmoid itself: given sigmoid outputs{where}, it predicts no "
                "probability below 0.5, so the loss cannot approach zero and the gradients shrink; pass the logits")

    def fix(self, call: cst.Call, loss_input: cst.Arg, found: Activation,
            logits: Optional[cst.BaseExpression]) -> Optional[Fix]:
        if logits is None:
            return None
        said, edit = _pass_logits(loss_input, found, logits)
        return Fix(SAFE, said, (edit,))


@register
class BCEOnSigmoidOutput(_SigmoidInput):
    """
    ## What it does
    Finds a sigmoid output passed to `nn.BCELoss` or `F.binary_cross_entropy`: directly
    (`F.binary_cross_entropy(torch.sigmoid(logits), y)`), through a variable, or through a model
    whose `forward` returns a sigmoid or whose final layer is `nn.Sigmoid` (a GAN discriminator).

    ## Why is this bad?
    The sigmoid and the log of the loss, computed apart, lose what `BCEWithLogitsLoss` keeps by
    computing them together (`log(sigmoid(z))` as `-softplus(-z)`):
    - Where the sigmoid saturates, its output rounds to exactly 0 or 1, and `BCELoss` clamps the
      log at -100. A confidently wrong prediction (in float32, a logit of 17 or more for a
      negative target) then gets a loss of 100 and a gradient of exactly zero: the example stops
      training, where it should pull hardest. Below that, the loss is already off by rounding
      (a logit of 16 gives 15.94 for 16).
    - `BCELoss` and `F.binary_cross_entropy` are refused under CUDA autocast (mixed precision):
      `torch.autocast("cuda")` raises `RuntimeError` and points to `BCEWithLogitsLoss`.
    - `BCEWithLogitsLoss` also takes `pos_weight`, for imbalanced classes.

    ## Example
    ```python
    loss = F.binary_cross_entropy(torch.sigmoid(logits), y)
    ```

    ## Use instead
    ```python
    loss = F.binary_cross_entropy_with_logits(logits, y)
    probs = torch.sigmoid(logits)  # where probabilities are needed
    ```

    ## Fix safety
    Safe for `F.binary_cross_entropy` when the sigmoid is applied in the same function and its
    input is the same value at the loss: the fix calls `binary_cross_entropy_with_logits` on the
    logits, with the same target, weight and reduction. The loss is the same up to rounding,
    except where the old one was clamped or its gradient vanished. No fix for `nn.BCELoss` (the
    criterion may be used elsewhere with probabilities) or when the model applies the sigmoid:
    drop the model's final sigmoid, use `BCEWithLogitsLoss`, and apply the sigmoid at inference.

    ## Source
    Note 003 (the BCELoss section): "before computing the loss with nn.BCELoss, apply a sigmoid to
    the prediction". Right about `BCELoss`; the stable form is `BCEWithLogitsLoss` on the logits.
    """

    code = "TL104"
    name = "bce-on-sigmoid-output"
    summary = "sigmoid output passed to BCELoss; BCEWithLogitsLoss on the logits is stable and autocast-safe"
    fix_safety = SAFE
    losses = BCE_LOSSES

    template = ("binary cross-entropy on a sigmoid output{where} is clamped where the sigmoid saturates "
                "(confidently wrong predictions get a zero gradient) and is refused under CUDA autocast; use "
                "BCEWithLogitsLoss / binary_cross_entropy_with_logits on the logits")

    def fix(self, call: cst.Call, loss_input: cst.Arg, found: Activation,
            logits: Optional[cst.BaseExpression]) -> Optional[Fix]:
        func = call.func
        if (logits is None or not isinstance(func, cst.Attribute) or self.analysis.qualified_name(func) != BCE_FUNCTION
                or self.analysis.qualified_name(func.value) != _FUNCTIONAL):
            return None  # (a bare `binary_cross_entropy` name: its logits form is not imported)
        said, edit = _pass_logits(loss_input, found, logits)
        rename = Edit(func.attr, func.attr.with_changes(value=_WITH_LOGITS))
        return Fix(SAFE, f"Call `{_WITH_LOGITS}`; {said[0].lower()}{said[1:]}", (rename, edit))
