"""Rule pages for people, generated from the rule classes: `python -m torchlint.docs` writes
rules/*.md; tests fail when a checked-in page differs from what the code says."""

from __future__ import annotations

import os
import sys
from typing import Dict, Type

from torchlint.rule import NO_FIX, SAFE, SOMETIMES, Rule, all_rules

_FIX_WORDS = {
    SAFE: "safe (applied by `--fix`)",
    "unsafe": "unsafe (applied by `--fix --unsafe-fixes`)",
    SOMETIMES: "safe or unsafe depending on the code (see below)",
    NO_FIX: "none",
}


def render_page(rule: Type[Rule]) -> str:
    header = (
        f"# {rule.code} {rule.name}\n\n"
        f"{rule.summary[0].upper() + rule.summary[1:]}.\n\n"
        f"- Code: `{rule.code}`\n"
        f"- Name: `{rule.name}`\n"
        f"- Fix: {_FIX_WORDS[rule.fix_safety]}\n"
        + ("- Preview: off by default; enable with `--preview` or `preview = true` in `[tool.torchlint]`, or select "
           f"it by code (`--extend-select {rule.code}`)\n" if rule.preview else "")
        + "\n"
    )
    return header + rule.documentation() + "\n"


def render_index() -> str:
    lines = ["# torchlint rules", "", "Generated from the rule classes by `python -m torchlint.docs`.", "",
             "| Code | Name | Fix | Summary |", "| --- | --- | --- | --- |"]
    for rule in all_rules():
        lines.append(f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.fix_safety} | {rule.summary} |")
    return "\n".join(lines) + "\n"


def render_torchfix() -> str:
    """rules/torchfix.md: every TorchFix code and the torchlint rule that covers it."""
    from torchlint.analysis.deprecations import tomllib

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "torchfix_codes.toml")
    with open(path, "rb") as handle:
        codes = tomllib.load(handle)
    lines = ["# TorchFix codes and the torchlint rules that cover them", "",
             "Generated from torchlint/data/torchfix_codes.toml by `python -m torchlint.docs`.", "",
             "| TorchFix | What it reports | torchlint | Notes |", "| --- | --- | --- | --- |"]
    for code, row in codes.items():
        rules = ", ".join(f"[{r}]({r}.md)" for r in row["torchlint"]) or "none"
        lines.append(f"| {code} | {row['torchfix']} | {rules} | {row['note']} |")
    return "\n".join(lines) + "\n"


def expected_pages() -> Dict[str, str]:
    pages = {f"{rule.code}.md": render_page(rule) for rule in all_rules()}
    pages["README.md"] = render_index()
    pages["torchfix.md"] = render_torchfix()
    return pages


def main(argv=None) -> int:
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules")
    os.makedirs(folder, exist_ok=True)
    for name, content in expected_pages().items():
        with open(os.path.join(folder, name), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
    print(f"wrote {len(expected_pages())} pages to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
