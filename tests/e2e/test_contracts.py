"""Output contracts on every path, and reports that are true when Azure cannot be read:
one JSON document with `ok` in JSON mode (failures included), the README's exit codes, one line
and no traceback for an environment problem, and identity/network failures named as what they are."""
from __future__ import annotations

import json

import pytest

from .helpers import spec_text

LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505"}


def one_document(run) -> dict:
    document = json.loads(run.stdout)  # the whole of stdout is one JSON document
    assert isinstance(document, dict) and document["ok"] is (run.code in (0, 3)), run
    if not document["ok"]:
        assert document["exit_code"] == run.code and document["error"], document
    assert "Traceback" not in run.stderr, run
    return document


@pytest.mark.parametrize("args, code", [
    (("validate",), 0),
    (("plan",), 0),
    (("plan", "--detailed-exitcode"), 3),
    (("apply",), 1),  # no --yes without a terminal
    (("apply", "--yes"), 0),
    (("whoami",), 0),
    (("audit",), 0),
    (("probe",), 1),  # nothing applied yet: no URL or key to call
    (("keys", "rotate", "mistral-large-chat", "--yes"), 1),  # no endpoint yet
    (("destroy", "--yes"), 0),
    (("plan", "--only", "nope"), 2),
    (("frobnicate",), 2),
])
@pytest.mark.parametrize("position", ["before", "after"])
def test_every_command_prints_one_json_document_with_ok(cli, args, code, position):
    cli.spec(spec_text(LARGE))
    argv = ("--output", "json", *args) if position == "before" else (*args, "--output", "json")
    run = cli(*argv)
    assert run.code == code, run
    one_document(run)


def test_schema_takes_the_global_options_in_both_positions(cli):
    for argv in (("schema", "--output", "json"), ("--output", "json", "schema"), ("schema", "--debug"), ("--debug", "schema")):
        run = cli(*argv)
        assert run.code == 0, run
        assert json.loads(run.stdout)["title"] == "provision deployments.yaml"


def test_an_invalid_spec_is_one_json_document(cli):
    cli.spec("deployments: []\n")
    document = one_document(cli("validate", "--output", "json"))
    assert document["valid"] is False and document["problems"][0]["path"] == "deployments"


def test_a_refused_apply_in_json_says_ok_false(cli):
    cli.spec(spec_text(dict(LARGE, allowed_regions=["francecentral"])))
    run = cli("apply", "--yes", "--output", "json")
    assert run.code == 1
    document = one_document(run)
    assert [c["check"] for c in document["checks"] if not c["ok"]] == ["region"]
    assert cli.writes() == []


def test_a_wrong_secret_is_named_and_no_plan_is_claimed(cli):
    cli.spec(spec_text(LARGE))
    cli.extra_env["AZURE_CLIENT_SECRET"] = "not-the-secret"
    run = cli("plan")
    assert run.code == 1, run
    assert "FAIL identity    caller: CredentialRejected: Microsoft Entra ID refused the credential: AADSTS7000215: Invalid client secret provided." in run.stdout
    assert "fix: fix the credential: AZURE_CLIENT_SECRET holds the secret's value (not its id)" in run.stdout
    assert "Plan: not made: nothing could be read from Azure" in run.stdout and "0 changes" not in run.stdout
    assert one_document(cli("plan", "--output", "json"))["plan"]["complete"] is False
    whoami = cli("whoami")
    assert whoami.code == 1 and whoami.stderr.strip().splitlines()[-1] == "error: could not sign in to Azure, so nothing else was read (the FAIL above says why)"


def test_an_unreachable_proxy_is_named_as_such(cli):
    cli.spec(spec_text(LARGE))
    cli.extra_env.update(HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    run = cli("plan", "--output", "json")
    assert run.code == 1
    document = one_document(run)
    [identity] = [c for c in document["checks"] if c["check"] == "identity"]
    assert identity["message"] == "ConnectionFailed: could not reach login.microsoftonline.com through the proxy http://127.0.0.1:9: ProxyError"
    assert identity["remedy"].startswith("check the network and the proxy (HTTPS_PROXY / NO_PROXY)")
    text = cli("plan")
    assert "credential" not in text.stdout.lower() and "0 changes" not in text.stdout


def test_a_proxy_password_is_never_shown(cli):
    cli.spec(spec_text(LARGE))
    proxy = "http://build-bot:Pr0xy-S3cret@127.0.0.1:9"
    cli.extra_env.update(HTTPS_PROXY=proxy, https_proxy=proxy, GITHUB_ACTIONS="true")
    for args in (("plan", "--output", "json"), ("plan",), ("plan", "--debug"), ("whoami",), ("audit",), ("destroy", "--dry-run")):
        run = cli(*args)
        assert run.code == 1, run
        assert "through the proxy http://127.0.0.1:9: ProxyError" in run.stdout, run
        assert "Pr0xy-S3cret" not in run.stdout + run.stderr and "build-bot" not in run.stdout + run.stderr, run


def test_an_unreadable_cloud_metadata_url_has_its_own_fix(cli):
    cli.spec(spec_text(LARGE))
    cli.extra_env["ARM_CLOUD_METADATA_URL"] = "https://127.0.0.1:9/metadata/endpoints?api-version=2022-09-01"
    run = cli("plan")
    assert run.code == 1, run
    assert "FAIL identity    caller: CloudMetadataUnavailable: ARM_CLOUD_METADATA_URL https://127.0.0.1:9/metadata/endpoints?api-version=2022-09-01 could not be read" in run.stdout
    assert "fix: ARM_CLOUD_METADATA_URL must answer with the cloud's endpoints" in run.stdout and "AZURE_CLIENT_SECRET" not in run.stdout


def test_a_plan_that_could_not_read_a_project_never_looks_complete(cli, emu):
    small = {"name": "mistral-small-search", "model": "mistral-small-2503", "project": "contoso-search"}
    cli.spec(spec_text(LARGE, small))
    emu.control.faults(routes=[{"method": "GET", "path": "/workspaces/contoso-search/serverlessEndpoints$", "status": 403, "code": "AuthorizationFailed", "times": 100}])
    run = cli("plan")
    assert run.code == 1, run
    assert "Plan: not complete: 1 deployment could not be planned (below); 2 to add, 0 to change, 0 to destroy for the other\n" in run.stdout
    assert "  ? mistral-small-search (contoso-search): cannot plan: the project could not be read" in run.stdout
    plan = one_document(cli("plan", "--output", "json"))["plan"]
    assert (plan["complete"], plan["changes"]) == (False, True)
    emu.control.clear_faults()
    plan = one_document(cli("plan", "--output", "json"))["plan"]
    assert (plan["complete"], plan["changes"]) == (True, True)


def test_no_credential_at_all(cli):
    cli.spec(spec_text(LARGE))
    cli.extra_env.update(AZURE_CLIENT_ID="", AZURE_CLIENT_SECRET="")
    run = cli("plan")
    assert run.code == 1
    assert "FAIL identity    caller: CredentialUnavailable: the Azure credential settings cannot be used: client_id" in run.stdout
    assert "cannot plan: nothing could be read from Azure" in run.stdout and "does not exist" not in run.stdout
    assert "fix: set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET" in run.stdout


def test_an_unusable_github_output_is_one_line_after_the_work_is_done(cli):
    cli.spec(spec_text(LARGE))
    (cli.dir / "outdir").mkdir()
    cli.extra_env.update(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(cli.dir / "outdir"))
    run = cli("apply", "--yes")
    assert run.code == 1 and "Traceback" not in run.stderr, run
    assert f"GITHUB_OUTPUT ({cli.dir / 'outdir'}): cannot append the step outputs (Is a directory); everything else was done" in run.stderr
    assert cli.secrets_file()["MISTRAL_LARGE_CHAT_URL"].startswith("https://mistral-large-chat.")


@pytest.mark.parametrize("make", ["directory", "unreadable", "file-for-directory"])
def test_a_secrets_path_that_cannot_be_read_is_a_usage_error_before_azure(cli, make):
    import os

    cli.spec(spec_text(LARGE))
    path = cli.dir / ".secrets/deployments.env"
    if make == "file-for-directory":
        path.parent.write_text("a file where the secrets directory should be\n")
    else:
        path.parent.mkdir(mode=0o700)
    if make == "file-for-directory":
        pass
    elif make == "directory":
        path.mkdir()
    else:
        path.write_text("A=b\n")
        path.chmod(0)
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file (root)")
    run = cli("plan")
    assert run.code == 2, run
    assert run.stderr.startswith("error: .secrets/deployments.env: ") and len(run.stderr.strip().splitlines()) == 1, run
    assert cli.writes() == [] and [r for r in cli.emu.control.requests() if r.get("kind") == "arm"] == []
