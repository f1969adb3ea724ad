"""The real Gateway's Foundry methods against the emulator: accounts, model lists, deployments
(long-running PUT and DELETE, the late Marketplace failure, RequestConflict retried), account keys,
permissions, and a chat call through the account's `/models` route."""
from __future__ import annotations

import threading
from typing import Any, Callable

import pytest

from provision import gateway as gateway_module
from provision.errors import AzureError
from provision.gateway import Gateway, foundry_body
from provision.live import DEPLOYMENT_TAG, MANAGED_TAG, STACK_TAG, FoundryDeployment, account_id
from provision.secret import Secret
from tests.e2e.helpers import SUB_GENAI, logged

SUB_EA = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c03"  # Contoso EA: Marketplace purchases forbidden
RG = "rg-genai"
ACCOUNT = account_id(SUB_GENAI, RG, "contoso-foundry")
EA_ACCOUNT = account_id(SUB_EA, RG, "ea-foundry")
DEPLOYMENTS = f"{ACCOUNT}/deployments"


def tags(name: str) -> dict[str, str]:
    return {MANAGED_TAG: "true", STACK_TAG: "default", DEPLOYMENT_TAG: name}


def deploy(gw: Gateway, name: str, model: str = "Codestral-2501", account: str = ACCOUNT, **options: Any) -> FoundryDeployment:
    settings: dict[str, Any] = dict(version=None, sku="GlobalStandard", capacity=None, content_filter=None, tags=tags(name))
    settings.update(options)
    return gw.put_foundry_deployment(account, name, model, settings["version"], settings["sku"], settings["capacity"],
                                     settings["content_filter"], settings["tags"])


def arm_requests(emu: Any, method: str, path_end: str, at_least: int = 1) -> list[dict[str, Any]]:
    """The logged requests of `method` to a path ending so, once `at_least` are in the log (it is
    written just after each answer)."""
    def ours(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in log if e["method"] == method and e["path"].lower().endswith(path_end.lower())]

    return ours(logged(emu, lambda log: len(ours(log)) >= at_least))


def statuses(emu: Any, methods: tuple[str, ...], condition: Callable[[list[int]], bool]) -> list[int]:
    """The statuses of the deployment writes of `methods`, once condition(statuses) holds."""
    def of(log: list[dict[str, Any]]) -> list[int]:
        return [e["status"] for e in log if e["method"] in methods and "/deployments/" in e["path"]]

    return of(logged(emu, lambda log: condition(of(log))))


@pytest.fixture
def gw(emu):
    return Gateway()


def test_the_put_body_has_the_sku_at_the_top_and_leaves_out_what_is_not_given():
    assert foundry_body("Codestral-2501", None, "GlobalStandard", None, None, {"a": "b"}) == {
        "sku": {"name": "GlobalStandard"}, "tags": {"a": "b"},
        "properties": {"model": {"format": "Mistral AI", "name": "Codestral-2501"}, "versionUpgradeOption": "OnceNewDefaultVersionAvailable"}}
    body = foundry_body("Codestral-2501", "1", "GlobalStandard", 1, "contoso-strict", {})
    assert body["sku"] == {"name": "GlobalStandard", "capacity": 1}
    assert body["properties"]["model"]["version"] == "1" and body["properties"]["raiPolicyName"] == "contoso-strict"


def test_the_account_and_its_model_list(gw):
    account = gw.get_account(ACCOUNT)
    assert account is not None
    assert (account.name, account.kind, account.location) == ("contoso-foundry", "AIServices", "eastus2")
    assert account.base_url == "https://contoso-foundry.services.ai.azure.com"
    assert account.inference_url == "https://contoso-foundry.services.ai.azure.com/models"
    assert gw.get_account(account_id(SUB_GENAI, RG, "no-such-foundry")) is None
    models = {(m.name, m.version): m for m in gw.list_account_models(ACCOUNT)}
    assert {("Codestral-2501", "1"), ("Codestral-2501", "2"), ("mistral-medium-2505", "1"), ("Ministral-3B", "1")} <= set(models)
    codestral = models[("Codestral-2501", "2")]
    assert (codestral.format, codestral.default, codestral.skus, codestral.max_capacity) == ("Mistral AI", True, ("GlobalStandard",), 1)
    assert not models[("Codestral-2501", "1")].default
    assert not any(name == "Mistral-Large-3" for name, _ in models)  # West US 3 only
    wus3 = {m.name for m in gw.list_account_models(account_id(SUB_GENAI, RG, "contoso-foundry-wus3"))}
    assert "Mistral-Large-3" in wus3


def test_a_deployment_is_made_read_listed_updated_and_deleted(gw, emu):
    made = deploy(gw, "codestral")
    assert (made.name, made.model_format, made.model_name, made.model_version) == ("codestral", "Mistral AI", "Codestral-2501", "2")
    assert (made.sku, made.capacity, made.provisioning_state) == ("GlobalStandard", 1, "Succeeded")
    assert made.owned_by("default", "codestral") and made.id.lower() == f"{DEPLOYMENTS}/codestral".lower()
    assert gw.get_foundry_deployment(ACCOUNT, "codestral") == made
    assert gw.get_foundry_deployment(ACCOUNT, "nothing-here") is None
    [put] = arm_requests(emu, "PUT", "/deployments/codestral")
    assert put["status"] == 201 and put["query"]["api-version"] == "2025-06-01"

    changed = deploy(gw, "codestral", version="1", capacity=1, content_filter="contoso-strict", tags={**tags("codestral"), "team": "search"})
    assert (changed.model_version, changed.content_filter, changed.tags["team"], changed.provisioning_state) == ("1", "contoso-strict", "search", "Succeeded")

    gw.delete_foundry_deployment(ACCOUNT, "codestral")
    assert gw.get_foundry_deployment(ACCOUNT, "codestral") is None
    gw.delete_foundry_deployment(ACCOUNT, "codestral")  # already gone: done
    assert gw.list_foundry_deployments(ACCOUNT) == []


def test_every_page_of_the_deployments_is_listed(gw, emu):
    emu.control.configure(registry_page_size=2)
    for name, model in (("a-codestral", "Codestral-2501"), ("b-medium", "mistral-medium-2505"), ("c-small", "mistral-small-2503")):
        deploy(gw, name, model)
    assert [d.name for d in gw.list_foundry_deployments(ACCOUNT)] == ["a-codestral", "b-medium", "c-small"]
    assert len(arm_requests(emu, "GET", "/deployments", 2)) == 2  # two pages


def test_what_the_account_refuses_at_once_raises_with_azures_code(gw):
    with pytest.raises(AzureError) as caught:
        deploy(gw, "codestral", version="9")
    assert (caught.value.code, caught.value.status) == ("DeploymentModelNotSupported", 400)
    with pytest.raises(AzureError) as caught:
        deploy(gw, "large", "Mistral-Large-3")  # not offered in East US 2
    assert caught.value.code == "InvalidResourceProperties"


def test_a_refused_marketplace_purchase_raises_when_the_operation_ends(gw, emu):
    with pytest.raises(AzureError) as caught:
        deploy(gw, "codestral", account=EA_ACCOUNT)
    assert caught.value.code == "MarketplaceSubscriptionCannotBeCompleted"
    assert "Marketplace" in str(caught.value)
    [put] = arm_requests(emu, "PUT", "/accounts/ea-foundry/deployments/codestral")
    assert put["status"] == 201  # accepted first: the failure is only seen when polling
    failed = gw.get_foundry_deployment(EA_ACCOUNT, "codestral")
    assert failed is not None and failed.provisioning_state == "Failed"
    gw.delete_foundry_deployment(EA_ACCOUNT, "codestral")
    assert gw.get_foundry_deployment(EA_ACCOUNT, "codestral") is None


def test_an_operation_that_fails_raises_its_code(gw, emu):
    emu.control.faults(lro_failures=[{"resource_type": "foundryDeployments", "kind": "delete", "code": "InternalError", "message": "boom"}])
    deploy(gw, "codestral")
    with pytest.raises(AzureError) as caught:
        gw.delete_foundry_deployment(ACCOUNT, "codestral")
    assert caught.value.code == "InternalError"


def race(*writes: Callable[[], Any]) -> list[Any]:
    """Run the writes at once (each in its thread); what each returned, or the AzureError it raised."""
    start, outcomes = threading.Barrier(len(writes)), [None] * len(writes)

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = writes[i]()
        except AzureError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_concurrent_writes_to_one_account_are_retried_until_all_succeed(gw, emu, monkeypatch):
    monkeypatch.setattr(gateway_module, "CONFLICT_BACKOFF", 0.2)
    emu.control.configure(pace={"foundryDeployments": {"seconds": 0.6}})
    made = race(lambda: deploy(gw, "codestral"), lambda: deploy(gw, "small", "mistral-small-2503"))
    assert [getattr(d, "provisioning_state", d) for d in made] == ["Succeeded", "Succeeded"]
    assert 409 in statuses(emu, ("PUT",), lambda s: 409 in s and s.count(201) == 2)

    emu.control.clear_requests()
    done = race(lambda: gw.delete_foundry_deployment(ACCOUNT, "small"), lambda: gw.delete_foundry_deployment(ACCOUNT, "codestral"),
                lambda: deploy(gw, "medium", "mistral-medium-2505"))
    assert [getattr(d, "provisioning_state", d) for d in done] == [None, None, "Succeeded"]
    assert 409 in statuses(emu, ("PUT", "DELETE"), lambda s: 409 in s)
    assert [d.name for d in gw.list_foundry_deployments(ACCOUNT)] == ["medium"]


def test_a_conflict_that_lasts_raises_and_any_other_409_is_not_retried(gw, emu, monkeypatch):
    monkeypatch.setattr(gateway_module, "CONFLICT_BACKOFF", 0.01)
    monkeypatch.setattr(gateway_module, "CONFLICT_ATTEMPTS", 3)
    route = {"method": "PUT", "path": "/deployments/codestral$", "status": 409, "times": 10}
    emu.control.faults(routes=[{**route, "code": "RequestConflict", "message": "Another operation is being performed."}])
    with pytest.raises(AzureError) as caught:
        deploy(gw, "codestral")
    assert (caught.value.code, caught.value.status) == ("RequestConflict", 409)
    assert len(arm_requests(emu, "PUT", "/deployments/codestral", 3)) == 3
    emu.control.clear_requests()
    emu.control.faults(routes=[{**route, "code": "Conflict", "message": "Something else is in the way."}])
    with pytest.raises(AzureError) as caught:
        deploy(gw, "codestral")
    assert caught.value.code == "Conflict"
    assert len(arm_requests(emu, "PUT", "/deployments/codestral")) == 1


def test_account_keys_are_listed_and_regenerated_one_at_a_time(gw):
    before = gw.account_keys(ACCOUNT)
    assert before.primary.reveal() and before.secondary.reveal() and before.primary != before.secondary
    after = gw.regenerate_account_key(ACCOUNT, "primary")
    assert after.primary != before.primary and after.secondary == before.secondary
    assert gw.account_keys(ACCOUNT) == after
    last = gw.regenerate_account_key(ACCOUNT, "secondary")
    assert last.primary == after.primary and last.secondary != after.secondary
    with pytest.raises(AzureError) as caught:
        gw.account_keys(account_id(SUB_GENAI, RG, "no-such-foundry"))
    assert caught.value.status == 404


def test_the_callers_permissions_on_the_account(gw):
    blocks = gw.account_permissions(SUB_GENAI, RG, "contoso-foundry")
    actions = {a for b in blocks for a in b.actions}
    assert "Microsoft.CognitiveServices/*" in actions  # Cognitive Services Contributor on rg-genai
    assert gw.account_permissions(SUB_GENAI, RG, ACCOUNT) == blocks  # the ARM id is read as the name


def test_chat_through_the_accounts_models_route_names_the_deployment(gw):
    deploy(gw, "codestral")
    account = gw.get_account(ACCOUNT)
    assert account is not None
    key = gw.account_keys(ACCOUNT).primary
    answer = gw.chat(account.inference_url, key, model="codestral")
    assert answer.ok and answer.status == 200 and answer.model == "Codestral-2501", answer
    unnamed = gw.chat(account.inference_url, key)
    assert not unnamed.ok and unnamed.status == 400
    unknown = gw.chat(account.inference_url, key, model="no-such-deployment")
    assert not unknown.ok and unknown.status == 404
    wrong = Secret("0" * 32)
    refused = gw.chat(account.inference_url, wrong, model="codestral")
    assert not refused.ok and refused.status == 401 and wrong.reveal() not in refused.error and key.reveal() not in refused.error
    # the key rotated away no longer answers; the new one does
    renewed = gw.regenerate_account_key(ACCOUNT, "primary").primary
    assert gw.chat(account.inference_url, key, model="codestral").status == 401
    assert gw.chat(account.inference_url, renewed, model="codestral").ok
    assert gw.chat(account.inference_url, gw.account_keys(ACCOUNT).secondary, model="codestral").ok


# --- the fake keeps the rules the tool's logic depends on: the same story, told to both ---------------

@pytest.fixture(params=["gateway", "fake"])
def door(request):
    """(an AzureApi, the Contoso GenAI account, an account whose subscription cannot buy partner models)."""
    if request.param == "gateway":
        request.getfixturevalue("emu")
        return Gateway(), ACCOUNT, EA_ACCOUNT
    from tests.fake_azure import FakeAzure

    fake = FakeAzure(accounts=("contoso-foundry",))  # in Contoso GenAI's rg-genai, as in the emulator's world
    ea = fake.add_account("ea-foundry")
    fake.refuse_purchases(ea)
    return fake, ACCOUNT, ea


def test_the_fake_and_the_emulator_agree_on_foundry(door):
    api, account, ea = door
    found = api.get_account(account)
    assert found is not None and (found.kind, found.location, found.base_url) == ("AIServices", "eastus2", "https://contoso-foundry.services.ai.azure.com")
    listed = {(m.name, m.version, m.default, m.skus, m.max_capacity) for m in api.list_account_models(account)}
    assert {("Codestral-2501", "1", False, ("GlobalStandard",), 1), ("Codestral-2501", "2", True, ("GlobalStandard",), 1)} <= listed
    assert not any(m.name == "Mistral-Large-3" for m in api.list_account_models(account))

    made = deploy(api, "codestral")
    assert (made.model_version, made.capacity, made.content_filter, made.provisioning_state) == ("2", 1, "Microsoft.DefaultV2", "Succeeded")
    assert made.owned_by("default", "codestral") and api.get_foundry_deployment(account, "CODESTRAL") == made
    for wrong, code in ((dict(version="9"), "DeploymentModelNotSupported"), (dict(capacity=2), "InvalidCapacity"),
                        (dict(content_filter="nope"), "InvalidResourceProperties"), (dict(sku="Standard"), "InvalidResourceProperties")):
        with pytest.raises(AzureError) as caught:
            deploy(api, "codestral", **wrong)
        assert caught.value.code == code, wrong
    with pytest.raises(AzureError) as caught:
        deploy(api, "codestral", "mistral-small-2503")  # the model of a deployment cannot change
    assert caught.value.code == "InvalidResourceProperties"
    assert deploy(api, "codestral", version="1", content_filter="contoso-strict").content_filter == "contoso-strict"

    with pytest.raises(AzureError) as caught:
        deploy(api, "codestral", account=ea)
    assert caught.value.code == "MarketplaceSubscriptionCannotBeCompleted"
    assert api.get_foundry_deployment(ea, "codestral").provisioning_state == "Failed"

    keys = api.account_keys(account)
    url = found.inference_url
    assert api.chat(url, keys.primary, model="codestral").ok and api.chat(url, keys.secondary, model="codestral").model == "Codestral-2501"
    assert api.chat(url, keys.primary, model="nothing").status == 404 and api.chat(url, keys.primary).status == 400
    renewed = api.regenerate_account_key(account, "secondary")
    assert renewed.primary == keys.primary and renewed.secondary != keys.secondary and api.account_keys(account) == renewed
    assert api.chat(url, keys.secondary, model="codestral").status == 401

    api.delete_foundry_deployment(account, "codestral")
    api.delete_foundry_deployment(account, "codestral")
    assert api.list_foundry_deployments(account) == [] and api.get_foundry_deployment(account, "codestral") is None
    missing = account_id(SUB_GENAI, RG, "no-such-foundry")
    assert api.get_account(missing) is None
    with pytest.raises(AzureError) as caught:
        api.list_foundry_deployments(missing)
    assert caught.value.status == 404
