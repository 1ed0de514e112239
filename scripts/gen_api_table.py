"""Generate torchlint/data/torch_api.json.gz, the public torch API table, from the installed torch.

    .venv/bin/python scripts/gen_api_table.py           # write the table
    .venv/bin/python scripts/gen_api_table.py --check   # exit 1 when the shipped table is stale

What it records, for every public module under `torch` (no path component starting with `_`):
its public names, and for each name whether it is a module, an `nn.Module` class, another class,
a function, or something else, plus the keyword parameters of the callables. Keywords come from
`inspect.signature` where torch exposes one; for the C++ bindings (which have none) they come from
the ATen operator schemas of the same name (`self` is `input` in the Python binding), the
signatures in the docstring, the arguments the Python binding adds (`out`; `requires_grad` and
`pin_memory` on factories) and the NumPy aliases the argument parser accepts (`axis`, `keepdims`,
`x`, `a`, `x1`, `x2`). A callable that takes `**kwargs`, or whose parameters cannot be read, gets
no keyword list: rules treat it as accepting anything.

torchlint reads the table at lint time and never imports torch.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import inspect
import json
import os
import pkgutil
import re
import sys
import warnings
from types import ModuleType
from typing import Dict, Iterator, List, Optional, Set, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "torchlint", "data", "torch_api.json.gz")

# What the Python argument parser accepts besides the schema's own names (python_arg_parser.cpp).
NUMPY_ALIASES = {"dim": ("axis",), "keepdim": ("keepdims",), "input": ("x", "a", "x1"), "other": ("x2",)}
FACTORY_EXTRAS = ("dtype", "layout", "device", "pin_memory", "requires_grad")
_DOC_SIGNATURE = re.compile(r"^\s*(?:\.\. function:: )?(?P<name>[A-Za-z_][\w.]*)\((?P<params>[^()]*(?:\([^()]*\)[^()]*)*)\)")


def public_module_names(torch: ModuleType) -> Iterator[str]:
    """Every public submodule of torch, without importing the private ones to look inside."""
    stack = [("torch", list(torch.__path__))]
    while stack:
        name, path = stack.pop()
        for info in pkgutil.iter_modules(path):
            if info.name.startswith("_") or info.name in ("test", "tests"):
                continue
            full = f"{name}.{info.name}"
            yield full
            if info.ispkg:
                stack.append((full, [os.path.join(p, info.name) for p in path
                                     if os.path.isdir(os.path.join(p, info.name))]))


def keyword_names(obj) -> Optional[Tuple[str, ...]]:
    """The keywords `obj` accepts, or None when unknown or unlimited (**kwargs)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return _builtin_keywords(obj)
    names: List[str] = []
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            return None
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            names.append(param.name)
    if inspect.isclass(obj) and names == [] and _has_opaque_init(obj):
        return None
    return tuple(sorted(set(names)))


def _has_opaque_init(cls) -> bool:
    """A class whose constructor is C code reports `()`: that is unknown, not 'no keywords'."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass) or "__new__" in vars(klass):
            return not inspect.isfunction(vars(klass).get("__init__", vars(klass).get("__new__")))
    return True


def _builtin_keywords(obj) -> Optional[Tuple[str, ...]]:
    """Keywords of a torch C++ binding: ATen schemas of its name, plus its docstring signatures."""
    import torch

    name = getattr(obj, "__name__", None)
    if not isinstance(name, str) or not callable(obj) or inspect.isclass(obj):
        return None
    names: Set[str] = set()
    schemas = torch._C._jit_get_schemas_for_operator(f"aten::{name}")
    for schema in schemas:
        for argument in schema.arguments:
            names.add("input" if argument.name == "self" else argument.name)
        names.add("out")
    from_doc = _doc_keywords(obj.__doc__ or "", name)
    if from_doc is None and not schemas:
        return None
    if from_doc == "**":
        return None
    names |= set(from_doc or ())
    if names & {"dtype", "device"}:
        names.update(FACTORY_EXTRAS)
    for base, aliases in NUMPY_ALIASES.items():
        if base in names:
            names.update(aliases)
    return tuple(sorted(names))


def _doc_keywords(doc: str, name: str):
    """Parameter names in the `name(...)` signature lines of a docstring; '**' for **kwargs."""
    short = name.split("_", 1)[-1] if "_" in name else name
    found: Optional[Set[str]] = None
    for line in doc.splitlines():
        match = _DOC_SIGNATURE.match(line)
        if not match or match.group("name").split(".")[-1] not in (name, short):
            continue
        found = found or set()
        for part in _split_params(match.group("params")):
            part = part.strip()
            if part.startswith("**"):
                return "**"
            if not part or part in ("*", "/") or part.startswith("*"):
                continue
            key = re.split(r"[=:\s]", part, 1)[0]
            if key.isidentifier():
                found.add(key)
    return tuple(sorted(found)) if found is not None else None


def _split_params(text: str) -> List[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _star_source(module: ModuleType, node, seen: Set[str]) -> Set[str]:
    """What `from X import *` brings on any build: X's own module-level bindings."""
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    if not target.startswith("torch") or target in seen:
        return set()
    seen.add(target)
    source = sys.modules.get(target)
    return {n for n in source_bindings(source, seen) if not n.startswith("_")} if source else set()


def source_bindings(module: ModuleType, seen: Optional[Set[str]] = None) -> Set[str]:
    """Names the module's source binds at module level on any path (under `if`, `try`, `with`):
    a name imported only on CUDA, ROCm or Windows builds, or only for type checkers, is a real
    name there, even if this build's module lacks it."""
    import ast

    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return set()
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return set()
    names: Set[str] = set()
    seen = seen if seen is not None else {module.__name__}
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            names |= _star_source(module, node, seen)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, field, []) or [])
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
    names.discard("*")
    return names


def kind_of(obj, torch: ModuleType) -> str:
    if isinstance(obj, ModuleType):
        return "m"
    if inspect.isclass(obj):
        try:
            return "M" if issubclass(obj, torch.nn.Module) else "c"
        except TypeError:
            return "c"
    if callable(obj) and (inspect.isroutine(obj) or hasattr(obj, "__wrapped__")):
        return "f"
    return "o"


def build_table() -> Dict:
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    import torch

    modules: Dict[str, Dict] = {}
    signatures: Dict[Tuple[str, ...], int] = {}
    names = ["torch"] + sorted(set(public_module_names(torch)))
    loaded: Dict[str, Optional[ModuleType]] = {}
    for name in names:
        try:
            loaded[name] = importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - optional dependencies, platform-only modules
            loaded[name] = None
    for name in names:
        module = loaded[name]
        entry: Dict = {"open": 0, "members": {}}
        modules[name] = entry
        if module is None:
            entry["open"] = 1  # could not be imported here (an optional dependency): contents unknown
            continue
        if name != "torch" and ("__getattr__" in vars(module) or type(module) is not ModuleType):
            entry["open"] = 1  # names made on demand (module __getattr__, PropModule, config modules)
        members = {n for n in dir(module) if not n.startswith("_")}
        for extra in sorted(source_bindings(module) - members):  # other builds: CUDA-only imports, ...
            if not extra.startswith("_"):
                entry["members"][extra] = "o"
        if name == "torch":
            members |= set(getattr(torch, "_lazy_modules", ())) | set(getattr(torch, "_deprecated_attrs", {}))
        for member in sorted(members):
            try:
                value = getattr(module, member)
            except BaseException:  # noqa: BLE001 - lazy attributes that fail: the name still exists
                entry["members"][member] = "o"
                continue
            kind = kind_of(value, torch)
            code = kind
            if kind in ("M", "c", "f"):
                keywords = keyword_names(value)
                if keywords is not None:
                    code += str(signatures.setdefault(keywords, len(signatures)))
            entry["members"][member] = code
    for name in names:  # submodules are members of their parent even before they are imported
        parent, _, last = name.rpartition(".")
        if parent in modules:
            modules[parent]["members"][last] = "m"
    return {
        "torch_version": torch.__version__.split("+")[0],
        "generated_by": "scripts/gen_api_table.py",
        "modules": modules,
        "signatures": [list(k) for k, _ in sorted(signatures.items(), key=lambda item: item[1])],
    }


def encode(table: Dict) -> bytes:
    text = json.dumps(table, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the shipped table is stale")
    parser.add_argument("--output", default=TABLE)
    args = parser.parse_args(argv)
    data = encode(build_table())
    if args.check:
        with open(args.output, "rb") as handle:
            current = json.loads(gzip.decompress(handle.read()))
        if current != json.loads(gzip.decompress(data)):
            print(f"{args.output} is stale: run scripts/gen_api_table.py", file=sys.stderr)
            return 1
        return 0
    with open(args.output, "wb") as handle:
        handle.write(data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
