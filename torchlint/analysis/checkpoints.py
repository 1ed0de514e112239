"""What the `torch.save` calls put in their files, judged by what `torch.load(weights_only=True)`
accepts, so that a rule can tell whether forcing a weights-only load would break a program.

torch 2.13's weights-only unpickler accepts tensors (and parameters), dicts (also OrderedDict and
Counter), lists, tuples and sets of them, strings, bytes, numbers, booleans and None, dtypes,
devices and `torch.Size`, and the state dicts of modules, optimizers, schedulers and scalers. It
refuses whole modules and optimizers, argparse Namespaces, numpy arrays and scalars, and instances
of the program's own classes (tests/test_checkpoints.py checks these facts against torch).

The one query, `refused_by_weights_only(load)`, answers for the saves of this file; the
project-wide program model can later answer it for the saves of the whole project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple, cast

import libcst as cst

from torchlint.analysis.kinds import ValueKind
from torchlint.syntax import argument_value, is_name, is_self_attribute, target_names
from torchlint.tree import child_nodes, node_types

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.scopes import StatementInfo

# Verdicts, ordered: a container is as bad as its worst element.
WEIGHTS, UNKNOWN, REFUSED = 0, 1, 2
MODULE = "module"  # what a REFUSED judgement found: a whole nn.Module (TL501's to fix)

_SAME_AS_RECEIVER = frozenset("cpu cuda to detach clone contiguous float half double bfloat16 copy".split())
_PLAIN_RESULTS = frozenset("item tolist state_dict size dim numel keys".split())
_PLAIN_BUILTINS = frozenset("int float str bool len round abs repr sum dict list tuple sorted".split())
_COMBINING_BUILTINS = frozenset({"max", "min"})
_TENSOR_NAMESPACES = ("torch.", "torch.linalg.", "torch.fft.", "torch.special.", "torch.nn.functional.")
_NON_TENSOR_TORCH = ("torch.nn.", "torch.optim.", "torch.utils.", "torch.jit.", "torch.distributed.",
                     "torch.cuda.", "torch.backends.", "torch.serialization.", "torch.hub.")


@dataclass(frozen=True)
class Judgement:
    """What `torch.load(weights_only=True)` would do with a saved value, and why."""

    verdict: int  # WEIGHTS, UNKNOWN or REFUSED
    reason: str = ""  # for UNKNOWN and REFUSED: what is saved, in words
    what: str = ""  # for REFUSED: module, optimizer, namespace, numpy or instance

    def worst(self, other: "Judgement") -> "Judgement":
        return other if other.verdict > self.verdict else self


PLAIN = Judgement(WEIGHTS)


@dataclass(frozen=True)
class Saved:
    """One `torch.save(obj, f)` of the module and what `obj` holds."""

    call: cst.Call
    where: "Where"
    judgement: Judgement

    @property
    def refused(self) -> bool:
        return self.judgement.verdict == REFUSED


class CheckpointFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self.values = analysis.values
        self._saves: Optional[List[Saved]] = None
        self._nodes: Optional[List[Tuple[cst.CSTNode, "Where", Dict[str, cst.BaseExpression]]]] = None
        self._use_list: Optional[List[Tuple[str, cst.BaseExpression, "Where", cst.CSTNode]]] = None
        self._visiting: set = set()

    # ------------------------------------------------------------------ the query
    def refused_by_weights_only(self, load: cst.Call, where: Optional["Where"] = None) -> List[Saved]:
        """The saves whose file `load` may read and that `weights_only=True` refuses or may
        refuse (REFUSED first). Saves to a different literal path than the load's are left out."""
        path = argument_value(load, 0, "f")
        found = [s for s in self.saves() if s.judgement.verdict != WEIGHTS and _may_be_same_file(s.call, path)]
        return sorted(found, key=lambda s: -s.judgement.verdict)

    def written_just_before(self, load: cst.Call, where: Optional["Where"] = None) -> bool:
        """The same code saved the file before: a `torch.save` earlier in the same scope to the
        same path expression with the same bindings, on every path to the load (a test round
        trip, `torch.save(obj, path); torch.load(path)`), or to the same literal file name on
        some path (a notebook's best checkpoint, saved in the training loop and loaded in a
        later cell). Nothing foreign can be in it."""
        where = where or self.analysis.where()
        path = argument_value(load, 0, "f")
        if path is None:
            return False
        scope, stmt = where
        literal = isinstance(path, (cst.SimpleString, cst.ConcatenatedString))
        for saved in self.saves():
            save_scope, save_stmt = saved.where
            if save_scope is not scope or save_stmt.seq >= stmt.seq:
                continue
            if not literal and stmt.blocks[: len(save_stmt.blocks)] != save_stmt.blocks:
                continue  # the save may not run before the load
            if literal and self._exclusive(save_stmt, stmt):
                continue  # `if train: torch.save(...) else: torch.load(...)`: never both in one run
            target = argument_value(saved.call, 1, "f")
            if target is not None and self._same_value(target, saved.where, path, where):
                return True
        return False

    def _exclusive(self, first: "StatementInfo", second: "StatementInfo") -> bool:
        """The two statements sit in different branches of one `if` / `try` / `match`, and no
        loop around that statement can run one after the other."""
        for (a, branch_a), (b, branch_b) in zip(first.blocks, second.blocks):
            if a != b:
                return False
            if branch_a != branch_b:
                info = self.analysis.index.statements.get(a)
                return info is not None and not any(info.seq in loop for loop in second.loops)
        return False

    def loaded_back_unpickling(self, save: cst.Call, where: Optional["Where"] = None) -> bool:
        """Later in the same scope, on every path, the same file is loaded back with an explicit
        `weights_only=False`: the code pickles the whole object on purpose (a serialisation test,
        a format it writes and reads itself)."""
        where = where or self.analysis.where()
        target = argument_value(save, 1, "f")
        if target is None:
            return False
        scope, stmt = where
        for node, node_where, _ in self._walk():
            if type(node) is not cst.Call or not self.analysis.refers_to(node.func, "torch.load", node_where):  # type: ignore[attr-defined]
                continue
            load_scope, load_stmt = node_where
            if load_scope is not scope or load_stmt.seq <= stmt.seq or \
                    load_stmt.blocks[: len(stmt.blocks)] != stmt.blocks:
                continue
            flag = argument_value(node, None, "weights_only")
            if flag is None or not is_name(flag, "False"):
                continue
            path = argument_value(node, 0, "f")
            if path is not None and self._same_value(target, where, path, node_where):
                return True
        return False

    def loaded_objects(self, load: cst.Call) -> Optional[str]:
        """What the code does with the value `load` returns that shows it holds objects
        `weights_only=True` refuses: an element given to `torch.from_numpy` (a numpy array), or
        an attribute read that no tensor, container or number has (`ckpt["args"].lr`, `vocab.itos`).
        None without such evidence."""
        for kind, expr, where, shown in self._uses():
            if self._reaches(expr, where, load, 0):
                if kind == "numpy":
                    return f"numpy arrays (`{self._code(shown)}`)"
                return f"objects with attributes (`{self._code(shown)}`)"
        return None

    def saves(self) -> List[Saved]:
        if self._saves is None:
            self._saves = []
            for call, where in self._save_calls():
                obj = argument_value(call, 0, "obj")
                judgement = self.judge(obj, where) if obj is not None else Judgement(UNKNOWN, "an unknown object")
                self._saves.append(Saved(call, where, judgement))
        return self._saves

    def _save_calls(self) -> Iterator[Tuple[cst.Call, "Where"]]:
        for node, where, _ in self._walk():
            if type(node) is cst.Call and self.analysis.refers_to(node.func, "torch.save", where):  # type: ignore[attr-defined]
                yield node, where

    def _walk(self) -> List[Tuple[cst.CSTNode, "Where", Dict[str, cst.BaseExpression]]]:
        """Every expression node of the module with where it is evaluated and the comprehension
        variables in force (name -> the iterable it runs over); one walk, kept."""
        if self._nodes is None:
            self._nodes = []
            index = self.analysis.index
            for info in list(index.statements.values()):
                statement = info.node
                if statement is None:
                    continue
                parts = statement.body if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) else [statement]
                for part in parts:
                    part_info = index.small_statements.get(id(part), info)
                    _expressions(part, (part_info.scope, part_info), {}, self._nodes, top=True)
        return self._nodes

    def _uses(self) -> List[Tuple[str, cst.BaseExpression, "Where", cst.CSTNode]]:
        """(kind, value used, where, the code showing it): `torch.from_numpy(value)` ("numpy")
        and attribute reads `value.attr` that are not calls and that no tensor has ("object")."""
        if self._use_list is None:
            self._use_list = []
            called = {id(n.func) for n, _, _ in self._walk() if type(n) is cst.Call}  # type: ignore[attr-defined]
            for node, where, comprehension in self._walk():
                kind = type(node)  # exact types: the walk's nodes are many, and LibCST's isinstance is slow
                if kind is cst.Call:
                    call = cast(cst.Call, node)
                    if call.args and self.analysis.refers_to(call.func, "torch.from_numpy", where):
                        value = call.args[0].value
                        if isinstance(value, cst.Name) and value.value in comprehension:
                            value = comprehension[value.value]
                        self._use_list.append(("numpy", value, where, call))
                elif kind is cst.Attribute:
                    attribute = cast(cst.Attribute, node)
                    if (id(attribute) not in called and attribute.attr.value not in _TENSOR_ATTRIBUTES
                            and not is_name(attribute.value, "self") and type(attribute.value) in (cst.Name, cst.Subscript)):
                        self._use_list.append(("object", attribute, where, attribute))
        return self._use_list

    def _reaches(self, expr: cst.BaseExpression, where: "Where", load: cst.Call, depth: int) -> bool:
        """`expr` is the value `load` returns or an element of it, through names and subscripts."""
        if depth > 6:
            return False
        while isinstance(expr, (cst.Subscript, cst.Attribute)) and not is_self_attribute(expr):
            expr = expr.value
        if expr is load:
            return True
        for node, node_where in self.values.origins(expr, where) or ():
            if node is load:
                return True
            if isinstance(node, (cst.Subscript, cst.Attribute, cst.Name)) and node is not expr and self._reaches(
                    node, node_where, load, depth + 1):  # type: ignore[arg-type]
                return True
        return False

    def _same_value(self, a: cst.BaseExpression, a_where: "Where", b: cst.BaseExpression, b_where: "Where") -> bool:
        """Same code, and every name in it bound by the same assignments at both places."""
        if self._code(a) != self._code(b):
            return False
        names = {n.value for n in _free_names(a)}
        return all(
            [id(x) for x in self.analysis.reaching(name, a_where)] == [id(x) for x in self.analysis.reaching(name, b_where)]
            and self.analysis.reaching(name, a_where) for name in names
        ) if names else isinstance(a, (cst.SimpleString, cst.ConcatenatedString))

    # ------------------------------------------------------------------ judging a saved value
    def judge(self, expr: cst.BaseExpression, where: "Where") -> Judgement:
        """What `weights_only=True` makes of the value `expr` has at `where`."""
        if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
                             cst.FormattedString)) or is_name(expr, "None") or is_name(expr, "True") or is_name(
                expr, "False"):
            return PLAIN
        if isinstance(expr, cst.Dict):
            return self._all(where, [part for e in expr.elements if isinstance(e, cst.DictElement)
                                     for part in (e.key, e.value)], starred=len(expr.elements) != sum(
                isinstance(e, cst.DictElement) for e in expr.elements))
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            return self._all(where, [e.value for e in expr.elements],
                             starred=any(isinstance(e, cst.StarredElement) for e in expr.elements))
        if isinstance(expr, (cst.BinaryOperation, cst.BooleanOperation)):
            return self._all(where, [expr.left, expr.right])
        if isinstance(expr, cst.UnaryOperation):
            return self.judge(expr.expression, where)
        if isinstance(expr, cst.IfExp):
            return self._all(where, [expr.body, expr.orelse])
        if isinstance(expr, cst.Comparison):
            return PLAIN
        kind = self.analysis.kind(expr, where).kind
        if kind in (ValueKind.MODULE, ValueKind.LOSS):
            return Judgement(REFUSED, f"a whole module, `{self._code(expr)}`", MODULE)
        if kind is ValueKind.OPTIMIZER:
            return Judgement(REFUSED, f"a whole optimizer, `{self._code(expr)}`", "optimizer")
        if kind is ValueKind.TENSOR:
            return PLAIN
        origins = self.values.origins(expr, where)
        if origins is None:
            return self._unbound(expr, where)
        result = PLAIN
        for node, node_where in origins:
            if id(node) in self._visiting:
                continue
            self._visiting.add(id(node))
            try:
                result = result.worst(self._judge_origin(node, node_where, expr))
            finally:
                self._visiting.discard(id(node))
        return result

    def _all(self, where: "Where", parts: List[Optional[cst.BaseExpression]], starred: bool = False) -> Judgement:
        result = Judgement(UNKNOWN, "unpacked elements") if starred else PLAIN
        for part in parts:
            if part is not None:
                result = result.worst(self.judge(part, where))
        return result

    def _unbound(self, expr: cst.BaseExpression, where: "Where") -> Judgement:
        """A name with no assignment to follow: a `for` index over `range`/`enumerate` is an int."""
        if isinstance(expr, cst.Name):
            bindings = self.analysis.reaching(expr.value, where)
            if bindings and all(b.kind == "for" and _counts(b.stmt.node, expr.value) for b in bindings):
                return PLAIN
        return Judgement(UNKNOWN, f"`{self._code(expr)}`, whose type is not known here")

    def _judge_origin(self, node: cst.CSTNode, where: "Where", saved: cst.BaseExpression) -> Judgement:
        if isinstance(node, cst.Param):
            return Judgement(UNKNOWN, f"`{self._code(saved)}`, whose type is not known here")
        if not isinstance(node, cst.BaseExpression):
            return Judgement(UNKNOWN, f"`{self._code(saved)}`, whose type is not known here")
        if not isinstance(node, (cst.Call, cst.Subscript, cst.Attribute, cst.DictComp, cst.ListComp, cst.SetComp)):
            return self.judge(node, where) if node is not saved else Judgement(
                UNKNOWN, f"`{self._code(saved)}`, whose type is not known here")
        if self.values.is_module(node, where):
            return Judgement(REFUSED, f"a whole module, `{self._code(saved)}`", MODULE)
        if isinstance(node, cst.Subscript):  # an element of a weights-only container is one too
            inner = self.judge(node.value, where)
            if inner.verdict == WEIGHTS:
                return PLAIN
            return inner if inner.verdict == REFUSED else Judgement(
                UNKNOWN, f"`{self._code(saved)}`, whose type is not known here")
        if isinstance(node, (cst.DictComp, cst.ListComp, cst.SetComp)):
            return self._comprehension(node, where, saved)
        if isinstance(node, cst.Attribute):
            return self._attribute(node, where, saved)
        return self._call(node, where, saved)

    def _attribute(self, node: cst.Attribute, where: "Where", saved: cst.BaseExpression) -> Judgement:
        if node.attr.value in ("data", "grad", "T", "mT", "shape", "dtype", "device"):
            return self.judge(node.value, where)  # of a tensor: a tensor, torch.Size, dtype or device
        if self._namespace(node.value, where):
            return PLAIN  # argparse values are strings, numbers and lists of them
        return Judgement(UNKNOWN, f"`{self._code(saved)}`, whose type is not known here")

    def _call(self, node: cst.Call, where: "Where", saved: cst.BaseExpression) -> Judgement:
        func = node.func
        qualified = self.analysis.qualified_name(func, where)
        code = self._code(saved)
        if qualified is not None:
            if qualified == "torch.load":
                weights_only = argument_value(node, None, "weights_only")
                return PLAIN if weights_only is not None and is_name(weights_only, "True") else Judgement(
                    UNKNOWN, f"`{code}`, loaded from a file that may hold any object")
            if qualified.startswith("torch.optim.") and qualified.rsplit(".", 1)[-1][:1].isupper():
                return Judgement(REFUSED, f"a whole optimizer, `{code}`", "optimizer")
            if qualified == "argparse.Namespace":
                return Judgement(REFUSED, f"an argparse Namespace, `{code}`", "namespace")
            if qualified.split(".")[0] == "numpy":
                return Judgement(REFUSED, f"a numpy value, `{code}`", "numpy")
            if qualified in ("copy.deepcopy", "copy.copy", "collections.OrderedDict"):
                return self._all(where, [arg.value for arg in node.args])
            if qualified == "time.time" or qualified == "time.perf_counter":
                return PLAIN
            if (qualified.startswith(_TENSOR_NAMESPACES) and qualified.rsplit(".", 1)[-1][:1].islower() and (
                    qualified.startswith("torch.nn.functional.") or not qualified.startswith(_NON_TENSOR_TORCH))):
                return PLAIN  # torch's functions return tensors (and numbers)
            return Judgement(UNKNOWN, f"`{code}`, whose type is not known here")
        if isinstance(func, cst.Name) and not self.analysis.reaching(func.value):
            if func.value in _PLAIN_BUILTINS:
                return PLAIN if func.value not in ("dict", "list", "tuple", "sorted") else self._all(
                    where, [arg.value for arg in node.args])
            if func.value in _COMBINING_BUILTINS:
                return self._all(where, [arg.value for arg in node.args])
            if func.value == "vars" and node.args and self._namespace(node.args[0].value, where):
                return PLAIN
        classes = list(self.values.local_classes(func, where))
        if classes:
            return Judgement(REFUSED, f"an instance of the class `{classes[0][0].name.value}`, `{code}`", "instance")
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in ("parse_args", "parse_known_args") and self._parser(func.value, where):
                return Judgement(REFUSED, f"an argparse Namespace, `{code}`", "namespace")
            if method == "numpy":
                return Judgement(REFUSED, f"a numpy array, `{code}`", "numpy")
            if method in _PLAIN_RESULTS:
                return PLAIN
            if method in _SAME_AS_RECEIVER:
                return self.judge(func.value, where)
        return Judgement(UNKNOWN, f"`{code}`, whose type is not known here")

    def _comprehension(self, node: cst.CSTNode, where: "Where", saved: cst.BaseExpression) -> Judgement:
        """`{k: v.cpu() for k, v in model.state_dict().items()}`: the parts of a weights-only
        container, moved or copied, are weights too."""
        for_in = node.for_in  # type: ignore[attr-defined]
        iterable = for_in.iter
        if (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)
                and iterable.func.attr.value in ("items", "values", "keys")):
            iterable = iterable.func.value
        targets = set(target_names(for_in.target))
        parts = [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]  # type: ignore[attr-defined]
        if for_in.inner_for_in is None and self.judge(iterable, where).verdict == WEIGHTS and all(
            _built_from(part, targets) for part in parts
        ):
            return PLAIN
        return Judgement(UNKNOWN, f"`{self._code(saved)}`, whose type is not known here")

    def _parser(self, expr: cst.BaseExpression, where: "Where") -> bool:
        origins = self.values.origins(expr, where)
        return origins is not None and bool(origins) and all(
            isinstance(n, cst.Call) and self.analysis.refers_to(n.func, "argparse.ArgumentParser", w)
            for n, w in origins
        )

    def _namespace(self, expr: cst.BaseExpression, where: "Where") -> bool:
        origins = self.values.origins(expr, where)
        return origins is not None and bool(origins) and all(
            isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
            and n.func.attr.value == "parse_args" and self._parser(n.func.value, w)
            for n, w in origins
        )

    def _code(self, expr: cst.CSTNode) -> str:
        return self.analysis.module.code_for_node(expr).strip()


# ---------------------------------------------------------------------- syntax helpers
# What a tensor has besides methods, and the `_metadata` of a state dict (weights_only keeps
# it): an attribute read of anything else is an object's.
_TENSOR_ATTRIBUTES = frozenset(
    "shape dtype device data grad T mT H mH requires_grad is_cuda is_leaf ndim real imag layout names "
    "grad_fn is_sparse is_quantized is_meta itemsize nbytes _metadata".split()
)
_COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp})
_BODIES = node_types(cst.BaseSuite, cst.Else, cst.Finally)  # bodies are statements of their own
_HEADERS_END = node_types(cst.BaseCompoundStatement, cst.Lambda)


def _expressions(node: cst.CSTNode, where: "Where", comprehension: Dict[str, cst.BaseExpression],
                 found: List[Tuple[cst.CSTNode, "Where", Dict[str, cst.BaseExpression]]], top: bool = False) -> None:
    """The expression nodes of one statement (its header only, for compound statements: the
    bodies are statements of their own), with the comprehension variables in force."""
    kind = type(node)  # exact types: LibCST's ABC isinstance checks are slow in a walk
    if kind in _BODIES or (not top and kind in _HEADERS_END):
        return
    found.append((node, where, comprehension))
    if kind in _COMPREHENSIONS:
        inner = dict(comprehension)
        for_in: Optional[cst.CompFor] = node.for_in  # type: ignore[attr-defined]
        while for_in is not None:
            for name in _names_in(for_in.target):
                inner[name.value] = for_in.iter
            for_in = for_in.inner_for_in
        comprehension = inner
    for child in child_nodes(node):
        _expressions(child, where, comprehension, found)


def _free_names(node: cst.CSTNode) -> Iterator[cst.Name]:
    """The names an expression reads (not the attribute names after a dot)."""
    if isinstance(node, cst.Attribute):
        yield from _free_names(node.value)
        return
    yield from _names_in(node)


def _names_in(node: cst.CSTNode) -> Iterator[cst.Name]:
    if isinstance(node, cst.Name):
        yield node
        return
    for child in child_nodes(node):
        yield from _names_in(child)


def _may_be_same_file(save: cst.Call, load_path: Optional[cst.BaseExpression]) -> bool:
    saved_to = argument_value(save, 1, "f")
    literal = (cst.SimpleString, cst.ConcatenatedString)
    if isinstance(saved_to, literal) and isinstance(load_path, literal):
        return saved_to.evaluated_value == load_path.evaluated_value
    return True


def _counts(stmt: Optional[cst.CSTNode], name: str) -> bool:
    """`for name in range(...)` or `for name, ... in enumerate(...)`."""
    if not isinstance(stmt, cst.For) or not isinstance(stmt.iter, cst.Call) or not isinstance(stmt.iter.func, cst.Name):
        return False
    if stmt.iter.func.value == "range":
        return is_name(stmt.target, name)
    if stmt.iter.func.value == "enumerate" and isinstance(stmt.target, cst.Tuple) and stmt.target.elements:
        return is_name(stmt.target.elements[0].value, name)
    return False




def _built_from(expr: cst.BaseExpression, names: set) -> bool:
    """The expression is one of `names`, moved or copied (`v.cpu()`, `v.detach().clone()`)."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and (
        expr.func.attr.value in _SAME_AS_RECEIVER
    ):
        expr = expr.func.value
    return isinstance(expr, cst.Name) and expr.value in names or isinstance(expr, cst.SimpleString)
