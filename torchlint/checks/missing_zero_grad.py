from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.analysis.gradients import CLEARING
from torchlint.analysis.torch_api import OPTIMIZER_PREFIX
from torchlint.checks._syntax import insert_after, statement_of
from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import dotted_name


_STEP_HOOKS = frozenset({"register_step_post_hook", "register_step_pre_hook"})


@dataclass
class _Loop:
    """What one iteration of a loop body does to gradients, as far as the traversal has seen."""

    node: cst.CSTNode
    ifs: int  # the `if` depth at the loop: a step under a deeper one is conditional in this loop
    backwards: List[Tuple[cst.Call, Where]] = field(default_factory=list)
    steps: List[Tuple[cst.Call, cst.BaseExpression, Where, bool]] = field(default_factory=list)
    calls: List[Tuple[cst.Call, Where]] = field(default_factory=list)  # the other calls: may one clear?
    clears: bool = False  # something in the body names `zero_grad` or assigns a `.grad`
    assigned: Set[str] = field(default_factory=set)  # names and `self.x` (re)bound in the body

    def runs_in_body(self, where: Where) -> bool:
        """The statement is in the loop's body, not in its `else:` clause (which runs once)."""
        return (id(self.node), "else") not in where[1].blocks


@register
class MissingZeroGrad(Rule):
    """
    ## What it does
    Finds a loop that computes gradients (`loss.backward()`) and steps an optimizer on every
    iteration (`optimizer.step()`, or `scaler.step(optimizer)` with AMP) while nothing in the loop
    clears the gradients: no `optimizer.zero_grad()`, `model.zero_grad()`, `p.grad = None`, and no
    call that may do it. The optimizer must be one the file builds with a `torch.optim` class.

    It stays silent when the step is conditional (`if (i + 1) % accumulation == 0:`, gradient
    accumulation by design), when the body runs once (it ends in `break` or `return`), for a
    step in the loop's `else:`, when `zero_grad` is named anywhere in the loop (also as a
    callback or in a lambda),
    when the loop calls a function of this file that may clear gradients (followed a few calls
    deep), a method of the object itself that the file does not show, or a function that is
    handed the model or the optimizer (`helper(model, optimizer)`: it may clear them), when the
    optimizer is rebuilt in the loop, and for `optimizer.step(closure)` (the closure clears).

    ## Why is this bad?
    `backward()` adds to each parameter's `.grad`; it never replaces it. Without clearing, the
    gradient applied at step `k` is the sum of the gradients of all `k` iterations so far: the
    updates grow with every step, as if the learning rate rose linearly, and training diverges
    or oscillates. Nothing raises.

    ## Example
    ```python
    optimizer.zero_grad()
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    ```

    ## Fix safety
    Safe when the loop steps one optimizer, in a statement of its own, with no backward pass
    after it in the body: the fix inserts `optimizer.zero_grad()` right after the step, so each
    step applies the gradients gathered since the one before (one iteration's, or several when a
    `continue` skips steps, and a backward in a helper still counts). No fix when the loop steps
    several optimizers (a GAN: each must be cleared before its own backward pass) or a backward
    follows the step: where to clear is then the author's choice.

    ## Source
    Note 003 (the `optim` section): `optimizer.zero_grad()` "clears the gradients", before the
    forward and backward pass of each step. Note 001's training loops call it on every iteration.
    """

    code = "TL302"
    name = "missing-zero-grad"
    summary = "optimizer stepped in a loop that never clears gradients: each step applies their running sum"
    fix_safety = SAFE
    triggers = (".step",)

    @classmethod
    def could_fire(cls, references) -> bool:
        """Only where the file names a `torch.optim` class (the optimizers it reports are built by
        one) and some loop uses `.step` and `.backward` but never names `zero_grad`."""
        return any("step" in used and "backward" in used and CLEARING not in used
                   for used in references.loop_attributes()) and any(
            name.startswith(OPTIMIZER_PREFIX) for name in references.names)

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._loops: List[_Loop] = []
        self._outer: List[List[_Loop]] = []  # the loops around a nested function or class
        self._ifs = 0
        self._reported: Set[int] = set()
        self._hooked = False

    # ------------------------------------------------------------------ where the traversal is
    def visit_For(self, node: cst.For) -> None:
        self._loops.append(_Loop(node, self._ifs))

    def leave_For(self, original_node: cst.For) -> None:
        self._judge(self._loops.pop())

    def visit_While(self, node: cst.While) -> None:
        self._loops.append(_Loop(node, self._ifs))

    def leave_While(self, original_node: cst.While) -> None:
        self._judge(self._loops.pop())

    def visit_If(self, node: cst.If) -> None:
        self._ifs += 1

    def leave_If(self, original_node: cst.If) -> None:
        self._ifs -= 1

    def visit_Match(self, node: cst.Match) -> None:
        self._ifs += 1

    def leave_Match(self, original_node: cst.Match) -> None:
        self._ifs -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._outer.append(self._loops)  # a function defined in a loop does not run there
        self._loops = []

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._loops = self._outer.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._outer.append(self._loops)
        self._loops = []

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._loops = self._outer.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._outer.append(self._loops)
        self._loops = []

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._loops = self._outer.pop()

    # ------------------------------------------------------------------ what the body does
    def visit_Call(self, node: cst.Call) -> None:
        if not self._loops:
            return
        gradients = self.analysis.gradients
        where = self.analysis.where()
        loops = [loop for loop in self._loops if loop.runs_in_body(where)]
        optimizer = gradients.stepped(node, where)
        if optimizer is not None:
            for loop in loops:
                loop.steps.append((node, optimizer, where, self._ifs > loop.ifs))
        elif gradients.backpropagates(node, where):
            for loop in loops:
                loop.backwards.append((node, where))
        else:
            for loop in loops:
                loop.calls.append((node, where))  # (asked only of a loop that would be reported)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in _STEP_HOOKS:
            self._hooked = True  # a hook on the step may clear after it
        if node.attr.value == CLEARING:
            # Called, handed on as a callback, or in a function or lambda made here: it clears.
            for loops in self._outer + [self._loops]:
                for loop in loops:
                    loop.clears = True

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._assigned(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._assigned(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._assigned(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._assigned(node.target)

    def _assigned(self, target: cst.BaseExpression) -> None:
        if not self._loops:
            return
        if self.analysis.gradients.clears_by_assignment(target):
            self._clear()
        names = [target] if not isinstance(target, (cst.Tuple, cst.List)) else [e.value for e in target.elements]
        for name in names:
            dotted = dotted_name(name) if isinstance(name, (cst.Name, cst.Attribute)) else None
            if dotted:
                for loop in self._loops:
                    loop.assigned.add(dotted)

    def _clear(self) -> None:
        for loop in self._loops:
            loop.clears = True

    # ------------------------------------------------------------------ judging a loop
    def _judge(self, loop: _Loop) -> None:
        if loop.clears or not loop.backwards or self._hooked or _runs_once(loop.node):
            return
        candidates = []
        for call, optimizer, where, conditional in loop.steps:
            name = dotted_name(optimizer) if isinstance(optimizer, (cst.Name, cst.Attribute)) else None
            if not (conditional or id(call) in self._reported or (name is not None and name in loop.assigned)):
                candidates.append((call, optimizer, where))
        if not candidates:
            return
        gradients = self.analysis.gradients
        if any(gradients.may_clear(call, where) for call, where in loop.calls):
            loop.clears = True
            return
        for call, optimizer, where in candidates:
            self._reported.add(id(call))
            shown = self.analysis.module.code_for_node(optimizer).strip()
            self.report(call, (
                f"`{shown}` is stepped on every iteration of this loop, but nothing in the loop clears the "
                "gradients: each `.backward()` adds to those of all earlier iterations, so every step applies "
                f"their running sum; clear them once per step (`{shown}.zero_grad()` after `{shown}.step()`)"
            ), self._fix(loop, optimizer, where, shown))

    def _fix(self, loop: _Loop, optimizer: cst.BaseExpression, where: Where, shown: str) -> Optional[Fix]:
        """Clear right after the one step: each step then applies the gradients gathered since the
        last one, whatever runs between (a backward in a helper, a `continue` that skips a step)."""
        if len(loop.steps) != 1 or dotted_name(optimizer) is None:
            return None
        step = where[1]
        if not step.listed or not isinstance(step.node, cst.SimpleStatementLine) or len(step.node.body) != 1:
            return None
        if any(backward[1].seq > step.seq for _, backward in loop.backwards):
            return None  # a backward after the step, for the next one: clearing there would drop it
        line = step.node
        return Fix(SAFE, f"Insert `{shown}.zero_grad()` after the step",
                   (Edit(line, insert_after(line, statement_of(f"{shown}.zero_grad()\n"))),))  # type: ignore[arg-type]


def _runs_once(loop: cst.CSTNode) -> bool:
    """The body ends in `break`, `return` or `raise`: one iteration (a smoke test of one batch)."""
    body = getattr(loop, "body", None)
    statements = getattr(body, "body", ())
    last = statements[-1] if statements else None
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Break, cst.Return, cst.Raise))
