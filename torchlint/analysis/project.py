"""The project a checked file belongs to, and how its imports resolve to the project's modules.

Python resolves `from models import Net` in `train.py` through `sys.path`: the script's own folder,
the folder above its top package, and whatever the project installs (`src/` layouts). torchlint
does the same on the file system, without importing anything: a dotted name resolves to a module
file of the project, never to a library (torch and the other libraries in `torch_api.LIBRARY_ROOTS`
are known from tables, and code outside the project root is not read).

A `Project` is one per root folder and process; it hands out the summaries of its modules
(`summary.py`), built once per file content. An `ImportContext` is what one checked file sees: its
own dotted name (for relative imports), its search folders, and the modules it consumed, whose
digests go into its result cache entry.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set, Tuple

from torchlint.analysis.torch_api import LIBRARY_ROOTS
from torchlint.sources import digest_of, file_digest

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis.summary import ModuleSummary, Symbol

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
MAX_RESOLUTION_DEPTH = 8  # re-exports followed through at most this many modules
# Projects larger than this are not searched for a function's other callers (they may have any).
MAX_SEARCHED_FILES = 5000
MAX_SEARCHED_BYTES = 64 * 1024 * 1024
MAX_SEARCHED_FOLDERS = 2000


def find_root(path: str) -> str:
    """The nearest folder upward holding a project marker; else the folder above the file's
    top package (or the file's own folder)."""
    return _folder_root(os.path.dirname(os.path.abspath(path)))


@functools.lru_cache(maxsize=4096)
def _folder_root(folder: str) -> str:
    """find_root for the files of `folder` (asked once per folder: a run's files share folders)."""
    probe = folder
    while True:
        if any(os.path.exists(os.path.join(probe, marker)) for marker in ROOT_MARKERS):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return module_name(os.path.join(folder, "__init__.py"))[1]


def module_name(path: str) -> Tuple[str, str]:
    """(dotted module name, folder it is importable from): `pkg/sub/m.py` inside packages with
    `__init__.py` files is `pkg.sub.m`, importable from the folder holding `pkg`."""
    path = os.path.abspath(path)
    folder, filename = os.path.split(path)
    stem = os.path.splitext(filename)[0]
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
        if not package:
            break
    return ".".join(parts), folder


class Project:
    """The modules under one root folder, resolved and summarised on demand."""

    def __init__(self, root: str, extra_roots: Sequence[str] = (), cache_dir: Optional[str] = None) -> None:
        self.root = os.path.abspath(root)
        self.roots = [self.root]
        src = os.path.join(self.root, "src")
        if os.path.isdir(src):
            self.roots.append(src)
        self.roots.extend(os.path.abspath(os.path.join(self.root, extra)) for extra in extra_roots)
        self.cache_dir = cache_dir
        self._files: Dict[str, bool] = {}
        self._summaries: Dict[str, Tuple[str, "ModuleSummary"]] = {}
        self._building: Set[str] = set()
        self._all_files: Optional[List[Tuple[str, bytes]]] = None
        self._contents: Dict[str, bytes] = {}
        self._mentions: Dict[str, Set[str]] = {}
        self.overrides: Dict[str, str] = {}  # path -> unsaved text (the language server's open buffers)

    # ------------------------------------------------------------------ files
    def contains(self, path: str) -> bool:
        path = os.path.abspath(path)
        return any(path == root or path.startswith(root + os.sep) for root in self.roots)

    def _is_file(self, path: str) -> bool:
        known = self._files.get(path)
        if known is None:
            known = path in self.overrides or os.path.isfile(path)
            self._files[path] = known
        return known

    def locate(self, dotted: str, folders: Sequence[str]) -> Optional[Tuple[str, str, List[str]]]:
        """(file, its dotted module name, the attribute path left) for the longest prefix of
        `dotted` that is a module of the project found from `folders`."""
        parts = dotted.split(".")
        if not parts or (parts[0] in LIBRARY_ROOTS and not self._owns(parts[0])):
            return None
        for count in range(len(parts), 0, -1):
            relative = os.path.join(*parts[:count])
            for folder in folders:
                for candidate in (os.path.join(folder, relative + ".py"),
                                  os.path.join(folder, relative, "__init__.py")):
                    if self._is_file(candidate) and self.contains(candidate):
                        return candidate, ".".join(parts[:count]), parts[count:]
        return None

    def files(self) -> Optional[List[Tuple[str, bytes]]]:
        """The project's Python files and their bytes, read once (None when the project is too
        large to search cheaply: then callers assume other files may use anything)."""
        if self._all_files is None:
            from torchlint.sources import DEFAULT_EXCLUDES

            found: List[Tuple[str, bytes]] = []
            size = 0
            for count, (folder, dirs, names) in enumerate(os.walk(self.root)):
                dirs[:] = sorted(d for d in dirs if d not in DEFAULT_EXCLUDES and not d.startswith("."))
                for name in sorted(names):
                    if not name.endswith(".py"):
                        continue
                    path = os.path.abspath(os.path.join(folder, name))
                    try:
                        if not stat.S_ISREG(os.lstat(path).st_mode):
                            continue  # a link, FIFO or device: never read (a FIFO would block)
                        with open(path, "rb") as handle:
                            data = handle.read()
                    except OSError:
                        continue
                    found.append((path, data))
                    size += len(data)
                if len(found) > MAX_SEARCHED_FILES or size > MAX_SEARCHED_BYTES or count > MAX_SEARCHED_FOLDERS:
                    self._all_files = []
                    return None
            self._all_files = found
            self._contents = dict(found)
        return self._all_files or None

    def searched_content(self, path: str) -> bytes:
        return self._contents.get(path, b"")

    def mentioned_in(self, name: str) -> Optional[Set[str]]:
        """The project files whose text holds the identifier `name` (None: cannot tell)."""
        if name not in self._mentions:
            files = self.files()
            if files is None:
                return None
            word = name.encode()
            pattern = re.compile(rb"\b" + re.escape(word) + rb"\b")
            self._mentions[name] = {path for path, data in files if word in data and pattern.search(data)}
        return self._mentions[name]

    def _owns(self, package: str) -> bool:
        """A checkout of a library itself (timm, lightning): its own modules are the project's."""
        return any(self._is_file(os.path.join(root, package, "__init__.py")) for root in self.roots)

    def read(self, path: str) -> Optional[str]:
        if path in self.overrides:
            return self.overrides[path]
        from torchlint.sources import SourceError, read_source

        try:
            return read_source(path).text
        except SourceError:
            return None

    def digest(self, path: str) -> Optional[str]:
        if path in self.overrides:
            return digest_of(self.overrides[path].encode("utf-8", "surrogatepass"))
        return file_digest(path)

    # ------------------------------------------------------------------ summaries
    def summary(self, path: str) -> Optional["ModuleSummary"]:
        """The summary of one module of the project, built once per content (None: unreadable,
        unparsable, or being built: an import cycle adds no evidence)."""
        digest = self.digest(path)
        if digest is None or path in self._building:
            return None
        known = self._summaries.get(path)
        if known is not None and known[0] == digest:
            return known[1]
        from torchlint.analysis.summary import load_summary, store_summary, summarise

        summary = load_summary(self, path, digest)
        if summary is None:
            self._building.add(path)
            try:
                summary = summarise(self, path, digest)
            finally:
                self._building.discard(path)
            if summary is None:
                return None
            store_summary(self, summary)
        self._summaries[path] = (digest, summary)
        return summary


_PROJECTS: Dict[Tuple[str, Tuple[str, ...], Optional[str]], Project] = {}


def project_for(path: str, extra_roots: Sequence[str] = (), cache_dir: Optional[str] = None) -> Project:
    """The process-wide project of a file (one per root, so summaries are shared by its files)."""
    root = find_root(path)
    key = (root, tuple(extra_roots), cache_dir)
    project = _PROJECTS.get(key)
    if project is None:
        project = _PROJECTS[key] = Project(root, extra_roots, cache_dir)
    return project


@dataclass
class ImportContext:
    """What one checked file sees of its project."""

    project: Project
    path: str
    module: str = ""  # its dotted name, for relative imports
    package: str = ""
    folders: List[str] = field(default_factory=list)
    consumed: Dict[str, str] = field(default_factory=dict)  # path -> digest of modules read
    _elsewhere: Dict[str, bool] = field(default_factory=dict)  # name -> mentioned_elsewhere(name)

    @classmethod
    def create(cls, project: Project, path: str) -> "ImportContext":
        path = os.path.abspath(path)
        dotted, importable_from = module_name(path)
        is_package = os.path.basename(path) == "__init__.py"
        package = dotted if is_package else dotted.rpartition(".")[0]
        folders: List[str] = []
        for folder in [os.path.dirname(path), importable_from, *project.roots]:
            if folder not in folders:
                folders.append(folder)
        return cls(project, path, dotted, package, folders)

    def absolute(self, level: int, module: Optional[str]) -> Optional[str]:
        """`from ..utils import x` -> the dotted name of `../utils` from this file's folder, as
        Python resolves it inside the package the file was imported as (folders without an
        `__init__.py` are namespace packages)."""
        folder = os.path.dirname(self.path)
        for _ in range(level - 1):
            folder = os.path.dirname(folder)
        target = os.path.join(folder, *module.split(".")) if module else folder
        for candidate in (target + ".py", os.path.join(target, "__init__.py")):
            if self.project._is_file(candidate):
                dotted, importable_from = module_name(candidate)
                break
        else:
            if not os.path.isdir(target):
                return None
            dotted, importable_from = os.path.basename(target), os.path.dirname(target)
        if importable_from not in self.folders:
            self.folders.append(importable_from)
        return dotted or None

    def lookup(self, qualified: str) -> Optional["Symbol"]:
        """What a qualified name of the project is (a class or function summary), following
        re-exports (`__init__.py` importing from submodules) and star imports."""
        return self._lookup(qualified, 0, set())

    def _lookup(self, qualified: str, depth: int, seen: Set[str]) -> Optional["Symbol"]:
        if depth > MAX_RESOLUTION_DEPTH or qualified in seen:
            return None
        seen.add(qualified)
        located = self.project.locate(qualified, self.folders)
        if located is None:
            return None
        path, dotted, rest = located
        if os.path.abspath(path) == self.path or not rest:
            return None  # the file itself (its own analysis sees it), or a module object
        summary = self.project.summary(path)
        if summary is None:
            return None
        self._consume(path, summary)
        name, attributes = rest[0], rest[1:]
        symbol = summary.symbols.get(name)
        if symbol is not None:
            return symbol if not attributes else None
        target = summary.reexports.get(name)
        if target is not None:
            return self._lookup(".".join([target, *attributes]), depth + 1, seen)
        for star in summary.star_imports:
            found = self._lookup(".".join([star, name, *attributes]), depth + 1, seen)
            if found is not None:
                return found
        return None

    def mentioned_elsewhere(self, name: str) -> bool:
        """May another file of the project use this file's `name` (so this file does not show
        every call)? Yes when another file names it and imports this module."""
        known = self._elsewhere.get(name)
        if known is None:
            known = self._elsewhere[name] = self._mentioned_elsewhere(name)
        return known

    def _mentioned_elsewhere(self, name: str) -> bool:
        mentions = self.project.mentioned_in(name)
        if mentions is None or self.path not in mentions:
            return True  # the file is outside the searched tree, or the project is too large
        stem = re.escape((self.module.rpartition(".")[2] or os.path.splitext(os.path.basename(self.path))[0]).encode())
        importing = re.compile(
            rb"^\s*(?:from\s+[\w.]*\b" + stem + rb"\s+import\b|import\s+[\w., ]*\b" + stem + rb"\b"
            rb"|from\s+[\w.]+\s+import\s+[^#\n]*\b" + stem + rb"\b)", re.MULTILINE)
        for path in sorted(mentions - {self.path}):
            data = self.project.searched_content(path)
            self.consumed.setdefault(path, digest_of(data))
            if importing.search(data):
                return True
        return False

    def _consume(self, path: str, summary: "ModuleSummary") -> None:
        self.consumed[path] = summary.digest
        self.consumed.update(summary.depends)
