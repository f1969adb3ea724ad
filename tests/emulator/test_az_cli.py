"""The az CLI, unchanged, against the emulator: tests/emulator/scripts/az_common.sh under `azure-emulator run`.

Runs when az is on PATH or in .venv-az; `scripts/test -m az` installs it into .venv-az first
(about 700 MB, two minutes). Without az and without `-m az` the test is skipped, so the default
test command stays fast.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
AZ_VENV = ROOT / ".venv-az"
AZ_VERSION = "2.91.0"
SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PROVISION_CI_APP_ID = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
MLS = "Microsoft.MachineLearningServices/workspaces"


def installed_az() -> Optional[str]:
    """az on PATH, else the one in .venv-az."""
    venv_az = AZ_VENV / "bin" / "az"
    return shutil.which("az") or (str(venv_az) if venv_az.exists() else None)


def asked_for(config: pytest.Config) -> bool:
    """Whether `-m` selects the az marker itself (`-m az`, `-m "az or slow"`; not `-m "not az"`)."""
    expression = str(config.getoption("markexpr") or "")
    return bool(re.search(r"(?<!not )\baz\b", expression))


def install_az() -> str:
    subprocess.run([sys.executable, "-m", "venv", str(AZ_VENV)], check=True)
    subprocess.run([str(AZ_VENV / "bin" / "pip"), "install", "--quiet", f"azure-cli=={AZ_VERSION}"], check=True)
    return str(AZ_VENV / "bin" / "az")


@pytest.fixture(scope="session")
def az_cli(request: pytest.FixtureRequest) -> str:
    found = installed_az()
    if found:
        return found
    if asked_for(request.config):
        return install_az()
    pytest.skip(f"az is not installed (run `scripts/test -m az` to install azure-cli {AZ_VERSION} into .venv-az)")


DUMP = """
import json, os, sys
from azure_emulator.api import ControlClient
control = ControlClient(os.environ["AZURE_EMULATOR_CONTROL_URL"])
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    json.dump({"requests": control.requests(), "egress": control.egress()}, fh)
"""


def run_script(az: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """az_common.sh under `azure-emulator run`; the run's request and egress logs go to tmp_path/log.json."""
    (tmp_path / "dump.py").write_text(DUMP)
    wrapper = f'bash "{SCRIPTS / "az_common.sh"}"; code=$?; "{sys.executable}" "{tmp_path / "dump.py"}" "{tmp_path / "log.json"}"; exit $code'
    env = {**os.environ, "PATH": f"{Path(az).parent}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "azure_emulator", "run", "--world", str(SCRIPTS / "az_world.yaml"), "--", "bash", "-c", wrapper]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)


def results(stdout: str) -> dict[str, str]:
    """The script's `key: value` lines."""
    return dict(line.split(": ", 1) for line in stdout.splitlines() if re.match(r"^[a-z-]+: ", line))


def failures(log: dict[str, Any]) -> str:
    """The answers of 400 and above, and the egress, for an assertion message."""
    lines = [f"{r['status']} {r['method']} {r['host']}{r['path']} {r['query']}" for r in log.get("requests", []) if r["status"] >= 400]
    lines += [f"egress: {e}" for e in log.get("egress", [])]
    return "\n".join(lines)


@pytest.mark.az
def test_common_az_commands_run_unchanged(az_cli: str, tmp_path: Path) -> None:
    log_file = tmp_path / "log.json"
    done = run_script(az_cli, tmp_path)
    log = json.loads(log_file.read_text()) if log_file.exists() else {}
    why = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}\nanswers >= 400:\n{failures(log)}"
    assert done.returncode == 0, why
    assert "az-common: all commands passed" in done.stdout, why
    got = results(done.stdout)
    assert got["account"] == f"{SUB} {TENANT} servicePrincipal"
    assert got["group-create-again"] == "same"
    assert got["group-show"] == "rg-az-script eastus2 Succeeded ci"
    assert got["group-list-tag"] == "rg-az-script"
    assert got["group-exists"] == "true"
    listed = set(got["resource-list-group"].split())
    assert {MLS, f"{MLS}/serverlessEndpoints", "Microsoft.SaaS/resources"} <= listed
    assert f"{MLS}/marketplaceSubscriptions" not in listed  # a proxy resource: ARM's generic list leaves it out
    assert got["resource-list-type"] == "az-script-small"
    assert got["resource-list-tag"] == "az-script-small"
    assert got["role-create-app"].split() == [PROVISION_CI_APP_ID, "Reader", "ServicePrincipal"]  # the appId is the name az shows
    assert got["role-create-again"] == "same"
    assert got["role-duplicate"] == "RoleAssignmentExists"
    assert got["role-list-group"].split() == [PROVISION_CI_APP_ID, "ServicePrincipal", "alice@contoso.onmicrosoft.com", "User",
                                              "genai-developers", "Group"]
    assert got["role-list-upn"] == "Reader"
    assert got["role-list-inherited"] == "Azure AI Developer Reader"
    assert got["rest-endpoint"].split() == ["az-script-small", "Succeeded", "ci"]
    assert got["rest-subscription"].split() == [SUB, "Enabled"]
    assert got["rest-recreate"] == "Succeeded"
    assert got["group-deleted"] == "false"
    assert log["egress"] == [], failures(log)
    assert {r["host"] for r in log["requests"] if r["kind"] == "graph"} == {"graph.microsoft.com"}


def test_marker_selection() -> None:
    class Config:
        def __init__(self, expression: str) -> None:
            self.expression = expression

        def getoption(self, name: str) -> str:
            assert name == "markexpr"
            return self.expression

    assert asked_for(Config("az"))  # type: ignore[arg-type]
    assert asked_for(Config("az or slow"))  # type: ignore[arg-type]
    assert not asked_for(Config("not az"))  # type: ignore[arg-type]
    assert not asked_for(Config(""))  # type: ignore[arg-type]
    assert not asked_for(Config("lazy"))  # type: ignore[arg-type]
