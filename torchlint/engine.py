"""Lint and fix one source text: one parse, one traversal for all rules, fixes to a fixpoint.

Speed decisions (see DESIGN.md "Speed"): every file gets CPython's own parser first (a syntax check
ten times cheaper than LibCST, torchlint/syntax_check.py); rules run only where the file has their
evidence, in two tiers: names and attributes in the code (torchlint/triggers.py), then, for the
API-table rules, the qualified names CPython's tree shows (torchlint/references.py); a file where
no rule can fire is never parsed by LibCST; positions are computed only when a file has findings,
from the statements that hold them; the analysis is one statement walk plus bookkeeping in the
traversal.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, Type, cast

import libcst as cst

from torchlint.analysis import ModuleAnalysis
from torchlint.analysis.project import ImportContext
from torchlint.references import References
from torchlint.noqa import is_suppressed
from torchlint.parsing import parse_source
from torchlint.positions import positions
from torchlint.rule import SAFE, Edit, Finding, Fix, LintOptions, Rule
from torchlint.tree import children_lister
from torchlint.triggers import admitted, triggered

from torchlint.syntax_check import (  # noqa: F401  (the engine's names for them)
    INTERNAL_ERROR_CODE, MAX_DEPTH, MAX_SOURCE_CHARS, SYNTAX_ERROR_CODE, TOO_COMPLEX_CODE, TOO_DEEP,
    Prechecked, too_complex, prechecked, python_syntax_error_finding,
)
MAX_FIX_ROUNDS = 10
MAGIC_TIMED = ("%time",)  # evidence for TL401 that is not in the code: a timing magic of a notebook


@dataclass
class LintResult:
    """A text's findings, and its parsed module when it was parsed."""

    findings: List[Finding]
    module: Optional[cst.Module] = None  # None when the file was not parsed (no trigger, syntax error)


@dataclass
class FixResult:
    """The fixed text, what is left to report, and the fixes applied or dropped."""

    text: str
    findings: List[Finding]  # what remains after fixing
    fixed: int = 0  # number of findings fixed
    failed: List[str] = field(default_factory=list)  # fixes dropped because the result did not parse
    fixed_codes: Dict[str, int] = field(default_factory=dict)  # code -> fixes applied (--show-fixes)


def _walk(module: cst.Module, visit: Dict[str, List[Callable]], leave: Dict[str, List[Callable]]) -> None:
    """One pass over the syntax nodes in source order, calling the handlers of every rule.

    Our own walk instead of `module.visit(visitor)`: LibCST's visit rebuilds every node and
    visits every whitespace token, which costs as much as parsing; this walk reads fields only,
    skips tokens, and uses an explicit stack (no recursion limit on deep expressions). Handlers
    are looked up once per node class; a node is revisited after its children only when its
    class has leave handlers (a tuple on the stack: children are never tuples)."""
    by_type: Dict[type, Tuple[Optional[List[Callable]], Optional[List[Callable]], Callable]] = {}
    stack: List[object] = [module]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        entry = by_type.get(kind)
        if entry is None:
            if kind is tuple:
                done, leaving = cast("Tuple[cst.CSTNode, List[Callable]]", node)  # (a string: no typing per node)
                for handler in leaving:
                    handler(done)
                continue
            entry = by_type[kind] = (visit.get(kind.__name__) or None, leave.get(kind.__name__) or None,
                                     children_lister(kind, backwards=True))
        handlers, after, children = entry
        if handlers:
            for handler in handlers:
                handler(node)
        if after:
            push((node, after))
        extend(children(node))


def triggered_rules(text: str, rules: Sequence[Type[Rule]], options: Optional[LintOptions] = None
                    ) -> List[Type[Rule]]:
    """The rules whose evidence (names and attributes in the code, torchlint/triggers.py) `text`
    has, read from the text itself (for text CPython's parser refuses, and fixed text)."""
    return triggered(rules, text, _extra(options))


def select_rules(rules: Sequence[Type[Rule]], found: "References", options: Optional[LintOptions] = None,
                 context: Optional[ImportContext] = None) -> Optional[List[Type[Rule]]]:
    """The rules to run on a file CPython parsed: those whose triggers its tree has, less those
    that say they cannot fire on what it names; None when the tree is deeper than MAX_DEPTH and
    some rule would run (then the file is not parsed: TL003)."""
    extra = _extra(options)
    active = admitted(rules, found.evidence, extra)
    if not active:
        return []
    if found.depth > MAX_DEPTH:
        return None
    if any(rule.reads_references() for rule in active):
        found.resolve_relative(context.absolute if context is not None else None).with_extra(extra)
        active = [rule for rule in active if rule.could_fire(found)]
    return active


def _extra(options: Optional[LintOptions]) -> Tuple[str, ...]:
    return MAGIC_TIMED if options is not None and options.magic_timed else ()


def _choose(text: str, rules: Sequence[Type[Rule]], options: Optional[LintOptions],
            context: Optional[ImportContext], checked: Optional[Prechecked]
            ) -> Tuple[Optional[List[Finding]], Optional[SyntaxError], Optional[ast.AST], List[Type[Rule]]]:
    """(the findings when nothing more is to be done, CPython's syntax error when LibCST must
    judge the text, CPython's tree of it, the rules to run), for a text not yet parsed by LibCST."""
    codes = {r.code for r in rules}
    python_error: Optional[SyntaxError] = None
    if checked is None:
        early, python_error, checked = prechecked(text)
        if early is not None:
            return [f for f in early if f.code in codes], None, None, []
    if checked is None:  # CPython refused the text: LibCST, which knows newer syntax, judges it
        return None, python_error, None, triggered_rules(text, rules, options)
    selected = select_rules(rules, checked[1], options, context)
    if selected is None:
        return too_complex(codes, TOO_DEEP), None, None, []
    return None, None, checked[0], selected


def rules_to_run(text: str, rules: Sequence[Type[Rule]], options: Optional[LintOptions] = None,
                 context: Optional[ImportContext] = None) -> List[Type[Rule]]:
    """The rules that run on `text`, as `lint_text` chooses them: LibCST parses the file only
    when this is not empty (or CPython's parser refused it)."""
    early, _, _, active = _choose(text, rules, options, context, None)
    return active if early is None else []


def lint_text(text: str, rules: Sequence[Type[Rule]], module: Optional[cst.Module] = None,
              apply_noqa: bool = True, options: Optional[LintOptions] = None,
              context: Optional[ImportContext] = None, checked: Optional[Prechecked] = None) -> LintResult:
    """Findings of `rules` in `text`, located, noqa applied, sorted by position.

    `module` is the already parsed `text`, when the caller has it (the fix loop does); `checked`,
    CPython's tree of it and its references, when the caller has them (the runner does).
    `apply_noqa=False` leaves `# noqa` to the caller (flake8 handles it itself)."""
    tree: Optional[ast.AST] = None
    if module is not None:
        active = triggered_rules(text, rules, options)
    else:
        early, python_error, tree, active = _choose(text, rules, options, context, checked)
        if early is not None:
            return LintResult(early)
        if not active and python_error is None:
            return LintResult([])
        try:
            module = parse_source(text, checked=tree is not None)
        except cst.ParserSyntaxError as error:
            if any(r.code == SYNTAX_ERROR_CODE for r in rules):
                found = python_syntax_error_finding(text, python_error) if python_error else syntax_error_finding(error)
                return LintResult([found])
            return LintResult([])
    if not active:
        return LintResult([], module)
    analysis = ModuleAnalysis(module, context)
    instances = [rule(analysis) for rule in active]
    for instance in instances:
        instance.options = options or LintOptions()
    visit, leave = _handler_tables(analysis, instances)
    _walk(module, visit, leave)
    findings: List[Finding] = []
    for instance in instances:
        instance.finish()
        findings.extend(instance.findings)
    analysis.release()  # (findings hold nodes of the tree, never the analysis)
    if not findings:
        return LintResult([], module)
    _locate(module, findings, text, tree)
    lines = text.splitlines()
    kept = [f for f in findings if not (apply_noqa and _suppressed(f, lines))]
    kept.sort(key=lambda f: (f.line, f.column, f.code))
    return LintResult(_dedupe(kept), module)


def _handler_tables(analysis: ModuleAnalysis, instances: Sequence[Rule]):
    """Handlers by node class name. The analysis enters a scope or statement before the rules
    visit it and leaves it after the rules have left it, so rules always see where they are."""
    analysis_visit, analysis_leave = analysis.traversal_handlers()
    visit: Dict[str, List[Callable]] = {name: [handler] for name, handler in analysis_visit.items()}
    leave: Dict[str, List[Callable]] = {}
    for instance in instances:
        handlers = type(instance).handlers()
        for name in handlers["visit"]:
            visit.setdefault(name, []).append(getattr(instance, "visit_" + name))
        for name in handlers["leave"]:
            leave.setdefault(name, []).append(getattr(instance, "leave_" + name))
    for name, handler in analysis_leave.items():
        leave.setdefault(name, []).append(handler)
    return visit, leave


def syntax_error_finding(error: cst.ParserSyntaxError) -> Finding:
    message = str(error.message).splitlines()[0] if str(error.message) else "syntax error"
    column = error.raw_column + 1
    return Finding(SYNTAX_ERROR_CODE, f"syntax error: {message}", None, None,
                   error.raw_line, column, error.raw_line, column)


def internal_error_finding(message: str) -> Finding:
    return Finding(INTERNAL_ERROR_CODE, f"internal error, file not checked: {message}", None, None, 1, 1, 1, 1)


def _locate(module: cst.Module, findings: List[Finding], text: Optional[str] = None,
            tree: Optional[ast.AST] = None) -> None:
    """Positions of the findings and of their fixes' edits, from the top-level statements that
    hold them (torchlint/positions.py; the whole module when `text` is not given)."""
    nodes = [f.node for f in findings if f.node is not None]
    nodes += [e.old for f in findings if f.fix is not None for e in f.fix.edits]
    where_is = positions(module, nodes, text, tree)
    for finding in findings:
        where = where_is[finding.node]  # type: ignore[index]  # rules always report a node
        finding.line, finding.column = where.start.line, where.start.column + 1
        finding.end_line, finding.end_column = where.end.line, where.end.column + 1
        if finding.fix is not None:
            for edit in finding.fix.edits:
                old = where_is[edit.old]
                finding.fix_edits_positions.append((
                    old.start.line, old.start.column + 1, old.end.line, old.end.column + 1,
                    _code_for(module, edit.new),
                ))


def _code_for(module: cst.Module, node) -> str:
    """Source text of a replacement; a FlattenSentinel (statements inserted around one) joins its parts."""
    if isinstance(node, cst.FlattenSentinel):
        return "".join(module.code_for_node(part) for part in node.nodes)
    return module.code_for_node(node)


def _suppressed(finding: Finding, lines: List[str]) -> bool:
    index = finding.line - 1
    return 0 <= index < len(lines) and is_suppressed(lines[index], finding.code)


def _dedupe(findings: List[Finding]) -> List[Finding]:
    seen: Set[Tuple[str, int, int]] = set()
    unique = []
    for finding in findings:
        key = (finding.code, finding.line, finding.column)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


# ---------------------------------------------------------------------- fixing
class _Replacer(cst.CSTTransformer):
    def __init__(self, edits: Sequence[Edit]) -> None:
        super().__init__()
        self._new = {id(edit.old): edit.new for edit in edits}

    def on_leave(self, original_node, updated_node):
        return self._new.get(id(original_node), updated_node)


def applicable(fix: Optional[Fix], unsafe: bool) -> bool:
    return fix is not None and (fix.applicability == SAFE or unsafe)


def fix_text(text: str, rules: Sequence[Type[Rule]], unsafe: bool = False,
             options: Optional[LintOptions] = None, context: Optional[ImportContext] = None) -> FixResult:
    """Apply every applicable fix, re-lint, repeat until nothing changes (bounded)."""
    fixed = 0
    failed: List[str] = []
    fixed_codes: Dict[str, int] = {}
    skip: Set[Tuple[str, str]] = set()  # (code, source line) of fixes whose output did not parse
    result = lint_text(text, rules, options=options, context=context)
    for _ in range(MAX_FIX_ROUNDS):
        lines = text.splitlines()
        candidates = [
            f for f in result.findings
            if applicable(f.fix, unsafe) and (f.code, _line(lines, f.line)) not in skip
        ]
        if not candidates or result.module is None:
            break
        applied, new_text, new_module = _apply_parsing(result.module, candidates, lines, skip, failed)
        if not applied or new_text == text:
            break
        fixed += len(applied)
        for code in applied:
            fixed_codes[code] = fixed_codes.get(code, 0) + 1
        text = new_text
        result = lint_text(text, rules, new_module, options=options, context=context)
    return FixResult(text, result.findings, fixed, failed, fixed_codes)


def _apply_parsing(module, candidates, lines, skip, failed):
    """Apply all candidates at once; if the result does not parse, keep the ones that do alone.

    Returns (the codes of the fixes applied, new text, its parsed module): the parse that checks
    the result is the one the next round lints, so each round parses once."""
    attempt = apply_findings(module, candidates)
    if attempt is not None:
        return ([f.code for f in candidates],) + attempt
    for finding in candidates:
        alone = apply_findings(module, [finding])
        if alone is not None:
            return ([finding.code],) + alone
        skip.add((finding.code, _line(lines, finding.line)))
        failed.append(f"{finding.line}:{finding.column}: {finding.code} fix dropped: its result does not parse")
    return [], module.code, module


def apply_findings(module: cst.Module, findings: Sequence[Finding]) -> Optional[Tuple[str, cst.Module]]:
    """The code with these findings' fixes applied and its parse, or None when it does not parse."""
    edits = [edit for f in findings for edit in f.fix.edits]  # type: ignore[union-attr]
    code = module.visit(_Replacer(edits)).code
    try:
        return code, parse_source(code)
    except cst.ParserSyntaxError:
        return None


def _line(lines: List[str], number: int) -> str:
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""
