"""Robustness on real code: every .py file of the installed torch package and of Python's standard
library, with every rule. No crash, every location valid, and fixing (unsafe fixes included) a
copy of each file with fixes yields code that parses and that a second pass leaves unchanged.
Marked slow (a few minutes on two cores); it runs in CI with the rest."""

import concurrent.futures
import importlib.util
import os
import sysconfig
import traceback

import libcst as cst
import pytest

from torchlint.engine import fix_text, lint_text
from torchlint.rule import all_rules
from torchlint.sources import SourceError, read_source


def _corpora():
    roots = [sysconfig.get_paths()["stdlib"]]
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.submodule_search_locations:
        roots.append(list(spec.submodule_search_locations)[0])
    return roots


def _python_files(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__"))
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def check_file(path):
    """Problems found in one file (empty: fine) and the number of fixes applied."""
    try:
        text = read_source(path).text
    except SourceError:
        return [], 0
    problems = []
    try:
        rules = all_rules()
        lines = text.splitlines()
        findings = lint_text(text, rules).findings
        for f in findings:
            if f.code == "TL001":
                continue
            if not (1 <= f.line <= f.end_line <= max(len(lines), 1)):
                problems.append(f"{path}: {f.code} bad lines {f.line}-{f.end_line}")
            elif not (1 <= f.column <= len(lines[f.line - 1]) + 1):
                problems.append(f"{path}:{f.line}: {f.code} bad column {f.column}")
        if not any(f.fix is not None for f in findings):
            return problems, 0
        fixed = fix_text(text, rules, unsafe=True)
        try:
            cst.parse_module(fixed.text)
        except cst.ParserSyntaxError:
            problems.append(f"{path}: fixed code does not parse")
        again = fix_text(fixed.text, rules, unsafe=True)
        if again.text != fixed.text:
            problems.append(f"{path}: a second fix pass changed the code")
        return problems, fixed.fixed
    except Exception:
        return [f"{path}: crash\n{traceback.format_exc()}"], 0


@pytest.mark.slow
@pytest.mark.parametrize("root", _corpora(), ids=lambda r: os.path.basename(r.rstrip(os.sep)))
def test_no_crash_valid_locations_and_sound_fixes(root):
    files = list(_python_files(root))
    assert len(files) > 500
    problems, fixes = [], 0
    with concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for file_problems, file_fixes in pool.map(check_file, files, chunksize=16):
            problems.extend(file_problems)
            fixes += file_fixes
    assert problems == [], "\n".join(problems[:20])
    print(f"{root}: {len(files)} files, {fixes} fixes applied and re-checked")
