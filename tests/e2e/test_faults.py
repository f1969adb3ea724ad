"""Convergence under Azure's transient failures: 10% of ARM requests answer 500/503/429 and 10%
of connections are dropped; every apply still converges with a complete, 0600 secrets file."""
from __future__ import annotations

import pytest

from .helpers import spec_text

DEPLOYMENTS = [
    {"name": "large-chat", "model": "mistral-medium-2505", "content_safety": "enabled"},
    {"name": "small-chat", "model": "mistral-small-2503"},
    {"name": "nemo-search", "model": "Ministral-3B", "project": "contoso-search"},
]


@pytest.mark.slow
def test_twenty_applies_on_fresh_worlds_converge_under_faults(cli, emu):
    for attempt in range(20):
        emu.control.reset()
        emu.control.faults(error_rate=0.1, error_statuses=[500, 503, 429], drop_rate=0.1, seed=attempt)
        secrets = cli.dir / ".secrets"
        if secrets.exists():
            for f in secrets.iterdir():
                f.unlink()
        cli.spec(spec_text(*DEPLOYMENTS))
        run = cli("apply", "--yes")
        assert run.code == 0, f"attempt {attempt}: {run}"
        values = cli.secrets_file()
        for d in DEPLOYMENTS:
            var = d["name"].upper().replace("-", "_")
            assert values[f"{var}_KEY"] == cli.keys_of(d["name"])[0], f"attempt {attempt}: {d['name']}"
            assert values[f"{var}_URL"].startswith(f"https://{d['name']}.eastus2.models.ai.azure.com")
        faulted = [r for r in emu.control.requests() if r["status"] in (0, 429, 500, 503)]
        assert faulted, "the faults were not injected"
        emu.control.clear_faults()
        emu.control.clear_requests()
        assert cli("apply", "--yes").code == 0
        assert cli.writes() == [], f"attempt {attempt}: not converged"
