"""The CI gate: SARIF and GitHub annotations, and baselines that survive unrelated edits."""

import json
from pathlib import Path

import pytest

BAD = "import torch\n\n\ndef load(path):\n    return torch.load(path)\n"
TWO = BAD + "\n\ndef again(path):\n    return torch.load(path)\n"


def test_sarif_structure(cli, write, tmp_path):
    write("pkg/bad.py", TWO)
    result = cli("check", "--output-format", "sarif", "pkg", cwd=tmp_path)
    assert result.code == 1
    document = json.loads(result.out)
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "torchlint" and driver["version"]
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert rules["TL502"]["name"] == "torch-load-without-weights-only"
    assert rules["TL502"]["helpUri"].endswith("/rules/TL502.md")
    assert rules["TL502"]["shortDescription"]["text"] and rules["TL502"]["fullDescription"]["text"]
    assert rules["TL502"]["defaultConfiguration"]["level"] == "error"
    first, second = run["results"]
    assert first["ruleId"] == "TL502" and driver["rules"][first["ruleIndex"]]["id"] == "TL502"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pkg/bad.py"
    assert location["region"]["startLine"] == 5 and location["region"]["startColumn"] == 12
    assert first["partialFingerprints"]["torchlint/v1"] != second["partialFingerprints"]["torchlint/v1"]


def test_sarif_fingerprints_survive_edits_above(cli, write, tmp_path):
    path = write("bad.py", TWO)
    before = json.loads(cli("check", "--output-format", "sarif", "bad.py", cwd=tmp_path).out)
    path.write_text("# a new comment\nimport os\n\n" + TWO)
    after = json.loads(cli("check", "--output-format", "sarif", "bad.py", cwd=tmp_path).out)
    prints = lambda doc: [r["partialFingerprints"]["torchlint/v1"] for r in doc["runs"][0]["results"]]
    lines = lambda doc: [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in doc["runs"][0]["results"]]
    assert prints(before) == prints(after)
    assert lines(before) != lines(after)


def test_sarif_validates_against_the_schema(cli, write, tmp_path):
    import jsonschema

    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    write("bad.py", TWO)
    write("broken.py", "import torch\ntorch.load(\n")
    document = json.loads(cli("check", "--output-format", "sarif", ".", cwd=tmp_path).out)
    jsonschema.validate(document, schema)
    assert len(document["runs"][0]["results"]) == 3


def test_github_annotations(cli, write, tmp_path):
    write("bad.py", BAD)
    result = cli("check", "--output-format", "github", "bad.py", cwd=tmp_path)
    assert result.code == 1
    (line,) = result.out.splitlines()
    assert line.startswith(
        "::error file=bad.py,line=5,col=12,endLine=5,endColumn=28,title=TL502 (torch-load-without-weights-only)::TL502 "
    )


def test_github_annotation_escapes():
    import io

    from torchlint.report import FileFindings, github
    from torchlint.rule import Finding

    out = io.StringIO()
    finding = Finding("TL502", "100% bad: a,b\nnext", None, None, 1, 2, 1, 3)
    github.render([FileFindings("a,b:c.py", ["x"], [finding])], out)
    assert out.getvalue() == (
        "::error file=a%2Cb%3Ac.py,line=1,col=2,endLine=1,endColumn=3,title=TL502 (torch-load-without-weights-only)"
        "::TL502 100%25 bad: a,b%0Anext\n"
    )


def test_baseline_gates_only_new_findings(cli, write, tmp_path):
    path = write("bad.py", TWO)
    written = cli("check", "--write-baseline", "baseline.json", ".", cwd=tmp_path)
    assert written.code == 0 and "Wrote 2 findings" in written.out
    assert cli("check", "--baseline", "baseline.json", ".", cwd=tmp_path).code == 0
    # Unrelated edits above the findings: still known.
    path.write_text('"""Docs."""\nimport os\n\n' + TWO)
    assert cli("check", "--baseline", "baseline.json", ".", cwd=tmp_path).code == 0
    # A new finding fails the gate, and only it is reported.
    path.write_text(path.read_text() + "\n\nx = torch.load('new.pt')\n")
    result = cli("check", "--baseline", "baseline.json", "--output-format", "json", ".", cwd=tmp_path)
    assert result.code == 1
    assert [f["location"]["row"] for f in json.loads(result.out)] == [15]


def test_baseline_reports_stale_entries(cli, write, tmp_path):
    path = write("bad.py", TWO)
    cli("check", "--write-baseline", "baseline.json", ".", cwd=tmp_path)
    path.write_text(BAD.replace("torch.load(path)", "torch.load(path, weights_only=True)"))
    result = cli("check", "--baseline", "baseline.json", ".", cwd=tmp_path)
    assert result.code == 0
    assert "2 baseline entries no longer match" in result.out


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("{", "not valid JSON"),
    ('{"something": 1}', "not a torchlint baseline"),
])
def test_bad_baseline_is_a_usage_error(cli, write, tmp_path, content, message):
    write("bad.py", BAD)
    if content is not None:
        write("baseline.json", content)
    result = cli("check", "--baseline", "baseline.json", ".", cwd=tmp_path)
    assert result.code == 2 and message in result.err


def test_a_written_baseline_is_readable_as_any_file_the_user_makes(cli, write, tmp_path):
    """It is committed and read by CI and teammates: the umask's mode for a new one (not the
    owner-only mode of the temporary file it is written through), the old mode when replaced."""
    import os

    write("bad.py", "import torch\n\n\ndef load(p):\n    return torch.load(p)\n")
    baseline = tmp_path / "baseline.json"
    mask = os.umask(0o022)
    try:
        cli("check", "--no-cache", "--write-baseline", baseline, ".", cwd=tmp_path)
        assert baseline.stat().st_mode & 0o777 == 0o644
        baseline.chmod(0o664)
        cli("check", "--no-cache", "--write-baseline", baseline, ".", cwd=tmp_path)
        assert baseline.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(mask)
