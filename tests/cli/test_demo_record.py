"""docs/demo.md is a record of scripts/demo: every command it shows is one the script runs, in the
same order, and it shows the results the script is there to show."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_record_shows_the_commands_the_demo_runs_in_order():
    record = (ROOT / "docs/demo.md").read_text()
    script = (ROOT / "scripts/demo").read_text()
    shown = re.findall(r"^\$ (provision [^#\n]*?)\s*(?:#.*)?$", record, re.M)
    run = [f"provision {m.strip()}" for m in re.findall(r'^run ([^\n]+)$', script, re.M)]
    run += [c for c in re.findall(r'echo "\\\$ (provision [^#"]*?)\s*(?:#[^"]*)?"', script) if "$*" not in c]
    assert shown and sorted(shown) == sorted(run), (shown, run)
    order = [record.index(f"$ {c}") for c in shown]
    assert order == sorted(order)


def test_the_record_shows_a_ready_deployment_no_second_writes_and_the_mistakes_caught():
    record = (ROOT / "docs/demo.md").read_text()
    assert "2 of 2 deployments ready" in record
    assert "No findings: 2 deployments match the spec (mistral-medium-chat, codestral)." in record
    assert "the keys are Foundry resource contoso-foundry's, shared by codestral" in record
    assert "ok   codestral: deleted deployment codestral" in record
    assert "did you mean 'mistral-small-2503'?" in record and "retired on 2025-04-15" in record
    assert "not offered as a serverless API in France Central" in record
    assert "7 writes (above), 0 refused outbound attempts" in record
