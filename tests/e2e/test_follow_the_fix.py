"""Every fix the tool prints works: for each kind of audit finding and each check that names a way
out, the situation is set up in the emulator, the printed fix is followed literally, and the
finding is gone. A remedy this test cannot follow fails it (`follow` knows no other way)."""
from __future__ import annotations

import json
import re

import pytest

from .helpers import SUB_GENAI, spec_text

MODEL = "azureml://registries/azureml-mistral/models/"
LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505", "content_safety": "enabled", "tags": {"team": "chat"}}
SMALL = {"name": "mistral-small-chat", "model": "mistral-small-2503"}
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
    elif "`provision destroy --orphans`" in remedy:
        run = cli("destroy", "--yes", "--orphans")
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
    emu.control.remove(ids["mistral-small-2503-provision"])
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
    emu.control.patch(_applied(cli, LARGE)["mistral-large-chat"], modelId=MODEL + "Ministral-3B")
    return "drift", "mistral-large-chat"


def not_managed(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="portal-sub", model_id=MODEL + "mistral-medium-2505")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="mistral-large-chat", model_id=MODEL + "mistral-medium-2505", content_safety="Enabled")
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


def orphan_subscription_not_this_specs(cli, emu):
    _applied(cli, LARGE)
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="portal-3b", model_id=MODEL + "Ministral-3B")
    return "orphan", "portal-3b"


orphan_subscription_not_this_specs.audit_args = ("--all",)


def orphan_after_a_replacement(cli, emu):
    """What apply --allow-replace leaves behind is removed by it: the old model's subscription."""
    _applied(cli, LARGE)
    cli.spec(spec_text(dict(LARGE, model="mistral-small-2503")))
    run = cli("apply", "--yes", "--allow-replace")
    assert run.code == 0 and "unsubscribe marketplace subscription mistral-medium-2505-provision" in run.stdout, run
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="stale-old", model_id=MODEL + "Ministral-3B",
                     tags={"provision:managed": "true", "provision:deployment": "stale-old"})
    return "orphan", "stale-old"


SCENARIOS = [missing, subscription_gone, unhealthy_without_subscription, content_safety_drift, tags_drift, model_drift, not_managed,
             secrets_missing, secrets_stale_url, secrets_dead_key, probe_unauthorized, orphan_endpoint, orphan_subscription,
             orphan_subscription_not_this_specs, orphan_after_a_replacement]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_following_the_printed_fix_removes_the_finding(cli, emu, scenario):
    kind, subject = scenario(cli, emu)
    extra = ("--probe",) if kind == "probe" else getattr(scenario, "audit_args", ())
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
    emu.control.patch(ids["mistral-small-2503-provision"], status="Suspended")
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
        cli.spec(spec_text(dict(LARGE, model="Ministral-3B")))
    refused = cli("plan", "--output", "json")
    assert refused.code == 1
    [check] = [c for c in json.loads(refused.stdout)["checks"] if not c["ok"]]
    assert check["remedy"] == remedy
    follow(cli, remedy)
    assert cli("plan", "--detailed-exitcode").code == 0


def missing_project(cli, emu):
    cli.spec(spec_text(dict(LARGE, project="contoso-chatt")))
    return "missing", "mistral-large-chat"


def test_a_missing_project_fixed_in_the_spec(cli, emu):
    kind, subject = missing_project(cli, emu)
    [finding] = [f for f in findings(cli) if (f["kind"], f["subject"]) == (kind, subject)]
    assert finding["remedy"] == "fix `project` in the spec, or create the project"
    cli.spec(spec_text(LARGE))  # "fix `project` in the spec"
    follow(cli, "`provision apply`")
    assert [f for f in findings(cli) if f["subject"] == subject] == []


def test_a_policy_finding_moved_to_an_allowed_region(cli, emu):
    # France Central offers no serverless Mistral model today: the allowed region is Sweden Central,
    # with a hub there (the default world has none).
    from .helpers import world_with

    def add_sweden_hub(data):
        data["subscriptions"][0]["resource_groups"][0]["hubs"].append({"name": "contoso-hub-se", "location": "swedencentral", "projects": ["contoso-chat-se"]})

    emu.control.load_world(world_with(add_sweden_hub))
    _applied(cli, LARGE)
    cli.spec(spec_text(dict(LARGE, allowed_regions=["swedencentral"])))
    [finding] = [f for f in findings(cli) if f["kind"] == "policy"]
    assert finding["remedy"] == "move the deployment to a project in an allowed region (provision destroy, then apply)"
    assert cli("destroy", "--yes").code == 0  # "provision destroy"
    cli.spec(spec_text(dict(LARGE, allowed_regions=["swedencentral"], project="contoso-chat-se")))  # "a project in an allowed region"
    assert cli("apply", "--yes").code == 0  # "then apply"
    assert [f for f in findings(cli) if f["kind"] in ("policy", "drift")] == []


# --- the checks' fixes, as an owner would follow them ---------------------------------------
OWNER = ("0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "emulator-secret-owner")


def _world_with_an_owner(emu, edit=None):
    from .helpers import world_with

    def add_owner(data):
        data["principals"].append({"name": "owner", "kind": "service_principal", "object_id": "1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c",
                                   "client_id": OWNER[0], "secret": OWNER[1]})
        data["role_assignments"].append({"principal": "owner", "role": "Owner", "subscription": "Contoso GenAI"})
        if edit:
            edit(data)

    emu.control.load_world(world_with(add_owner))


def _as_owner():
    import os

    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(os.environ["AZURE_TENANT_ID"], *OWNER)


def _run_az(command: str) -> None:
    """The two `az` commands the checks print, done as az does them (through the SDKs az is built on)."""
    import shlex
    import uuid

    argv = shlex.split(command)
    if argv[:4] == ["az", "role", "assignment", "create"]:
        opts = dict(zip(argv[4::2], argv[5::2]))
        from azure.mgmt.authorization import AuthorizationManagementClient

        sub = opts["--scope"].split("/")[2]
        client = AuthorizationManagementClient(_as_owner(), sub)
        [role] = list(client.role_definitions.list(opts["--scope"], filter=f"roleName eq '{opts['--role']}'"))
        client.role_assignments.create(opts["--scope"], str(uuid.uuid4()), {
            "role_definition_id": role.id, "principal_id": opts["--assignee-object-id"], "principal_type": opts["--assignee-principal-type"]})
    elif argv[:3] == ["az", "provider", "register"]:
        from azure.mgmt.resource.resources import ResourceManagementClient

        opts = dict(zip(argv[3::2], argv[4::2]))
        ResourceManagementClient(_as_owner(), opts["--subscription"]).providers.register(opts["--namespace"])
    else:
        raise AssertionError(f"not a command this test knows: {command}")


def _failed_checks(cli):
    run = cli("plan", "--output", "json")
    return {c["check"]: c for c in json.loads(run.stdout)["checks"] if not c["ok"]}


def test_the_role_fix_an_owner_runs(cli, emu):
    _world_with_an_owner(emu)
    cli.principal = "reader-only"
    cli.spec(spec_text(LARGE))
    role = _failed_checks(cli)["role"]
    prefix = "ask an owner to run: "
    assert role["remedy"].startswith(prefix)
    _run_az(role["remedy"][len(prefix):])
    assert "role" not in _failed_checks(cli)


def test_the_provider_fix_an_owner_runs(cli, emu):
    def saas_not_registered(data):
        data["subscriptions"][0]["providers"] = {"Microsoft.SaaS": "NotRegistered"}

    _world_with_an_owner(emu, saas_not_registered)
    cli.principal = "ai-developer-only"
    cli.spec(spec_text(LARGE))
    providers = _failed_checks(cli)["providers"]
    prefix = "ask an owner to run: "
    assert providers["remedy"].startswith(prefix), providers
    _run_az(providers["remedy"][len(prefix):])
    assert "providers" not in _failed_checks(cli)


def test_the_region_fix_in_the_spec(cli):
    cli.spec(spec_text(dict(LARGE, project="contoso-we", resource_group="rg-westeurope")))
    region = _failed_checks(cli)["region"]
    assert region["remedy"] == "use a project whose hub is in an allowed region, or add the region to `allowed_regions` if policy permits"
    cli.spec(spec_text(dict(LARGE, project="contoso-we", resource_group="rg-westeurope", allowed_regions=["eastus2", "francecentral", "westeurope"])))
    assert "region" not in _failed_checks(cli)


def test_the_one_model_per_project_fix_then_adopt(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="large-sub", model_id=MODEL + "mistral-medium-2505")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="someone-elses-large", model_id=MODEL + "mistral-medium-2505")
    cli.spec(spec_text(LARGE))
    conflict = _failed_checks(cli)["conflict"]
    assert conflict["remedy"].startswith("name the deployment 'someone-elses-large' to manage that endpoint")
    cli.spec(spec_text(dict(LARGE, name="someone-elses-large")))  # "name the deployment ..."
    adopt = _failed_checks(cli)["conflict"]
    assert adopt["remedy"] == "re-run with --adopt to manage it, or choose another `name`"
    follow(cli, adopt["remedy"])
    assert _failed_checks(cli) == {}


# --- the fixes apply and the identity check print -----------------------------------------------
def test_a_taken_name_renamed_as_the_fix_says(cli):
    cli.spec(spec_text(dict(LARGE, name="mistral-chat")))  # taken in East US 2 by another tenant's endpoint
    run = cli("apply", "--yes")
    assert run.code == 1 and "(fix: endpoint names are unique per region across all of Azure: choose another `name` for this deployment)" in run.stdout
    cli.spec(spec_text(dict(LARGE, name="mistral-chat-2")))  # "choose another `name`"
    run = cli("apply", "--yes")
    assert run.code == 0, run


def test_a_name_seen_in_the_region_renamed_as_the_check_says(cli):
    cli.spec(spec_text(dict(LARGE, name="shared-name", project="contoso-search", model="mistral-small-2503")))
    assert cli("apply", "--yes").code == 0
    (cli.dir / "other.yaml").write_text(spec_text(dict(LARGE, name="shared-name")))
    run = cli("-f", "other.yaml", "apply", "--yes")
    assert run.code == 1 and "fix: choose another `name` for the deployment" in run.stdout
    (cli.dir / "other.yaml").write_text(spec_text(dict(LARGE, name="shared-name-2")))  # "choose another `name`"
    run = cli("-f", "other.yaml", "apply", "--yes")
    assert run.code == 0, run


def test_a_model_not_in_the_region_moved_as_the_fix_says(cli):
    phi = {"name": "phi-chat", "model": "azureml://registries/azureml/models/Phi-3.5-mini-instruct"}
    cli.spec(spec_text(dict(phi, project="contoso-chat-fr")))
    run = cli("apply", "--yes")
    assert run.code == 1 and "(fix: this model is not offered in the hub's region: use a project whose hub is in a region that offers it)" in run.stdout
    cli.spec(spec_text(phi))  # contoso-chat: its hub is in East US 2, which offers it
    assert cli("apply", "--yes").code == 0


@pytest.mark.parametrize("broken, fixed", [
    ({"AZURE_CLIENT_SECRET": "not-the-secret"}, {"AZURE_CLIENT_SECRET": "emulator-secret-provision-ci"}),
    ({"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}, None),
])
def test_identity_fixes(cli, broken, fixed):
    cli.spec(spec_text(LARGE))
    cli.extra_env.update(broken)
    identity = _failed_checks(cli)["identity"]
    if fixed is None:  # "check the network and the proxy (HTTPS_PROXY / NO_PROXY)": the right proxy
        assert identity["remedy"].startswith("check the network and the proxy (HTTPS_PROXY / NO_PROXY)")
        for name in broken:
            cli.extra_env.pop(name)
    else:  # "AZURE_CLIENT_SECRET holds the secret's value"
        assert "AZURE_CLIENT_SECRET holds the secret's value" in identity["remedy"]
        cli.extra_env.update(fixed)
    assert _failed_checks(cli) == {}
