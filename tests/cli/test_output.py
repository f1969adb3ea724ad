"""The CLI's output as a user sees it, in-process (CliRunner's isolation around provision's own
error handling) against the emulator: colour on and off, destroy's typed confirmation, audit --only
and did-you-mean, JSON nulls and `blocked`, heartbeat and failure lines without a terminal."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from provision import httptrace
from provision import cli as cli_module
from tests.e2e.helpers import spec_text

SMALL = {"name": "mistral-small-chat", "model": "mistral-small-2503", "tags": {"team": "chat"}}
CODE = {"name": "codestral-ci", "model": "Codestral-2501"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def project(emu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deployments.yaml").write_text(spec_text(SMALL, CODE))
    yield tmp_path
    httptrace.disable()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    with CliRunner().isolation(input=input, env={"NO_COLOR": None, "FORCE_COLOR": None, **(env or {})}) as (out, err, _):
        code = cli_module._run(list(args))
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_colour_only_when_forced_and_never_with_no_color_or_in_json(project):
    code, piped, _ = run("plan")
    assert code == 0 and not ANSI.search(piped) and "Plan: 4 to add, 0 to change, 0 to destroy" in piped
    code, forced, _ = run("plan", env={"FORCE_COLOR": "1"})
    assert code == 0 and ANSI.search(forced)
    assert ANSI.sub("", forced) == piped, "colour changes nothing but colour"
    assert "\x1b[32m  +\x1b[0m create endpoint mistral-small-chat" in forced.replace("    \x1b", "\x1b")
    _, refused, _ = run("plan", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert refused == piped
    _, document, _ = run("plan", "--output", "json", env={"FORCE_COLOR": "1"})
    assert not ANSI.search(document) and json.loads(document)["plan"]["summary"] == {"add": 4, "change": 0, "destroy": 0}


def test_destroy_on_a_terminal_asks_for_yes_typed_out(project, emu, monkeypatch):
    assert run("apply", "--yes")[0] == 0
    code, _, err = run("destroy")
    assert code == 1 and err.splitlines()[-1] == 'error: not on a terminal, so provision cannot ask "Delete the 4 resources above?": pass --yes to go ahead'
    monkeypatch.setattr(cli_module, "_on_terminal", lambda: True)
    code, out, err = run("destroy", input="y\n")
    assert code == 1 and "Delete the 4 resources above? Only 'yes' will be accepted: " in err
    assert err.splitlines()[-1] == "error: declined: nothing was deleted"
    assert "Plan: 0 to add, 0 to change, 4 to destroy" in out and len(emu.control.resources()) >= 4
    code, out, err = run("destroy", input="yes\n")
    assert code == 0, err
    assert [r for r in emu.control.resources() if r["kind"] in ("serverlessEndpoints", "marketplaceSubscriptions")] == []


def test_a_misspelled_deployment_name_is_one_line_with_the_closest_name(project):
    for args in (("audit", "--only", "mistral-smal-chat"), ("plan", "--only", "mistral-smal-chat"), ("destroy", "--only", "mistral-smal-chat"),
                 ("probe", "mistral-smal-chat"), ("keys", "rotate", "mistral-smal-chat")):
        code, out, err = run(*args)
        assert (code, out, err) == (2, "", "error: no deployment 'mistral-smal-chat' in deployments.yaml; did you mean 'mistral-small-chat'?\n"), args
    code, _, err = run("audit", "--only", "nope")
    assert (code, err) == (2, "error: no deployment 'nope' in deployments.yaml (it has: mistral-small-chat, codestral-ci)\n")


def test_audit_only_reports_the_chosen_deployments(project, emu):
    assert run("apply", "--yes", "--only", "mistral-small-chat")[0] == 0
    code, out, _ = run("audit")
    assert code == 0 and "codestral-ci" in out
    code, out, _ = run("audit", "--only", "mistral-small-chat")
    assert (code, out) == (0, "No findings: 1 deployment matches the spec (mistral-small-chat).\n")
    code, out, _ = run("audit", "--only", "codestral-ci", "--output", "json")
    report = json.loads(out)
    assert report["deployments"] == ["codestral-ci"] and {f["subject"] for f in report["findings"]} == {"codestral-ci"}


def test_json_has_null_for_absent_values_and_blocked_for_each_deployment_a_failed_check_blocks(project):
    (project / "deployments.yaml").write_text(spec_text(SMALL, {**CODE, "resource_group": "rg-westeurope", "project": "contoso-we"}))
    code, out, _ = run("plan", "--output", "json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False

    def strings(value):
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    assert "" not in strings(document)
    assert all(c["remedy"] is None for c in document["checks"] if c["ok"] and not c.get("warning"))
    small, code_ci = document["plan"]["deployments"]
    assert small["blocked"] is None
    region = [b for b in code_ci["blocked"] if b["check"] == "region"]
    assert len(region) == 1 and region[0]["message"].startswith("hub contoso-hub-we is in West Europe"), code_ci["blocked"]
    _, text, _ = run("plan")
    [line] = [line for line in text.splitlines() if line.startswith("  + codestral-ci ")]
    assert line.startswith("  + codestral-ci (contoso-we, West Europe (westeurope))  [blocked: region"), line


def test_without_a_terminal_long_waits_get_heartbeats_and_failed_steps_a_line(project, emu, monkeypatch):
    monkeypatch.setattr("provision.progress.HEARTBEAT_S", 0.05)
    emu.control.configure(pace={"serverlessEndpoints": {"polls": 0, "seconds": 1}, "default": {"polls": 0, "seconds": 0}}, retry_after_ms=100)
    emu.control.faults(lro_failures=[{"resource_type": "serverlessEndpoints", "name": "codestral-ci", "kind": "create", "code": "InternalServerError",
                                      "message": "the operation failed", "times": 1}])
    code, out, err = run("apply", "--yes")
    assert code == 1, out + err
    assert re.search(r"^\[ *[0-9.]+ s\] mistral-small-chat: still creating endpoint mistral-small-chat \[\d+s elapsed\]$", err, re.MULTILINE), err
    failed = [line for line in err.splitlines() if re.match(r"\[ *[0-9.]+ s\] codestral-ci: .*failed.*: InternalServerError: the operation failed", line)]
    assert len(failed) == 1, err


def test_validate_verbose_lists_each_deployment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deployments.yaml").write_text(spec_text(SMALL, CODE))
    code, out, err = run("validate", "--verbose")
    assert (code, err) == (0, "")
    assert out == ("deployments.yaml: valid (2 deployments: mistral-small-chat, codestral-ci)\n"
                   "  mistral-small-chat: mistral-small-2503 in project contoso-chat (resource group rg-genai; allowed: East US 2 (eastus2), France Central (francecentral))\n"
                   "  codestral-ci: Codestral-2501 in project contoso-chat (resource group rg-genai; allowed: East US 2 (eastus2), France Central (francecentral))\n")
