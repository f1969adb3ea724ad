"""`validate` stays offline and warns, from the packaged catalog, about models it does not know,
spells differently or knows to be retired; following each printed fix removes the warning."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SPEC = """version: 1
defaults: {subscription: 6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11, resource_group: rg-genai, project: contoso-chat}
deployments:
  - {name: chat, model: MODEL}
"""


def run(model: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "deployments.yaml").write_text(SPEC.replace("MODEL", model))
        environ = {**{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "HTTP", "NO_PROXY"))}, "NO_COLOR": "1",
                   "PYTHONPATH": str(ROOT), **env}
        return subprocess.run([sys.executable, "-m", "provision", "validate", *args], capture_output=True, text=True, env=environ, cwd=tmp, timeout=60)


def validate(model: str) -> tuple[int, dict]:
    result = run(model, "--output", "json")
    return result.returncode, json.loads(result.stdout)


def test_a_current_model_gives_no_warning():
    assert validate("mistral-medium-2505") == (0, {"ok": True, "valid": True, "file": "deployments.yaml", "deployments": ["chat"], "warnings": []})


def test_each_warning_is_exit_0_and_its_fix_followed_removes_it():
    for model, message in [
        ("Mistral-large", "Mistral-large is retired since 2025-04-15 (per the catalog of 2026-11-25)"),
        ("Mistral-smal", "model 'Mistral-smal' is not in the catalog of 2026-11-25; did you mean 'mistral-small-2503'? (`provision plan` asks the registry)"),
        ("ministral-3b", "the catalog of 2026-11-25 spells the model 'Ministral-3B', not 'ministral-3b'"),
    ]:
        code, doc = validate(model)
        assert code == 0
        [warning] = doc["warnings"]
        assert (warning["check"], warning["ok"], warning["warning"], warning["message"]) == ("model", True, True, message)
        fixed = re.fullmatch(r"set `model: ([^`]+)`.*", warning["remedy"]).group(1)
        assert validate(fixed)[1]["warnings"] == []


def test_validate_never_calls_azure():
    # a proxy that refuses every connection: a call to Azure would fail, and the output would say so
    result = run("Mistral-smal", HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "deployments.yaml: valid (1 deployment: chat)",
        "  warn model       chat: model 'Mistral-smal' is not in the catalog of 2026-11-25; did you mean 'mistral-small-2503'? (`provision plan` asks the registry)",
        "       fix: set `model: mistral-small-2503`",
    ]


def test_many_unknown_models_are_warned_about_one_by_one_then_counted():
    from provision.catalog import packaged
    from provision.modelchecks import OFFLINE_UNKNOWN_LISTED, offline_findings
    from provision.spec import parse_spec
    import datetime as dt

    deployments = "".join(f"  - {{name: d{i}, model: gen-{i}}}\n" for i in range(40)) + "  - {name: old, model: Mistral-large}\n"
    spec = parse_spec(SPEC.split("deployments:")[0] + "deployments:\n" + deployments, environ={})
    found = offline_findings(spec, packaged(), dt.date(2026, 11, 25))
    assert [f.subject for f in found] == [f"d{i}" for i in range(OFFLINE_UNKNOWN_LISTED)] + ["old", "30 more deployments"]
    assert found[-1].message == ("their models are not in the catalog of 2026-11-25 either (d10, d11, d12, …); `provision plan` asks the registry")
    assert all(f.ok and f.warning for f in found)
