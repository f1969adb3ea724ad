"""Nothing is written unless it will work: the catalog preflight, end to end (the real CLI against
the emulator). Each common first-time mistake fails `plan` and `apply` before any write, with a fix
that, followed literally, makes the plan pass; what cannot be known in advance (a name taken in
another tenant, a purchase refused for billing) leaves no Marketplace subscription behind; audit
reports one that is left and its fix removes it."""
from __future__ import annotations

import json

import pytest

from .helpers import SUB_GENAI, spec_text, world_with

MEDIUM = {"name": "mistral-medium-chat", "model": "mistral-medium-2505"}
SUB_TRIAL = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c02"
SUB_JAPAN = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c01"


def checks(cli, *args):
    run = cli("plan", "--output", "json", *args)
    return run, json.loads(run.stdout)


def failed(doc, kind):
    return [f for f in doc["checks"] if f["check"] == kind and not f["ok"]]


def passes_after(cli, deployment, **changes):
    """Follow a fix that changes the spec: plan passes, apply makes the deployment."""
    cli.spec(spec_text({**deployment, **changes}))
    run, doc = checks(cli)
    assert run.code == 0, run
    assert cli("apply", "--yes").code == 0


def refused_without_writes(cli, deployment, kind, **spec_args):
    cli.spec(spec_text(deployment, **spec_args))
    run, doc = checks(cli)
    assert run.code == 1, run
    found = failed(doc, kind)
    assert len(found) == 1, doc["checks"]
    applied = cli("apply", "--yes")
    assert applied.code == 1, applied
    assert cli.writes() == [], cli.writes()
    return found[0]


def test_a_misspelled_model_fails_plan_with_did_you_mean_and_writes_nothing(cli):
    f = refused_without_writes(cli, {**MEDIUM, "model": "Mistral-smal"}, "model")
    assert f["message"] == "model 'Mistral-smal' is not in the azureml-mistral registry; did you mean 'mistral-small-2503'?"
    assert f["remedy"] == "set `model: mistral-small-2503`"
    passes_after(cli, MEDIUM, model="mistral-small-2503")


def test_a_retired_model_fails_naming_its_replacement(cli):
    f = refused_without_writes(cli, {**MEDIUM, "model": "Mistral-large"}, "model")
    assert f["message"] == ("Mistral-large was retired on 2025-04-15 (per the registry): Azure no longer deploys it and its endpoints answer 404")
    assert f["remedy"] == "set `model: mistral-medium-2505` (its replacement, per the catalog of 2026-11-25)"
    passes_after(cli, MEDIUM, model="mistral-medium-2505")


def test_a_model_not_offered_in_the_hubs_region_fails_naming_where_it_is(cli):
    f = refused_without_writes(cli, MEDIUM, "offer", defaults={"project": "contoso-chat-fr"})
    assert f["message"].startswith("mistral-medium-2505 is not offered as a serverless API in France Central (francecentral) (per the catalog of 2026-11-25); it is in: East US (eastus), East US 2 (eastus2)")
    assert f["remedy"] == "point `project` at a project whose hub is in East US 2 (eastus2)"
    cli.spec(spec_text(MEDIUM, defaults={"project": "contoso-chat"}))
    run, _ = checks(cli)
    assert run.code == 0, run


def test_a_name_used_in_the_region_by_another_subscriptions_endpoint_fails_before_writing(cli):
    # an endpoint the caller can see: another subscription (Contributor there), same region
    cli.spec(spec_text({"name": "shared-chat", "model": "azureml://registries/azureml/models/Phi-3.5-mini-instruct"},
                       defaults={"subscription": SUB_JAPAN, "project": "jp-chat"}, secrets={"path": ".secrets/other.env"}), "other.yaml")
    assert cli("-f", "other.yaml", "apply", "--yes").code == 0
    cli.emu.control.clear_requests()
    f = refused_without_writes(cli, {**MEDIUM, "name": "shared-chat"}, "name")
    assert f["message"] == (f"endpoint name 'shared-chat' is already used in East US 2 (eastus2) by project jp-chat "
                            f"(resource group rg-genai, subscription {SUB_JAPAN}): endpoint names are unique per region")
    passes_after(cli, MEDIUM, name="mistral-medium-chat")


def test_a_name_taken_in_another_tenant_leaves_no_subscription_behind(emu, cli):
    emu.control.load_world(world_with(lambda w: w.update(reserved_endpoint_names={"eastus2": ["taken-elsewhere"]})))
    cli.spec(spec_text({**MEDIUM, "name": "taken-elsewhere"}))
    run, doc = checks(cli)
    assert run.code == 0, run  # nothing the caller can see says otherwise
    applied = cli("apply", "--yes")
    assert applied.code == 1, applied
    assert "is not available" in applied.stdout
    assert "the Marketplace subscription mistral-medium-2505-provision it made was removed again, so no billing relationship is left behind" in applied.stdout
    assert cli.resources("marketplaceSubscriptions") == [] and cli.resources("serverlessEndpoints") == []
    audit = json.loads(cli("audit", "--output", "json").stdout)["findings"]
    assert [f["kind"] for f in audit] == ["missing"], audit


def test_a_purchase_refused_for_billing_leaves_no_subscription_behind(cli):
    cli.spec(spec_text(MEDIUM, defaults={"subscription": SUB_TRIAL, "project": "trial-chat"}))
    applied = cli("apply", "--yes")
    assert applied.code == 1, applied
    assert "payment method" in applied.stdout
    assert "removed again, so no billing relationship is left behind" in applied.stdout
    assert cli.resources("marketplaceSubscriptions") == []


@pytest.mark.parametrize("state", ["endpoint-less", "failed"])
def test_audit_reports_a_subscription_left_behind_and_its_fix_removes_it(cli, state):
    from tests.emulator.clients import arm_call, project_path

    sub, project = (SUB_GENAI, "contoso-chat") if state == "endpoint-less" else (SUB_TRIAL, "trial-chat")
    # what an interrupted or older apply leaves: provision's subscription, no endpoint
    path = f"{project_path(project, sub)}/marketplaceSubscriptions/mistral-medium-2505-provision"
    arm_call("PUT", path, body={"properties": {"modelId": "azureml://registries/azureml-mistral/models/mistral-medium-2505"}})
    cli.spec(spec_text(MEDIUM, defaults={"subscription": sub, "project": project}))
    audit = json.loads(cli("audit", "--output", "json").stdout)["findings"]
    left = [f for f in audit if f["kind"] == "subscription"]
    assert len(left) == 1, audit
    expected = "Failed (a refused purchase)" if state == "failed" else "Subscribed, with no endpoint"
    assert left[0]["message"] == (f"Marketplace subscription mistral-medium-2505-provision in {project} (for mistral-medium-chat's model "
                                  f"mistral-medium-2505) is {expected}: nothing uses it")
    assert left[0]["remedy"].startswith("`provision destroy --only mistral-medium-chat` removes it")
    assert cli("destroy", "--only", "mistral-medium-chat", "--yes").code == 0
    assert cli.resources("marketplaceSubscriptions") == []


def _with_principal(name, role, scope="subscription"):
    def edit(w):
        w["principals"].append({"name": name, "kind": "service_principal", "object_id": OIDS[name], "client_id": CLIENTS[name], "secret": f"secret-{name}"})
        w["role_assignments"].append({"principal": name, "role": role, "subscription": "Contoso GenAI",
                                      **({"resource_group": "rg-genai"} if scope == "resource group" else {})})
    return edit


OIDS = {"owner-only": "1a2b3c4d-0000-4000-8000-000000000001", "contributor-only": "1a2b3c4d-0000-4000-8000-000000000002"}
CLIENTS = {"owner-only": "1a2b3c4d-0000-4000-8000-0000000000a1", "contributor-only": "1a2b3c4d-0000-4000-8000-0000000000a2"}


@pytest.mark.parametrize("principal, role", [("owner-only", "Owner"), ("contributor-only", "Contributor")])
def test_owner_or_contributor_alone_passes_the_role_check_naming_the_role(emu, cli, principal, role):
    emu.control.load_world(world_with(_with_principal(principal, role)))
    cli.extra_env.update(AZURE_CLIENT_ID=CLIENTS[principal], AZURE_CLIENT_SECRET=f"secret-{principal}")
    cli.spec(spec_text(MEDIUM))
    run, doc = checks(cli)
    assert run.code == 0, run
    (finding,) = [f for f in doc["checks"] if f["check"] == "role"]
    assert finding["ok"] and finding["message"] == (
        f"'{role}' at /subscriptions/{SUB_GENAI} covers 'Azure AI Developer' (it allows every action of that role)")
    assert cli("apply", "--yes").code == 0


def test_owner_of_the_resource_group_only_is_told_before_writing_that_marketplace_terms_need_the_subscription(emu, cli):
    emu.control.load_world(world_with(_with_principal("owner-only", "Owner", "resource group")))
    cli.extra_env.update(AZURE_CLIENT_ID=CLIENTS["owner-only"], AZURE_CLIENT_SECRET="secret-owner-only")
    f = refused_without_writes(cli, MEDIUM, "permissions")
    assert f["message"] == ("subscribing project contoso-chat to the Marketplace offer of mistral-medium-2505 needs Marketplace rights the caller lacks: "
                            "Microsoft.MarketplaceOrdering/agreements/offers/plans/read, Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action")
    assert f["remedy"].startswith(f"ask for Owner or Contributor at /subscriptions/{SUB_GENAI}")
    run, doc = checks(cli)
    assert [g["ok"] for g in doc["checks"] if g["check"] == "role"] == [True]  # the role check itself passes by effect

    def follow_the_fix(w):  # an owner grants Owner at the subscription, as the fix says
        _with_principal("owner-only", "Owner", "resource group")(w)
        w["role_assignments"].append({"principal": "owner-only", "role": "Owner", "subscription": "Contoso GenAI"})

    emu.control.load_world(world_with(follow_the_fix))
    run, doc = checks(cli)
    assert run.code == 0, run
    assert cli("apply", "--yes").code == 0


def test_a_reader_still_fails_the_role_check(cli):
    cli.principal = "reader-only"
    cli.spec(spec_text(MEDIUM))
    run, doc = checks(cli)
    assert run.code == 1
    assert failed(doc, "role")[0]["message"] == "the caller does not hold 'Azure AI Developer' on resource group rg-genai, project contoso-chat"


def test_audit_flags_a_live_endpoint_of_a_deprecated_then_retired_model_and_its_fix_moves_it(emu, cli):
    emu.control.set_lifecycle("Mistral-large", retired="2099-01-01")  # still offered, as it was in 2024
    old = {"name": "chat", "model": "Mistral-large"}
    cli.spec(spec_text(old))
    assert cli("apply", "--yes").code == 0

    emu.control.set_lifecycle("Mistral-large", legacy="2026-01-01", deprecated="2026-02-01", retired="2099-01-01")
    audit = json.loads(cli("audit", "--output", "json").stdout)["findings"]
    assert [(f["kind"], f["message"]) for f in audit] == [
        ("lifecycle", "endpoint chat serves Mistral-large, deprecated (deprecated 2026-02-01, retires 2099-01-01; per the registry)")]
    run, doc = checks(cli)  # a live endpoint of a deprecated model still serves: plan warns, does not fail
    assert run.code == 0, run
    assert [f["warning"] for f in doc["checks"] if f["check"] == "model"] == [True]

    emu.control.set_lifecycle("Mistral-large", legacy="2024-12-15", deprecated="2025-01-15", retired="2025-04-15")
    audit = json.loads(cli("audit", "--probe", "--output", "json").stdout)["findings"]
    lifecycle = [f for f in audit if f["kind"] == "lifecycle"]
    assert [f["message"] for f in lifecycle] == ["endpoint chat serves Mistral-large, retired on 2025-04-15 (per the registry): it answers 404"]
    assert any(f["kind"] == "probe" and "404" in f["message"] for f in audit), audit
    assert lifecycle[0]["remedy"] == ("set `model: mistral-medium-2505` (its replacement, per the catalog of 2026-11-25) and run "
                                      "`provision apply --allow-replace` (new URL and keys)")
    cli.spec(spec_text({**old, "model": "mistral-medium-2505"}))
    assert cli("apply", "--yes", "--allow-replace").code == 0
    assert json.loads(cli("audit", "--probe", "--output", "json").stdout)["findings"] == []


def test_the_first_time_mistakes_example_is_refused_before_any_write(cli):
    from .helpers import REPO

    cli.spec((REPO / "examples/first-time-mistakes.yaml").read_text())
    cli.extra_env["AZURE_SUBSCRIPTION_ID"] = SUB_GENAI
    run, doc = checks(cli)
    assert run.code == 1, run
    assert sorted((f["check"], f["subject"]) for f in doc["checks"] if not f["ok"]) == [
        ("model", "large-retired"), ("model", "small-typo"), ("offer", "medium-in-france")]
    assert cli("apply", "--yes").code == 1
    assert cli.writes() == []


def test_a_failed_apply_never_removes_a_subscription_it_did_not_make(cli):
    from tests.emulator.clients import arm_call, project_path

    # someone else's subscription, under their own name, left Failed by a refused purchase
    path = f"{project_path('trial-chat', SUB_TRIAL)}/marketplaceSubscriptions/portal-docai"
    arm_call("PUT", path, body={"properties": {"modelId": "azureml://registries/azureml-mistral/models/mistral-document-ai-2505"}})
    cli.spec(spec_text({"name": "docai", "model": "mistral-document-ai-2505"}, defaults={"subscription": SUB_TRIAL, "project": "trial-chat"}))
    applied = cli("apply", "--yes")
    assert applied.code == 1, applied  # the retry of that purchase is refused again
    assert "payment method" in applied.stdout and "removed again" not in applied.stdout
    assert [r["name"] for r in cli.resources("marketplaceSubscriptions")] == ["portal-docai"]


def test_audit_reports_someone_elses_subscription_left_behind_and_its_az_fix_removes_it(cli):
    from .test_follow_the_fix import follow
    from tests.emulator.clients import arm_call, project_path

    path = f"{project_path('contoso-chat', SUB_GENAI)}/marketplaceSubscriptions/portal-made"
    arm_call("PUT", path, body={"properties": {"modelId": "azureml://registries/azureml-mistral/models/mistral-medium-2505"}})
    cli.spec(spec_text(MEDIUM))
    audit = json.loads(cli("audit", "--output", "json").stdout)["findings"]
    [left] = [f for f in audit if f["kind"] == "subscription"]
    assert left["message"] == ("Marketplace subscription portal-made in contoso-chat (for mistral-medium-chat's model mistral-medium-2505) "
                               "is Subscribed, with no endpoint: nothing uses it")
    assert left["remedy"].startswith("it is not this spec's to delete: `az resource delete --ids /subscriptions/")
    follow(cli, left["remedy"])
    assert cli.resources("marketplaceSubscriptions") == []
