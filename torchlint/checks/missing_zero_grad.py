from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.checks._syntax import insert_before, statement_of
from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import dotted_name


@dataclass
class _Loop:
    """What one iteration of a loop body does to gradients, as far as the traversal has seen."""

    ifs: int  # the `if` depth at the loop: a step under a deeper one is conditional in this loop
    backwards: List[Tuple[cst.Call, Where]] = field(default_factory=list)
    steps: List[Tuple[cst.Call, cst.BaseExpression, Where, bool]] = field(default_factory=list)
    clears: bool = False  # something in the body clears gradients, or may
    assigned: Set[str] = field(default_factory=set)  # names and `self.x` (re)bound in the body


@register
class MissingZeroGrad(Rule):
    """
    ## What it does
    Finds a loop that computes gradients (`loss.backward()`) and steps an optimizer on every
    iteration (`optimizer.step()`, or `scaler.step(optimizer)` with AMP) while nothing in the loop
    clears the gradients: no `optimizer.zero_grad()`, `model.zero_grad()`, `p.grad = None`, and no
    call that may do it. The optimizer must be one the file builds with a `torch.optim` class.

    It stays silent when the step is conditional (`if (i + 1) % accumulation == 0:`, gradient
    accumulation by design), when `zero_grad` is named anywhere in the loop (also as a callback),
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
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Fix safety
    Safe when the loop body has one `.backward()` and one step, in the same block, the backward
    first: the fix inserts `optimizer.zero_grad()` right before the statement with `.backward()`,
    so each step applies that iteration's gradients, which is what a loop without accumulation
    means. No fix for other shapes (several backward passes or optimizers in one iteration,
    a backward in another block): where to clear is then the author's choice.

    ## Source
    Note 003 (the `optim` section): `optimizer.zero_grad()` "clears the gradients", before the
    forward and backward pass of each step. Note 001's training loops call it on every iteration.
    """

    code = "TL302"
    name = "missing-zero-grad"
    summary = "optimizer stepped in a loop that never clears gradients: each step applies their running sum"
    fix_safety = SAFE
    triggers = (".step",)

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._loops: List[_Loop] = []
        self._outer: List[List[_Loop]] = []  # the loops around a nested function or class
        self._ifs = 0
        self._reported: Set[int] = set()

    # ------------------------------------------------------------------ where the traversal is
    def visit_For(self, node: cst.For) -> None:
        self._loops.append(_Loop(self._ifs))

    def leave_For(self, original_node: cst.For) -> None:
        self._judge(self._loops.pop())

    def visit_While(self, node: cst.While) -> None:
        self._loops.append(_Loop(self._ifs))

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
        optimizer = gradients.stepped(node, where)
        if optimizer is not None:
            for loop in self._loops:
                loop.steps.append((node, optimizer, where, self._ifs > loop.ifs))
        elif gradients.backpropagates(node, where):
            for loop in self._loops:
                loop.backwards.append((node, where))
        elif gradients.may_clear(node, where):
            self._clear()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._loops and node.attr.value == "zero_grad":
            self._clear()  # called, or handed on as a callback

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
        if loop.clears or not loop.backwards:
            return
        for call, optimizer, where, conditional in loop.steps:
            name = dotted_name(optimizer) if isinstance(optimizer, (cst.Name, cst.Attribute)) else None
            if conditional or id(call) in self._reported or (name is not None and name in loop.assigned):
                continue
            self._reported.add(id(call))
            shown = self.analysis.module.code_for_node(optimizer).strip()
            self.report(call, (
                f"`{shown}` is stepped on every iteration of this loop, but nothing in the loop clears the "
                "gradients: each `.backward()` adds to those of all earlier iterations, so every step applies "
                f"their running sum; call `{shown}.zero_grad()` before `.backward()`"
            ), self._fix(loop, optimizer, shown))

    def _fix(self, loop: _Loop, optimizer: cst.BaseExpression, shown: str) -> Optional[Fix]:
        if len(loop.backwards) != 1 or len(loop.steps) != 1 or dotted_name(optimizer) is None:
            return None
        (_, backward_where), (_, _, step_where, _) = loop.backwards[0], loop.steps[0]
        backward, step = backward_where[1], step_where[1]
        if (backward.blocks != step.blocks or backward.seq >= step.seq or not backward.listed
                or not isinstance(backward.node, cst.SimpleStatementLine)):
            return None
        line = backward.node
        return Fix(SAFE, f"Insert `{shown}.zero_grad()` before the backward pass",
                   (Edit(line, insert_before(line, statement_of(f"{shown}.zero_grad()\n"))),))  # type: ignore[arg-type]
