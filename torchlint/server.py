"""`torchlint server`: a Language Server for editors (needs the `lsp` extra: pygls).

Diagnostics on open, change (debounced) and save; code actions "Fix TLxxx" per finding (unsafe
ones labelled), "Fix all safe torchlint findings", and "Disable TLxxx for this line" (a noqa).
Settings come from the pyproject.toml nearest to each document, as on the command line.
A Markdown document's Python blocks are checked as on the command line; a notebook document
(LSP 3.17 `notebookDocument/*`) is checked as one module of its code cells, diagnostics published
on each cell's document.
Positions: torchlint counts columns in code points; the client's columns are in the encoding
negotiated at initialisation (`positionEncoding`: utf-8, utf-16, the LSP default, or utf-32), so
every position is converted on the way out (diagnostics, edits) and on the way in (the range of a
code-action request): an emoji before a finding is 4 UTF-8 units, 2 UTF-16 units, 1 code point.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Dict, List
from urllib.parse import unquote, urlparse

from torchlint import __version__
from torchlint.config import ConfigError, FileConfig, Settings, SettingsResolver, build_settings
from torchlint.documents import MARKDOWN, document_kind
from torchlint.engine import LintResult, applicable, apply_findings, fix_text, lint_text
from torchlint.guard import with_deep_stack
from torchlint.noqa import is_suppressed, noqa_codes
from torchlint.report import rule_url
from torchlint.rule import SAFE, Finding, all_rules
from torchlint.runner import import_context

DEBOUNCE_SECONDS = 0.3


def _path_of(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


class _Linter:
    """Lints document texts with the settings of the project each document belongs to."""

    def __init__(self) -> None:
        self._resolver = SettingsResolver()
        self._consumed: Dict[str, set] = {}  # open document path -> project modules its findings used
        self._projects: Dict[str, object] = {}  # open document path -> its project (holding the buffers)

    def close(self, path: str) -> None:
        """A closed document's modules are read from disk again."""
        self._consumed.pop(path, None)
        project = self._projects.pop(path, None)
        if project is not None:
            project.overrides.pop(path, None)  # type: ignore[attr-defined]

    def importers(self, path: str) -> List[str]:
        """The open documents whose findings used the module at `path`: they need re-linting."""
        return sorted(other for other, used in self._consumed.items() if path in used and other != path)

    def settings_for(self, path: str) -> Settings:
        try:
            return self._resolver.for_path(path)
        except ConfigError:  # a broken pyproject.toml: lint with the defaults rather than not at all
            return build_settings(FileConfig())

    def lint(self, path: str, text: str) -> LintResult:
        """Deep code gets a deep stack; a file torchlint fails on has no diagnostics, no crash."""
        settings = self.settings_for(path)
        context = import_context(path, settings)
        # Importers read this module's unsaved text, not the file on disk.
        context.project.overrides[context.path] = text
        self._projects[context.path] = context.project
        try:
            if document_kind(path, settings.includes) == MARKDOWN:
                result = LintResult(with_deep_stack(lambda: self._lint_markdown(text, settings, path, context)))
            else:
                result = with_deep_stack(lambda: lint_text(text, settings.rules_for(path),
                                                           options=settings.options(), context=context))
        except Exception:
            return LintResult([])
        self._consumed[context.path] = set(context.consumed)
        return result

    @staticmethod
    def _lint_markdown(text: str, settings: Settings, path: str, context) -> List[Finding]:
        """A Markdown document's Python blocks (positions are the document's own: no cells)."""
        from torchlint.documents.check import lint_document
        from torchlint.documents.markdown import MarkdownDocument

        return lint_document(MarkdownDocument.parse(text), settings.rules_for(path), settings.options(), context)

    def lint_notebook(self, path: str, cells: List[str]) -> List[Finding]:
        """The findings of a notebook's code cells (in order, one module); `finding.cell` is the
        1-based index into `cells`."""
        import json

        from torchlint.documents.check import lint_document
        from torchlint.documents.notebook import NotebookDocument

        settings = self.settings_for(path)
        data = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": text} for text in cells],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        try:
            document = NotebookDocument.parse(json.dumps(data))
            return with_deep_stack(lambda: lint_document(document, settings.rules_for(path), settings.options(),
                                                         import_context(path, settings)))
        except Exception:
            return []

    def fix_all(self, path: str, text: str) -> str:
        settings = self.settings_for(path)
        if document_kind(path, settings.includes) == MARKDOWN:
            from torchlint.documents.check import fix_document
            from torchlint.documents.markdown import MarkdownDocument

            try:
                fixed = with_deep_stack(lambda: fix_document(MarkdownDocument.parse(text), settings.rules_for(path),
                                                             False, settings.options(), import_context(path, settings)))
            except Exception:
                return text
            return fixed.text if fixed.text is not None else text
        try:
            return with_deep_stack(lambda: fix_text(text, settings.rules_for(path), unsafe=False,
                                                    options=settings.options(),
                                                    context=import_context(path, settings)).text)
        except Exception:
            return text


def _text_edit(types, codec, old: str, new: str):
    """One edit replacing only the changed middle of the document (keeps the cursor stable)."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    old_end, new_end = len(old), len(new)
    while old_end > start and new_end > start and old[old_end - 1] == new[new_end - 1]:
        old_end -= 1
        new_end -= 1
    lines = old.splitlines(keepends=True)
    return types.TextEdit(
        range=codec.range_to_client_units(lines, types.Range(
            start=_position(types, old, start), end=_position(types, old, old_end))),
        new_text=new[start:new_end],
    )


def _position(types, text: str, offset: int):
    """The position of a code-point offset, in code points."""
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=column)


def _range(types, codec, lines: List[str], finding: Finding):
    """The finding's range in the client's units (`lines`: the document's, line ends kept)."""
    return codec.range_to_client_units(lines, types.Range(
        start=types.Position(line=finding.line - 1, character=finding.column - 1),
        end=types.Position(line=max(finding.end_line, finding.line) - 1, character=finding.end_column - 1),
    ))


def _overlaps(types, a, b) -> bool:
    return not ((a.end.line, a.end.character) < (b.start.line, b.start.character)
                or (b.end.line, b.end.character) < (a.start.line, a.start.character))


def _noqa_line(line: str, code: str) -> str:
    """The line with `code` added to its noqa comment (or a new `# noqa: CODE`)."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    codes = noqa_codes(body)
    if codes is None:
        return f"{body}  # noqa: {code}{ending}"
    if is_suppressed(body, code):
        return line
    return re.sub(r"(#\s*noqa:\s*)([^#]*)", lambda m: f"{m.group(1)}{m.group(2).rstrip()}, {code}", body,
                  count=1, flags=re.IGNORECASE) + ending


def build_server():
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    server = LanguageServer("torchlint", __version__, notebook_document_sync=types.NotebookDocumentSyncOptions(
        notebook_selector=[types.NotebookDocumentFilterWithCells(cells=[types.NotebookCellLanguage(language="python")],
                                                                 notebook="jupyter-notebook")], save=True))
    linter = _Linter()
    pending: Dict[str, asyncio.Task] = {}
    severity = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning,
                "note": types.DiagnosticSeverity.Information}
    levels = {rule.code: rule.level for rule in all_rules()}

    uris: Dict[str, str] = {}  # open document path -> uri

    def publish(uri: str, importers: bool = True) -> None:
        """Lint and publish one document, then (after an edit of it) the open documents that
        import it, whose cross-module findings may have changed."""
        path = os.path.abspath(_path_of(uri))
        uris[path] = uri
        publish_one(uri)
        if importers:
            for other in linter.importers(path):
                if other in uris:
                    publish_one(uris[other])

    def publish_one(uri: str) -> None:
        document = server.workspace.get_text_document(uri)
        text = document.source
        result = linter.lint(_path_of(uri), text)
        codec, lines = server.workspace.position_codec, text.splitlines(keepends=True)
        diagnostics = [
            types.Diagnostic(
                range=_range(types, codec, lines, f), message=f.message, source="torchlint", code=f.code,
                code_description=types.CodeDescription(href=rule_url(f.code)),
                severity=severity.get(levels.get(f.code, "warning"), types.DiagnosticSeverity.Warning),
            )
            for f in result.findings
        ]
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=document.version))

    def notebook_findings(notebook) -> List[tuple]:
        """(cell uri, its text, its findings) for each code cell of an open notebook."""
        cells = [cell.document for cell in notebook.cells if cell.kind == types.NotebookCellKind.Code]
        texts = [server.workspace.get_text_document(uri).source for uri in cells]
        findings = linter.lint_notebook(_path_of(notebook.uri), texts)
        return [(uri, text, [f for f in findings if f.cell == index])
                for index, (uri, text) in enumerate(zip(cells, texts), 1)]

    def publish_notebook(uri: str) -> None:
        """Diagnostics of a notebook's cells, each published on its cell's document."""
        notebook = server.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is None:
            return
        codec = server.workspace.position_codec
        for cell_uri, text, findings in notebook_findings(notebook):
            lines = text.splitlines(keepends=True)
            server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell_uri, diagnostics=[
                types.Diagnostic(
                    range=_range(types, codec, lines, f), message=f.message, source="torchlint", code=f.code,
                    code_description=types.CodeDescription(href=rule_url(f.code)),
                    severity=severity.get(levels.get(f.code, "warning"), types.DiagnosticSeverity.Warning))
                for f in findings]))

    def schedule(uri: str, delay: float, action=None) -> None:
        previous = pending.pop(uri, None)
        if previous is not None:
            previous.cancel()

        async def later() -> None:
            await asyncio.sleep(delay)
            pending.pop(uri, None)
            (action or publish)(uri)

        pending[uri] = asyncio.ensure_future(later())

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        schedule(params.text_document.uri, DEBOUNCE_SECONDS)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        task = pending.pop(params.text_document.uri, None)
        if task is not None:
            task.cancel()
        path = os.path.abspath(_path_of(params.text_document.uri))
        uris.pop(path, None)
        linter.close(path)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(params: types.DidOpenNotebookDocumentParams) -> None:
        publish_notebook(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(params: types.DidChangeNotebookDocumentParams) -> None:
        schedule(params.notebook_document.uri, DEBOUNCE_SECONDS, publish_notebook)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(params: types.DidSaveNotebookDocumentParams) -> None:
        schedule(params.notebook_document.uri, 0, publish_notebook)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(params: types.DidCloseNotebookDocumentParams) -> None:
        task = pending.pop(params.notebook_document.uri, None)
        if task is not None:
            task.cancel()
        for cell in params.cell_text_documents:
            server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell.uri, diagnostics=[]))

    def cell_actions(uri: str, notebook, params: types.CodeActionParams) -> List[types.CodeAction]:
        """In a notebook cell: "Disable TLxxx for this line" (fixes need the whole notebook,
        which the command line writes: `torchlint check --fix nb.ipynb`)."""
        codec = server.workspace.position_codec
        actions = []
        for cell_uri, text, findings in notebook_findings(notebook):
            if cell_uri != uri:
                continue
            lines = text.splitlines(keepends=True)
            for finding in findings:
                if _overlaps(types, _range(types, codec, lines, finding), params.range) and 0 < finding.line <= len(lines):
                    new_lines = list(lines)
                    new_lines[finding.line - 1] = _noqa_line(lines[finding.line - 1], finding.code)
                    actions.append(types.CodeAction(
                        title=f"Disable {finding.code} for this line", kind=types.CodeActionKind.QuickFix,
                        edit=types.WorkspaceEdit(changes={uri: [_text_edit(types, codec, text, "".join(new_lines))]})))
        return actions

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix,
                                                   types.CodeActionKind.SourceFixAll]),
    )
    def code_action(params: types.CodeActionParams) -> List[types.CodeAction]:
        uri = params.text_document.uri
        notebook = server.workspace.get_notebook_document(cell_uri=uri)
        if notebook is not None:
            return cell_actions(uri, notebook, params)
        text = server.workspace.get_text_document(uri).source
        path = _path_of(uri)
        result = linter.lint(path, text)
        actions: List[types.CodeAction] = []
        lines = text.splitlines(keepends=True)
        codec = server.workspace.position_codec

        def edit_action(title, kind, new_text, preferred=False):
            return types.CodeAction(
                title=title, kind=kind, is_preferred=preferred,
                edit=types.WorkspaceEdit(changes={uri: [_text_edit(types, codec, text, new_text)]}),
            )

        for finding in result.findings:
            if not _overlaps(types, _range(types, codec, lines, finding), params.range):
                continue
            if finding.fix is not None and result.module is not None:
                fixed = apply_findings(result.module, [finding])
                if fixed is not None:
                    label = "" if finding.fix.applicability == SAFE else " (unsafe)"
                    actions.append(edit_action(f"Fix {finding.code}: {finding.fix.message}{label}",
                                               types.CodeActionKind.QuickFix, fixed[0],
                                               preferred=finding.fix.applicability == SAFE))
            if 0 < finding.line <= len(lines):
                new_lines = list(lines)
                new_lines[finding.line - 1] = _noqa_line(lines[finding.line - 1], finding.code)
                actions.append(edit_action(f"Disable {finding.code} for this line",
                                           types.CodeActionKind.QuickFix, "".join(new_lines)))
        if any(applicable(f.fix, unsafe=False) for f in result.findings):
            fixed_all = linter.fix_all(path, text)
            if fixed_all != text:
                actions.append(edit_action("Fix all safe torchlint findings",
                                           types.CodeActionKind.SourceFixAll, fixed_all))
        return actions

    return server


def serve() -> None:
    build_server().start_io()
