"""TL101 and TL102: what reaches CrossEntropyLoss must be logits.

Both rules find the cross-entropy calls (`F.cross_entropy(...)`, a `nn.CrossEntropyLoss`
instance called, through any import form and variable) and ask the shared analysis which
activation produced the input. They differ in the activation and in what the finding means.
"""

from __future__ import annotations

from typing import Optional, cast

import libcst as cst

from torchlint.analysis.tensors import Activation
from torchlint.analysis.torch_api import CROSS_ENTROPY_CLASSES, CROSS_ENTROPY_FUNCTIONS
from torchlint.rule import SAFE, Edit, Fix, Rule, register

_CROSS_ENTROPY = CROSS_ENTROPY_FUNCTIONS | CROSS_ENTROPY_CLASSES


class _CrossEntropyInput(Rule):
    activation_kind = ""
    triggers = ("cross_entropy", "CrossEntropyLoss")

    def visit_Call(self, node: cst.Call) -> None:
        given = self.analysis.tensors.loss_input_activation(node, _CROSS_ENTROPY)
        if given is None or given[1].kind != self.activation_kind:
            return
        loss_input, found = given
        self.report(node, self.message(found), self._fix(loss_input, found))

    def message(self, found: Activation) -> str:
        raise NotImplementedError

    def in_same_function(self, found: Activation) -> bool:
        """The activation is applied in the function that computes the loss (not by the model)."""
        return found.input is not None and found.where[0] is self.analysis.where()[0]

    def layer_text(self, found: Activation) -> str:
        """The layer or call here that applies the activation."""
        return self.analysis.module.code_for_node(found.node).strip()

    def origin_text(self, found: Activation) -> str:
        if found.source is not None:
            return f" (`{found.source}` returns {found.kind} outputs)"
        return f" (the model ends in `{self.layer_text(found)}`)"

    def _fix(self, loss_input: cst.Arg, found: Activation) -> Optional[Fix]:
        """Pass the activation's input instead of its output, when that is the same value here."""
        logits = self.analysis.tensors.activation_input_here(loss_input.value, found) if self.fix_allowed(found) else None
        if logits is None:
            return None
        if logits is found.input:
            return Fix(SAFE, "Pass the logits", (Edit(loss_input.value, logits),))
        name = cast(cst.Name, logits).value  # (otherwise the input itself is passed)
        return Fix(SAFE, f"Pass `{name}` (the logits)", (Edit(loss_input.value, logits),))

    def fix_allowed(self, found: Activation) -> bool:
        return True


@register
class SoftmaxBeforeCrossEntropy(_CrossEntropyInput):
    """
    ## What it does
    Finds a softmax output passed to `nn.CrossEntropyLoss` or `F.cross_entropy`: directly
    (`criterion(F.softmax(logits, 1), y)`), through a variable, or through a model whose
    `forward` returns a softmax or whose final `nn.Sequential` layer is `nn.Softmax`.

    ## Why is this bad?
    `CrossEntropyLoss` expects raw, unnormalised logits: it applies `log_softmax` itself. Given
    probabilities, it computes `log_softmax(softmax(z))`: probabilities lie in [0, 1], so the
    second softmax sees inputs that differ by at most 1 and the loss is squashed towards
    `log(num_classes)`, with gradients far smaller than they should be. Training still runs and
    the loss still goes down a little, which is why this bug survives: the model just learns slowly
    and calibrates badly.

    ## Example
    ```python
    probs = F.softmax(model(x), dim=1)
    loss = criterion(probs, y)
    ```

    ## Use instead
    ```python
    logits = model(x)
    loss = criterion(logits, y)
    probs = F.softmax(logits, dim=1)  # for metrics only
    ```

    ## Fix safety
    Safe when the softmax is applied in the same function: the fix passes the softmax's input
    (the logits) to the loss, and keeps the softmax where other code uses it. It is offered only
    when that input is the same value at the loss (not rebound in between). When the softmax is
    inside the model (its `forward` or last layer), there is no automatic fix: remove the layer
    from the model and apply softmax at inference time.

    ## Source
    Note 001, "Pytorch注意点总结" item 4: "CrossEntropyLoss already contains softmax, do not add a
    softmax layer before it". Right: strictly it contains `log_softmax` + `NLLLoss`.
    """

    code = "TL101"
    name = "softmax-before-cross-entropy"
    summary = "softmax output passed to CrossEntropyLoss, which expects logits"
    fix_safety = SAFE
    activation_kind = "softmax"

    def message(self, found: Activation) -> str:
        where = "" if self.in_same_function(found) else self.origin_text(found)
        return ("CrossEntropyLoss applies log_softmax itself: giving it softmax probabilities" + where
                + " squashes the loss and shrinks its gradients; pass the logits")


@register
class RedundantLogSoftmaxBeforeCrossEntropy(_CrossEntropyInput):
    """
    ## What it does
    Finds a `log_softmax` output passed to `nn.CrossEntropyLoss` or `F.cross_entropy`: directly,
    through a variable, or through a model that ends in `nn.LogSoftmax` / returns `log_softmax`.

    ## Why is this bad?
    Not for the reason usually given. `log_softmax` is idempotent:
    `log_softmax(log_softmax(z)) == log_softmax(z)`, because the exponentials of log-probabilities
    already sum to one. So `CrossEntropyLoss(log_softmax(z), y)` computes exactly the same loss and
    gradients as `CrossEntropyLoss(z, y)` (torchlint's proof checks this to 1e-6). The cost is
    redundant work and a misleading model: the code reads as if the loss needed log-probabilities,
    and the next person may "fix" it by switching the activation to softmax, which is TL101's
    real bug. Either pass the logits to `CrossEntropyLoss`, or keep the `log_softmax` and use
    `NLLLoss`, which is what a model ending in `LogSoftmax` is designed for.

    ## Example
    ```python
    loss = F.cross_entropy(F.log_softmax(logits, dim=1), y)
    ```

    ## Use instead
    ```python
    loss = F.cross_entropy(logits, y)
    # or
    loss = F.nll_loss(F.log_softmax(logits, dim=1), y)
    ```

    ## Fix safety
    Safe when the `log_softmax` is applied in the same function over the class dimension
    (`dim=1` or `dim=-1`): the fix passes its input, which gives the same loss. Other `dim`
    values are reported without a fix (there the `log_softmax` changes the result). When the
    `log_softmax` is inside the model there is no automatic fix: use `NLLLoss` for that criterion.

    ## Source
    Note 001: the VAE/backbone code ends its classifier in `nn.LogSoftmax` and trains it with
    `CrossEntropyLoss`; the notes call the combination wrong. It is redundant, not wrong: the
    numbers are the same, as this page explains.
    """

    code = "TL102"
    name = "redundant-log-softmax-before-cross-entropy"
    summary = "log_softmax output passed to CrossEntropyLoss, which applies log_softmax itself"
    fix_safety = SAFE
    activation_kind = "log_softmax"

    def message(self, found: Activation) -> str:
        if self.in_same_function(found) and self.fix_allowed(found) and not found.reshaped:
            return ("CrossEntropyLoss applies log_softmax itself, and log_softmax is idempotent: this "
                    "log_softmax gives the same loss for extra work; pass the logits")
        if self.in_same_function(found):
            return ("CrossEntropyLoss applies log_softmax over the class dimension itself: this log_softmax "
                    "is redundant over that dimension and changes the loss over any other; pass the logits")
        final = (f"`{found.source}`'s final log_softmax" if found.source is not None
                 else f"the model's final `{self.layer_text(found)}`")
        return (f"CrossEntropyLoss applies log_softmax itself: {final} "
                "is redundant work (same loss); use NLLLoss with it, or drop it and keep CrossEntropyLoss")

    def fix_allowed(self, found: Activation) -> bool:
        """Only over the class dimension (1, or -1 for (N, C) inputs) is dropping log_softmax
        value-preserving."""
        dim = found.dim
        if isinstance(dim, cst.UnaryOperation) and isinstance(dim.operator, cst.Minus):
            dim = dim.expression
        return isinstance(dim, cst.Integer) and dim.value == "1"
