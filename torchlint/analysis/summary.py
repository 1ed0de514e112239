"""A module's summary: what other files of the project need to know about its top-level names.

Linting `train.py` asks what `models.Net` is; the answer comes from the summary of `models.py`,
built once from that file's own analysis (the same facts a rule would get there) and kept as
plain data: which classes are `nn.Module`s, the train/eval-dependent layers of their instances,
what their `forward` returns (a softmax output? a tuple with one?), what functions return (a
module built by a factory, an activation output), and which names the module re-exports. It is
serialisable, so it is cached on disk by content, with the digests of the modules it consulted.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from torchlint.sources import digest_of, write_atomically

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis.project import Project

_FORMAT = "1"
CLASS, FUNCTION, INSTANCE = "class", "function", "instance"


@dataclass(frozen=True)
class Symbol:
    """One top-level class, function or module instance of a project module."""

    qualified: str
    kind: str  # CLASS, FUNCTION or INSTANCE
    module: bool = False  # class: instances are nn.Modules; function: returns one; instance: is one
    layers: Tuple[str, ...] = ()  # train/eval-dependent layers of that module (`nn.Dropout`, ...)
    layers_unknown: bool = True  # some part of the module cannot be seen
    forward: Optional[str] = None  # the module's output is this activation (softmax, log_softmax, sigmoid)
    forward_elements: Tuple[Optional[str], ...] = ()  # ... or a tuple with these activations
    returns: Optional[str] = None  # function (not returning a module): its result is this activation
    returns_elements: Tuple[Optional[str], ...] = ()
    has_parameters: bool = True
    # function: it returns this parameter unchanged (`layer_init(layer)`), at this position
    returns_parameter: Optional[str] = None
    returns_position: int = -1
    submodules: Tuple[str, ...] = ()  # class: the `self.<name>` attributes that hold modules
    classes: Tuple[str, ...] = ()  # function or instance that is a module: the classes it is built from


@dataclass
class ModuleSummary:
    """What other files need of one module: its symbols, re-exports and star imports."""

    path: str
    digest: str
    module: str  # dotted name
    symbols: Dict[str, Symbol] = field(default_factory=dict)
    reexports: Dict[str, str] = field(default_factory=dict)  # local name -> qualified name imported
    star_imports: List[str] = field(default_factory=list)
    depends: Dict[str, str] = field(default_factory=dict)  # path -> digest of modules consulted

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["symbols"] = {name: dataclasses.asdict(symbol) for name, symbol in self.symbols.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ModuleSummary":
        symbols = {}
        for name, item in data["symbols"].items():
            item = dict(item)
            item["layers"] = tuple(item["layers"])
            item["forward_elements"] = tuple(item["forward_elements"])
            item["returns_elements"] = tuple(item["returns_elements"])
            item["submodules"] = tuple(item["submodules"])
            item["classes"] = tuple(item["classes"])
            symbols[name] = Symbol(**item)
        return cls(data["path"], data["digest"], data["module"], symbols, dict(data["reexports"]),
                   list(data["star_imports"]), dict(data["depends"]))


def summarise(project: "Project", path: str, digest: str) -> Optional[ModuleSummary]:
    """Parse one module and summarise its top-level names with its own analysis."""
    text = project.read(path)
    if text is None:
        return None
    import libcst as cst

    from torchlint.analysis import ModuleAnalysis
    from torchlint.analysis.project import ImportContext
    from torchlint.parsing import parse_source
    from torchlint.syntax_check import python_tree

    try:
        tree = parse_source(text, checked=lambda: python_tree(text) is not None)  # (asked on a parse only)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return None
    context = ImportContext.create(project, path)
    analysis = ModuleAnalysis(tree, context)
    summary = ModuleSummary(os.path.abspath(path), digest, context.module)
    scope = analysis.index.module_scope
    for name, bindings in scope.bindings.items():
        if len(bindings) != 1:
            continue
        binding = bindings[0]
        qualified = f"{context.module}.{name}" if context.module else name
        if binding.kind == "import" and binding.qualified:
            summary.reexports[name] = binding.qualified
        elif binding.kind == "class":
            summary.symbols[name] = _class_symbol(analysis, binding, qualified)
        elif binding.kind == "def":
            symbol = _function_symbol(analysis, binding, qualified)
            if symbol is not None:
                summary.symbols[name] = symbol
        elif binding.kind == "assign" and binding.value is not None:
            symbol = _instance_symbol(analysis, binding, qualified)
            if symbol is not None:
                summary.symbols[name] = symbol
    summary.star_imports = list(scope.star_imports)
    summary.depends = dict(context.consumed)
    analysis.release()
    return summary


def _class_symbol(analysis, binding, qualified: str) -> Symbol:
    classdef = binding.node
    where = analysis.binding_where(binding)
    if not analysis.values.is_module_classdef(classdef, where):
        return Symbol(qualified, CLASS)
    layers = analysis.model_classes.of_class(classdef, where)
    forward, elements = analysis.tensors.forward_output(classdef)
    scope = analysis.index.scopes[id(classdef)]
    submodules = tuple(sorted(name for name in scope.attributes
                              if analysis.values.class_attribute_is_module(classdef, name)))
    return Symbol(qualified, CLASS, True, tuple(sorted(layers.layers)), layers.unknown, forward, elements,
                  has_parameters=analysis.tensors.class_may_have_parameters(classdef), submodules=submodules)


def _function_symbol(analysis, binding, qualified: str) -> Optional[Symbol]:
    function = binding.node
    returned = _returned_parameter(analysis, function)
    if returned is not None:
        return Symbol(qualified, FUNCTION, returns_parameter=returned[1], returns_position=returned[0])
    origins = analysis.values.return_origins(function)
    if not origins:
        return Symbol(qualified, FUNCTION)
    return _value_symbol(analysis, origins, qualified, FUNCTION)


def _returned_parameter(analysis, function) -> Optional[Tuple[int, str]]:
    """(position, name) of the parameter every `return` gives back unchanged, if there is one."""
    import libcst as cst

    if function.decorators:
        return None
    scope = analysis.index.scopes[id(function)]
    params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
    names = {value.value if isinstance(value, cst.Name) else None for value, _ in scope.returns}
    if len(names) != 1 or None in names or not scope.returns:
        return None
    name = names.pop()
    if name is None or name not in params or any(b.kind != "param" for b in scope.bindings.get(name, ())):
        return None
    return params.index(name), name


def _instance_symbol(analysis, binding, qualified: str) -> Optional[Symbol]:
    where = analysis.binding_where(binding)
    origins = analysis.values.origins(binding.value, where)
    if not origins:
        return None
    symbol = _value_symbol(analysis, origins, qualified, INSTANCE)
    return symbol if symbol.module else None


def _value_symbol(analysis, origins, qualified: str, kind: str) -> Symbol:
    """Facts every origin agrees on: all modules (with their layers and output), or all the
    same activation output."""
    values, tensors = analysis.values, analysis.tensors
    if all(values.is_module(node, where) for node, where in origins if _is_expression(node)) and all(
            _is_expression(node) for node, _ in origins):
        from torchlint.analysis.model_classes import NONE as NO_LAYERS

        layers = NO_LAYERS
        outputs = set()
        classes: Optional[set] = set()
        prefix = qualified.rpartition(".")[0]
        for node, where in origins:
            layers |= analysis.model_classes.of_value(node, where)
            outputs.add(tensors.module_output(node, where))
            built = values.module_classes(node, where)
            if built is None or classes is None:
                classes = None
                continue
            for cls in built:
                name = cls if isinstance(cls, str) else _top_level_class(analysis, cls, prefix)
                if name is None:
                    classes = None
                    break
                classes.add(name)
        forward, elements = outputs.pop() if len(outputs) == 1 else (None, ())
        return Symbol(qualified, kind, True, tuple(sorted(layers.layers)), layers.unknown, forward, elements,
                      classes=tuple(sorted(classes or ())))
    results = set()
    for node, where in origins:
        if not _is_expression(node):
            return Symbol(qualified, kind)
        results.add(tensors.output(node, where))
    returns, elements = results.pop() if len(results) == 1 else (None, ())
    return Symbol(qualified, kind, returns=returns, returns_elements=elements)


def _top_level_class(analysis, classdef, prefix: str) -> Optional[str]:
    """The qualified name of a class defined at the top of the summarised module."""
    for binding in analysis.index.module_scope.bindings.get(classdef.name.value, ()):
        if binding.node is classdef:
            return f"{prefix}.{classdef.name.value}" if prefix else classdef.name.value
    return None


def _is_expression(node) -> bool:
    import libcst as cst

    return isinstance(node, cst.BaseExpression)


# ---------------------------------------------------------------------- the disk cache
def _cache_path(project: "Project", path: str, digest: str) -> Optional[str]:
    if not project.cache_dir:
        return None
    from torchlint.cache import code_version

    key = digest_of(f"{_FORMAT}\0{code_version()}\0{os.path.abspath(path)}\0{digest}".encode())
    return os.path.join(project.cache_dir, "summaries", key[:2], key + ".json")


def load_summary(project: "Project", path: str, digest: str) -> Optional[ModuleSummary]:
    """A cached summary whose own content and every module it consulted are unchanged."""
    location = _cache_path(project, path, digest)
    if location is None:
        return None
    try:
        with open(location, encoding="utf-8") as handle:
            summary = ModuleSummary.from_json(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(project.digest(dependency) != expected for dependency, expected in summary.depends.items()):
        return None
    return summary


def store_summary(project: "Project", summary: ModuleSummary) -> None:
    location = _cache_path(project, summary.path, summary.digest)
    if location is None:
        return
    try:
        os.makedirs(os.path.dirname(location), exist_ok=True)
        write_atomically(location, json.dumps(summary.to_json()).encode())
    except OSError:
        pass
