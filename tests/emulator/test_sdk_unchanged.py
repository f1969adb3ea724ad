"""An azure-ai-ml script written for real Azure runs unchanged with only the printed environment."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import clean_environ

SCRIPT = Path(__file__).parent / "scripts" / "real_azure_flow.py"


def test_script_for_real_azure_runs_unchanged(emu):
    env = clean_environ()
    env.update(emu.env)  # exactly what `azure-emulator env` prints
    result = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "project contoso-chat Project eastus2 contoso-hub"
    assert lines[1] == "subscription mistral-medium subscribed mistral-medium-2505-offer"
    assert lines[2] == "endpoint mistral-medium-flow succeeded https://mistral-medium-flow.eastus2.models.ai.azure.com"
    assert lines[3] == "keys 32 32"
    assert lines[4] == "listed ['mistral-medium-flow']"
    assert lines[5] == "deleted [] []"
    log = emu.control.requests()
    hosts = {entry["host"] for entry in log}
    assert hosts == {"login.microsoftonline.com", "management.azure.com"}
    writes = [(e["method"], e["path"].rsplit("/", 2)[-2]) for e in log if e["write"]]
    assert writes == [
        ("PUT", "marketplaceSubscriptions"),
        ("PUT", "serverlessEndpoints"),
        ("DELETE", "serverlessEndpoints"),
        ("DELETE", "marketplaceSubscriptions"),
    ]
    assert emu.control.egress() == []
