"""The language server, driven over stdio by a real LSP client (pytest-lsp)."""

import asyncio
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

BAD = "import torch\n\n\ndef load(p):\n    return torch.load(p)\n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "torchlint", "server"]))
async def client(lsp_client: LanguageClient, tmp_path):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=tmp_path.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def open_document(client, path, text):
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def apply(text, edit):
    lines = text.splitlines(keepends=True)
    def offset(position):
        return sum(len(line) for line in lines[: position.line]) + position.character
    start, end = offset(edit.range.start), offset(edit.range.end)
    return text[:start] + edit.new_text + text[end:]


async def test_diagnostics_on_open(client: LanguageClient, tmp_path):
    uri = await open_document(client, tmp_path / "bad.py", BAD)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "TL502" and diagnostic.source == "torchlint"
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (4, 11)
    assert diagnostic.code_description.href.endswith("/rules/TL502.md")


async def test_diagnostics_follow_changes(client: LanguageClient, tmp_path):
    uri = await open_document(client, tmp_path / "bad.py", BAD)
    fixed = BAD.replace("torch.load(p)", "torch.load(p, weights_only=True)")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []


async def test_code_actions_fix_and_disable(client: LanguageClient, tmp_path):
    uri = await open_document(client, tmp_path / "bad.py", BAD)
    (diagnostic,) = client.diagnostics[uri]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    titles = [action.title for action in actions]
    assert titles == ["Fix TL502: Add `weights_only=True`", "Disable TL502 for this line",
                      "Fix all safe torchlint findings"]
    (fix_edit,) = actions[0].edit.changes[uri]
    assert apply(BAD, fix_edit) == BAD.replace("torch.load(p)", "torch.load(p, weights_only=True)")
    (noqa_edit,) = actions[1].edit.changes[uri]
    assert apply(BAD, noqa_edit).splitlines()[4] == "    return torch.load(p)  # noqa: TL502"


async def test_unsafe_fixes_are_labelled_and_workspace_settings_apply(client: LanguageClient, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nignore = ["TL502"]\n')
    source = "import torch\nfrom torch import nn\n\nmodel = nn.Linear(2, 2)\ntorch.save(model, 'm.pt')\nx = torch.load('m.pt')\n"
    uri = await open_document(client, tmp_path / "save.py", source)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "TL501"
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    assert actions[0].title == "Fix TL501: Save `model.state_dict()` (unsafe)"


# ---------------------------------------------------------------- position encodings
EMOJI = "import torch\n\n\ndef load(p):\n    s = '\U0001F600'; return torch.load(p)\n"


@pytest_lsp.fixture(params=["utf-8", "utf-16", "utf-32"],
                    config=ClientServerConfig(server_command=[sys.executable, "-m", "torchlint", "server"]))
async def encoded_client(lsp_client: LanguageClient, request, tmp_path):
    capabilities = client_capabilities("visual-studio-code")
    capabilities.general = types.GeneralClientCapabilities(position_encodings=[request.param])
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities, root_uri=tmp_path.as_uri()))
    assert result.capabilities.position_encoding == request.param  # announced as asked
    lsp_client.encoding = request.param
    yield
    await lsp_client.shutdown_session()


def units(text, encoding):
    return len(text.encode(encoding.replace("utf-16", "utf-16-le").replace("utf-32", "utf-32-le"))) // {
        "utf-8": 1, "utf-16": 2, "utf-32": 4}[encoding]


def apply_encoded(text, edit, encoding):
    """Apply an edit whose columns are in `encoding` code units."""
    lines = text.splitlines(keepends=True)

    def offset(position):
        line, column = lines[position.line], 0
        while units(line[:column], encoding) < position.character:
            column += 1
        return sum(len(each) for each in lines[: position.line]) + column

    start, end = offset(edit.range.start), offset(edit.range.end)
    return text[:start] + edit.new_text + text[end:]


async def test_positions_follow_the_negotiated_encoding(encoded_client: LanguageClient, tmp_path):
    encoding = encoded_client.encoding
    uri = await open_document(encoded_client, tmp_path / "emoji.py", EMOJI)
    (diagnostic,) = encoded_client.diagnostics[uri]
    line = EMOJI.splitlines()[4]
    start = line.index("torch.load")
    assert diagnostic.range.start.character == units(line[:start], encoding)
    assert diagnostic.range.end.character == units(line[:line.index("(p)") + 3], encoding)
    actions = await encoded_client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    (fix_edit,) = actions[0].edit.changes[uri]
    assert apply_encoded(EMOJI, fix_edit, encoding) == EMOJI.replace("torch.load(p)", "torch.load(p, weights_only=True)")
    (noqa_edit,) = actions[1].edit.changes[uri]
    assert apply_encoded(EMOJI, noqa_edit, encoding).splitlines()[4].endswith("torch.load(p)  # noqa: TL502")


MODELS = ("import torch.nn as nn\nimport torch.nn.functional as F\n\n\nclass Net(nn.Module):\n"
          "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 3)\n\n"
          "    def forward(self, x):\n        return F.softmax(self.fc(x), dim=1)\n")
TRAIN = ("import torch\nimport torch.nn as nn\n\nfrom models import Net\n\nmodel = Net()\n"
         "loss = nn.CrossEntropyLoss()(model(torch.randn(2, 4)), torch.tensor([0, 1]))\n")


async def test_importers_follow_unsaved_edits_of_the_modules_they_use(client: LanguageClient, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    models = await open_document(client, tmp_path / "models.py", MODELS)
    train = await open_document(client, tmp_path / "train.py", TRAIN)
    assert [d.code for d in client.diagnostics[train]] == ["TL101"]  # Net's forward ends in softmax
    logits = MODELS.replace("F.softmax(self.fc(x), dim=1)", "self.fc(x)")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=models, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=logits)]))
    for _ in range(100):  # the edited module is published, then its open importer (within 10 s)
        if not list(client.diagnostics[train]):
            break
        await asyncio.sleep(0.1)
    assert list(client.diagnostics[train]) == []  # not saved: the buffer is what counts


async def test_a_markdown_document_is_checked_as_markdown(client: LanguageClient, tmp_path):
    text = "# Notes\n\nSome prose.\n\n```python\n" + BAD + "```\n"
    uri = await open_document(client, tmp_path / "notes.md", text)
    (diagnostic,) = client.diagnostics[uri]  # the file's own positions; the prose is no TL001
    assert diagnostic.code == "TL502" and (diagnostic.range.start.line, diagnostic.range.start.character) == (9, 11)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    fix_all = [a for a in actions if a.kind == types.CodeActionKind.SourceFixAll]
    assert fix_all and apply(text, fix_all[0].edit.changes[uri][0]) == text.replace(
        "torch.load(p)", "torch.load(p, weights_only=True)")


async def test_a_notebook_document_is_one_module_of_its_cells(client: LanguageClient, tmp_path):
    notebook_uri = (tmp_path / "nb.ipynb").as_uri()
    cells = ["import torch\n%matplotlib inline\n", "# notes\n", "!pip install torch\nstate = torch.load(p)\n"]
    uris = [f"vscode-notebook-cell:{tmp_path / 'nb.ipynb'}#cell{i}" for i in range(3)]
    kinds = [types.NotebookCellKind.Code, types.NotebookCellKind.Markup, types.NotebookCellKind.Code]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(uri=notebook_uri, notebook_type="jupyter-notebook", version=1,
                                                 cells=[types.NotebookCell(kind=k, document=u) for k, u in zip(kinds, uris)]),
        cell_text_documents=[types.TextDocumentItem(uri=u, language_id="python" if k == types.NotebookCellKind.Code
                                                    else "markdown", version=1, text=t)
                             for u, k, t in zip(uris, kinds, cells)]))
    for _ in range(100):  # one publication per code cell, back to back (within 10 s)
        if uris[0] in client.diagnostics and uris[2] in client.diagnostics:
            break
        await asyncio.sleep(0.1)
    assert list(client.diagnostics[uris[0]]) == []  # the magic is masked, no TL001
    (diagnostic,) = client.diagnostics[uris[2]]  # torch was imported in the first cell
    assert diagnostic.code == "TL502" and (diagnostic.range.start.line, diagnostic.range.start.character) == (1, 8)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uris[2]), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    assert [a.title for a in actions] == ["Disable TL502 for this line"]
