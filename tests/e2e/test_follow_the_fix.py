"""Every fix the tool prints works: for each kind of audit finding and each check that names a way
out, the situation is set up in the emulator, the printed fix is followed literally, and the
finding is gone. A remedy this test cannot follow fails it (`follow` knows no other way)."""
from __future__ import annotations

import json
import re

import pytest

from .helpers import SUB_GENAI, spec_text

MODEL = "azureml://registries/azureml-mistral/models/"
LARGE = {"name": "mistral-large-chat", "model": "Mistral-large", "content_safety": "enabled", "tags": {"team": "chat"}}
SMALL = {"name": "mistral-small-chat", "model": "Mistral-small"}
OLD_SPEC = "old-deployments.yaml"


def findings(cli, *extra):
    run = cli("audit", "--output", "json", *extra)
    assert run.code == 0, run
    return json.loads(run.stdout)["findings"]


def follow(cli, remedy: str) -> None:
    """Do what the remedy says, literally; an unknown remedy fails the test."""
    if "`provision apply --allow-replace`" in remedy or remedy == "re-run with --allow-replace":
        run = cli("apply", "--yes", "--allow-replace")
    elif "`provision apply --adopt`" in remedy or "re-run with --adopt" in remedy:
        run = cli("apply", "--yes", "--adopt")
    elif "add it to the spec (apply --adopt)" in remedy:
        raise AssertionError("the caller adds it to the spec first; see test_unmanaged_endpoint")
    elif "`provision apply`" in remedy:
        run = cli("apply", "--yes")
    elif "`provision destroy` it with the old spec" in remedy:
        run = cli("-f", OLD_SPEC, "destroy", "--yes")
    elif m := re.search(r"`az resource delete --ids (\S+)`", remedy):
        from azure.mgmt.resource.resources import ResourceManagementClient

        from tests.emulator.clients import credential

        # what `az resource delete --ids` does: one ARM DELETE of that id, through the SDK az is built on
        client = ResourceManagementClient(credential("provision-ci"), SUB_GENAI)
        client.resources.begin_delete_by_id(m.group(1), api_version="2024-10-01").result()
        return
    else:
        raise AssertionError(f"no known way to follow this fix: {remedy}")
    assert run.code == 0, run


def _applied(cli, *deployments):
    cli.spec(spec_text(*deployments))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    return {r["name"]: r["id"] for r in cli.resources()}


def _secrets_path(cli):
    return cli.dir / ".secrets/deployments.env"


def missing(cli, emu):
    emu.control.remove(_applied(cli, LARGE)["mistral-large-chat"])
    return "missing", "mistral-large-chat"


def subscription_gone(cli, emu):
    ids = _applied(cli, SMALL)
    emu.control.remove(ids["Mistral-small-provision"])
    emu.control.patch(ids["mistral-small-chat"], endpointState="Suspended")  # what Azure does to its endpoint
    return "subscription", "mistral-small-chat"


def unhealthy_without_subscription(cli, emu):
    subscription_gone(cli, emu)
    return "unhealthy", "mistral-small-chat"


def content_safety_drift(cli, emu):
    emu.control.patch(_applied(cli, LARGE)["mistral-large-chat"], contentSafety="Disabled")
    return "drift", "mistral-large-chat"


def tags_drift(cli, emu):
    emu.control.patch(_applied(cli, LARGE)["mistral-large-chat"], tags={"team": "other", "provision:managed": "true", "provision:deployment": "mistral-large-chat"})
    return "drift", "mistral-large-chat"


def model_drift(cli, emu):
    emu.control.patch(_applied(cli, LARGE)["mistral-large-chat"], modelId=MODEL + "Mistral-Nemo")
    return "drift", "mistral-large-chat"


def not_managed(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="portal-sub", model_id=MODEL + "Mistral-large")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="mistral-large-chat", model_id=MODEL + "Mistral-large", content_safety="Enabled")
    cli.spec(spec_text(LARGE))
    return "drift", "mistral-large-chat"


def secrets_missing(cli, emu):
    _applied(cli, LARGE)
    _secrets_path(cli).write_text("")
    return "secrets", "mistral-large-chat"


def secrets_stale_url(cli, emu):
    _applied(cli, LARGE)
    path = _secrets_path(cli)
    path.write_text(path.read_text().replace("https://mistral-large-chat.", "https://old-name."))
    return "secrets", "mistral-large-chat"


def secrets_dead_key(cli, emu):
    _applied(cli, LARGE)
    path = _secrets_path(cli)
    path.write_text(re.sub(r"MISTRAL_LARGE_CHAT_KEY=.*", "MISTRAL_LARGE_CHAT_KEY=" + "0" * 32, path.read_text()))
    return "secrets", "mistral-large-chat"


def probe_unauthorized(cli, emu):
    secrets_dead_key(cli, emu)
    return "probe", "mistral-large-chat"


def orphan_endpoint(cli, emu):
    (cli.dir / OLD_SPEC).write_text(spec_text(LARGE, SMALL))
    assert cli("-f", OLD_SPEC, "apply", "--yes").code == 0
    cli.spec(spec_text(LARGE))
    return "orphan", "mistral-small-chat"


def orphan_subscription(cli, emu):
    _applied(cli, LARGE)
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="Ministral-3B-provision", model_id=MODEL + "Ministral-3B")
    return "orphan", "Ministral-3B-provision"


SCENARIOS = [missing, subscription_gone, unhealthy_without_subscription, content_safety_drift, tags_drift, model_drift, not_managed,
             secrets_missing, secrets_stale_url, secrets_dead_key, probe_unauthorized, orphan_endpoint, orphan_subscription]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_following_the_printed_fix_removes_the_finding(cli, emu, scenario):
    kind, subject = scenario(cli, emu)
    extra = ("--probe",) if kind == "probe" else ()
    before = [f for f in findings(cli, *extra) if (f["kind"], f["subject"]) == (kind, subject)]
    assert before, f"the scenario did not produce a {kind} finding for {subject}"
    for finding in before:
        assert finding["remedy"], finding
        follow(cli, finding["remedy"])
    after = [f for f in findings(cli, *extra) if (f["kind"], f["subject"]) == (kind, subject)]
    assert after == [], after


def test_unmanaged_endpoint_added_to_the_spec_and_adopted(cli, emu):
    _applied(cli, LARGE)
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="portal-endpoint", model_id=MODEL + "Codestral-2501", content_safety="Enabled")
    [finding] = [f for f in findings(cli, "--all") if f["kind"] == "unmanaged"]
    assert finding["remedy"] == "add it to the spec (apply --adopt), or delete it"
    cli.spec(spec_text(LARGE, {"name": "portal-endpoint", "model": "Codestral-2501"}))  # "add it to the spec"
    follow(cli, "`provision apply --adopt`")
    assert [f for f in findings(cli, "--all") if f["subject"] == "portal-endpoint"] == []


def test_a_suspended_subscription_is_not_promised_to_apply(cli, emu):
    """Billing suspensions are fixed in the portal, not by provision: the fix must not say apply does it."""
    ids = _applied(cli, SMALL)
    emu.control.patch(ids["Mistral-small-provision"], status="Suspended")
    emu.control.patch(ids["mistral-small-chat"], endpointState="Suspended")
    found = {f["kind"]: f for f in findings(cli) if f["subject"] == "mistral-small-chat"}
    for kind in ("unhealthy", "subscription"):
        assert "provision apply" not in found[kind]["remedy"] and "Azure portal" in found[kind]["remedy"], found[kind]
    # and apply does not call the endpoint ready
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert "FAIL mistral-small-chat: endpoint mistral-small-chat is provisioned but Suspended, not Online, so it cannot serve" in run.stdout


@pytest.mark.parametrize("situation, remedy", [("adopt", "re-run with --adopt to manage it, or choose another `name`"), ("replace", "re-run with --allow-replace")])
def test_following_a_refused_checks_fix_lets_apply_through(cli, emu, situation, remedy):
    if situation == "adopt":
        not_managed(cli, emu)
    else:
        _applied(cli, LARGE)
        cli.spec(spec_text(dict(LARGE, model="Mistral-Nemo")))
    refused = cli("plan", "--output", "json")
    assert refused.code == 1
    [check] = [c for c in json.loads(refused.stdout)["checks"] if not c["ok"]]
    assert check["remedy"] == remedy
    follow(cli, remedy)
    assert cli("plan", "--detailed-exitcode").code == 0
