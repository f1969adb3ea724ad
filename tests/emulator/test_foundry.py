"""The emulator's Foundry (Microsoft.CognitiveServices, kind AIServices) through the real clients:
azure-mgmt-cognitiveservices for accounts, keys, model lists and deployments (its pollers included),
and users' chat clients (openai's AzureOpenAI and OpenAI v1, azure-ai-inference, mistralai's Azure
client) configured only from the account's endpoint, a key and the deployment name."""
from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import Deployment, DeploymentModel, DeploymentProperties, PatchResourceTagsAndSku, Sku

from azure_emulator import cognitiveservices
from azure_emulator.store import State
from azure_emulator.wire import ArmError, Request

from .clients import SUB_EA, SUB_GENAI, arm_call, credential, logged

RG = "rg-genai"
ACCOUNT = "contoso-foundry"
SERVICES = f"https://{ACCOUNT}.services.ai.azure.com/"
FOUNDRY_PRINCIPALS = {
    "foundry-deployer": ("2f4b6d8c-1e3a-4c7b-9d2f-4a6b8c1d3e5f", "emulator-secret-foundry-deployer"),
    "foundry-user": ("4b6d8f1a-3e5c-4b7d-9f2a-6c8e1b3d5f7a", "emulator-secret-foundry-user"),
}


def principal_credential(principal: str | None) -> Any:
    if principal in FOUNDRY_PRINCIPALS:
        client_id, secret = FOUNDRY_PRINCIPALS[principal]
        return ClientSecretCredential(os.environ["AZURE_TENANT_ID"], client_id, secret)
    return credential(principal)


def cs_client(sub: str = SUB_GENAI, principal: str | None = None) -> CognitiveServicesManagementClient:
    return CognitiveServicesManagementClient(principal_credential(principal), sub)


def deployment(model: str = "Codestral-2501", version: str | None = "2", sku: str = "GlobalStandard", capacity: int | None = 1, **tags: str) -> Deployment:
    return Deployment(sku=Sku(name=sku, capacity=capacity), tags=tags or None,
                      properties=DeploymentProperties(model=DeploymentModel(format="Mistral AI", name=model, version=version)))


def deploy(client: CognitiveServicesManagementClient, name: str, account: str = ACCOUNT, **kwargs: Any) -> Any:
    return client.deployments.begin_create_or_update(RG, account, name, deployment(**kwargs)).result()


# ---------------------------------------------------------------- accounts, keys, model lists
def test_the_account_is_a_foundry_resource_with_its_endpoints(emu):
    client = cs_client()
    account = client.accounts.get(RG, ACCOUNT)
    assert (account.kind, account.location, account.sku.name) == ("AIServices", "eastus2", "S0")
    assert account.properties.custom_sub_domain_name == ACCOUNT
    assert account.properties.endpoint == f"https://{ACCOUNT}.cognitiveservices.azure.com/"
    endpoints = account.properties.endpoints
    assert endpoints["Azure AI Model Inference API"] == SERVICES
    assert endpoints["OpenAI Language Model Instance API"] == f"https://{ACCOUNT}.openai.azure.com/"
    assert {a.name for a in client.accounts.list_by_resource_group(RG)} == {ACCOUNT, "contoso-foundry-wus3"}
    assert ACCOUNT in {a.name for a in client.accounts.list()}
    with pytest.raises(ResourceNotFoundError):
        client.accounts.get(RG, "no-such-account")


def test_keys_are_listed_and_regenerated_one_at_a_time(emu):
    client = cs_client()
    before = client.accounts.list_keys(RG, ACCOUNT)
    assert before.key1 and before.key2 and before.key1 != before.key2
    after = client.accounts.regenerate_key(RG, ACCOUNT, key_name="Key1")
    assert after.key1 != before.key1 and after.key2 == before.key2
    assert client.accounts.list_keys(RG, ACCOUNT).key1 == after.key1


def test_model_lists_hold_todays_mistral_models_by_region(emu):
    client = cs_client()
    models = {(m.name, m.version): m for m in client.accounts.list_models(RG, ACCOUNT)}
    assert ("Codestral-2501", "2") in models and models[("Codestral-2501", "2")].is_default_version
    assert not models[("Codestral-2501", "1")].is_default_version
    assert models[("Codestral-2501", "2")].format == "Mistral AI"
    assert [s.name for s in models[("Codestral-2501", "2")].skus] == ["GlobalStandard"]
    assert ("Mistral-Large-3", "1") not in models  # West US 3 only
    west = {m.model.name for m in client.models.list("westus3")}
    assert {"Mistral-Large-3", "Codestral-2501", "mistral-medium-2505"} <= west
    assert all(m.kind == "AIServices" for m in client.models.list("westus3"))


# ---------------------------------------------------------------- deployments through the pollers
def test_deployments_are_created_updated_listed_patched_and_deleted(emu):
    emu.control.configure(registry_page_size=2)
    client = cs_client()
    made = deploy(client, "codestral", team="search")
    assert (made.properties.provisioning_state, made.sku.name, made.sku.capacity) == ("Succeeded", "GlobalStandard", 1)
    assert made.properties.model.version == "2" and made.properties.rai_policy_name == "Microsoft.DefaultV2"
    deploy(client, "small", model="mistral-small-2503", version=None)
    deploy(client, "medium", model="mistral-medium-2505", version="1")
    listed = list(client.deployments.list(RG, ACCOUNT))  # three deployments over two pages
    assert [d.name for d in listed] == ["codestral", "medium", "small"]
    assert next(d for d in listed if d.name == "small").properties.model.version == "1"  # the default version
    log = logged(emu, lambda log: any("$skiptoken" in e["query"] for e in log))
    assert any("$skiptoken" in e["query"] for e in log)
    again = deploy(client, "codestral", team="chat")
    assert again.tags == {"team": "chat"}
    statuses = [e["status"] for e in emu.control.requests() if e["method"] == "PUT" and e["path"].endswith("/deployments/codestral")]
    assert statuses == [201, 200]
    patched = client.deployments.begin_update(RG, ACCOUNT, "codestral", PatchResourceTagsAndSku(tags={"owner": "platform"})).result()
    assert patched.tags == {"owner": "platform"} and patched.properties.model.name == "Codestral-2501"
    client.deployments.begin_delete(RG, ACCOUNT, "codestral").result()
    with pytest.raises(ResourceNotFoundError):
        client.deployments.get(RG, ACCOUNT, "codestral")
    client.deployments.begin_delete(RG, ACCOUNT, "codestral").result()  # gone already: 204
    assert [e["status"] for e in emu.control.requests() if e["method"] == "DELETE"] == [202, 204]


def test_a_second_write_while_one_runs_on_the_account_is_a_request_conflict(emu):
    emu.control.configure(pace={"foundryDeployments": {"seconds": 0.6}})
    client = cs_client()
    outcomes: dict[str, Any] = {}
    start = threading.Barrier(2)

    def write(name: str) -> None:
        start.wait()
        try:
            outcomes[name] = client.deployments.begin_create_or_update(RG, ACCOUNT, name, deployment()).result()
        except ResourceExistsError as err:
            outcomes[name] = err

    threads = [threading.Thread(target=write, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [err for err in outcomes.values() if isinstance(err, ResourceExistsError)]
    assert len(refused) == 1, outcomes
    assert refused[0].status_code == 409 and refused[0].error.code == "RequestConflict"
    assert "Another operation is being performed on the parent resource" in refused[0].error.message
    assert f"/accounts/{ACCOUNT}'" in refused[0].error.message
    # once it is over, the next write goes through; another account was never blocked
    deploy(client, "three")
    deploy(client, "elsewhere", account="contoso-foundry-wus3")


def test_a_partner_model_the_subscription_cannot_buy_fails_only_when_polled(emu):
    client = cs_client(SUB_EA)
    poller = client.deployments.begin_create_or_update(RG, "ea-foundry", "codestral", deployment())
    assert poller.polling_method()._initial_response.http_response.status_code == 201
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert caught.value.error.code == "MarketplaceSubscriptionCannotBeCompleted"
    assert "Marketplace" in caught.value.error.message and "enrollment" in caught.value.error.message
    assert client.deployments.get(RG, "ea-foundry", "codestral").properties.provisioning_state == "Failed"
    # a model Azure sells itself needs no purchase
    ocr = deploy(client, "ocr", account="ea-foundry", model="mistral-ocr-4-0", version="1")
    assert ocr.properties.provisioning_state == "Succeeded"


def test_quota_and_capacity_are_checked_when_the_deployment_is_put(emu):
    client = cs_client()
    deploy(client, "ministral", model="Ministral-3B", version="1")
    with pytest.raises(HttpResponseError) as caught:
        deploy(client, "ministral-2", model="Ministral-3B", version="1")
    assert caught.value.status_code == 400 and caught.value.error.code == "InsufficientQuota"
    assert "quota limit is 1" in caught.value.error.message
    deploy(client, "ministral", model="Ministral-3B", version="1", team="x")  # itself does not count twice
    for capacity in (0, 2):
        with pytest.raises(HttpResponseError) as caught:
            deploy(client, "big", capacity=capacity)
        assert caught.value.error.code == "InvalidCapacity"
        assert caught.value.error.message == f"The specified capacity '{capacity}' of account deployment should be at least 1 and no more than 1."


def test_the_model_version_sku_and_region_come_from_the_accounts_catalog(emu):
    client = cs_client()
    cases = [
        (dict(version="9"), "DeploymentModelNotSupported", "The model 'Format:Mistral AI,Name:Codestral-2501,Version:9' of account deployment is not supported."),
        (dict(model="Mistral-Large-3", version="1"), "InvalidResourceProperties", "The specified SKU 'GlobalStandard' for model 'Mistral-Large-3 1' is not supported in this region 'eastus2'."),
        (dict(sku="Standard"), "InvalidResourceProperties", "The specified SKU 'Standard' of account deployment is not supported by the model 'Codestral-2501' version: '2'."),
    ]
    for kwargs, code, message in cases:
        with pytest.raises(HttpResponseError) as caught:
            deploy(client, "bad", **kwargs)
        assert (caught.value.error.code, caught.value.error.message) == (code, message)
    large = deploy(client, "large", account="contoso-foundry-wus3", model="Mistral-Large-3", version="1")
    assert large.properties.provisioning_state == "Succeeded"


# ---------------------------------------------------------------- RBAC
def test_azure_ai_developer_cannot_deploy_to_a_foundry_resource(emu):
    with pytest.raises(HttpResponseError) as caught:
        deploy(cs_client(principal="ai-developer-only"), "codestral")
    assert caught.value.status_code == 403 and caught.value.error.code == "AuthorizationFailed"
    assert "Microsoft.CognitiveServices/accounts/deployments/write" in caught.value.error.message


def test_cognitive_services_roles(emu):
    user = cs_client(principal="foundry-user")
    with pytest.raises(HttpResponseError) as caught:
        deploy(user, "codestral")
    assert caught.value.status_code == 403
    assert user.accounts.list_keys(RG, ACCOUNT).key1  # a Cognitive Services User reads keys
    with pytest.raises(HttpResponseError):
        cs_client(principal="reader-only").accounts.list_keys(RG, ACCOUNT)
    deployer = cs_client(principal="foundry-deployer")
    assert deploy(deployer, "codestral").properties.provisioning_state == "Succeeded"
    with pytest.raises(HttpResponseError) as caught:  # its role is on contoso-foundry only
        deploy(deployer, "codestral", account="contoso-foundry-wus3")
    assert caught.value.status_code == 403


# ---------------------------------------------------------------- inference
@pytest.fixture
def served(emu) -> tuple[str, str]:
    """A Codestral deployment named `code`, and the account's key."""
    client = cs_client()
    deploy(client, "code")
    return "code", client.accounts.list_keys(RG, ACCOUNT).key1


def test_openai_clients_call_the_deployment_by_name(served):
    import openai

    name, key = served
    azure = openai.AzureOpenAI(azure_endpoint=SERVICES, api_key=key, api_version="2024-10-21")
    reply = azure.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hello"}])
    assert reply.choices[0].message.content and reply.model == "Codestral-2501"
    on_openai_host = openai.AzureOpenAI(azure_endpoint=f"https://{ACCOUNT}.openai.azure.com/", api_key=key, api_version="2024-10-21")
    assert on_openai_host.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hi"}]).choices
    v1 = openai.OpenAI(base_url=SERVICES + "openai/v1/", api_key=key)
    streamed = v1.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hello"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    with pytest.raises(openai.NotFoundError):
        azure.chat.completions.create(model="Code", messages=[{"role": "user", "content": "Hi"}])  # names are exact
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=SERVICES + "openai/v1/", api_key="wrong").chat.completions.create(model=name, messages=[{"role": "user", "content": "x"}])


def test_azure_ai_inference_and_mistral_clients_call_the_models_route(served):
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import UserMessage
    from azure.core.credentials import AzureKeyCredential
    from mistralai.azure.client import MistralAzure

    name, key = served
    inference = ChatCompletionsClient(endpoint=SERVICES + "models", credential=AzureKeyCredential(key))
    assert inference.complete(model=name, messages=[UserMessage("Hello")]).choices[0].message.content
    with pytest.raises(HttpResponseError) as caught:
        inference.complete(model="nope", messages=[UserMessage("Hello")])
    assert caught.value.status_code == 404 and caught.value.error.code == "unknown_model"
    mistral = MistralAzure(api_key=key, server_url=SERVICES.rstrip("/"), api_version="2024-05-01-preview")
    assert mistral.chat.complete(model=name, messages=[{"role": "user", "content": "Hello"}]).choices[0].message.content


def test_entra_tokens_need_a_data_action_on_the_account(served):
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import UserMessage

    name, _ = served
    scopes = ["https://cognitiveservices.azure.com/.default"]
    user = ChatCompletionsClient(endpoint=SERVICES + "models", credential=principal_credential("foundry-user"), credential_scopes=scopes)
    assert user.complete(model=name, messages=[UserMessage("Hello")]).choices
    reader = ChatCompletionsClient(endpoint=SERVICES + "models", credential=principal_credential("reader-only"), credential_scopes=scopes)
    with pytest.raises(HttpResponseError) as caught:
        reader.complete(model=name, messages=[UserMessage("Hello")])
    assert caught.value.status_code == 401 and caught.value.error.code == "PermissionDenied"
    arm_token = ChatCompletionsClient(endpoint=SERVICES + "models", credential=principal_credential("foundry-user"),
                                      credential_scopes=["https://management.azure.com/.default"])
    with pytest.raises(HttpResponseError):
        arm_token.complete(model=name, messages=[UserMessage("Hello")])


def test_a_deployment_still_being_made_does_not_answer(emu):
    import openai

    emu.control.configure(pace={"foundryDeployments": {"polls": 1000, "seconds": 30}})
    client = cs_client()
    client.deployments.begin_create_or_update(RG, ACCOUNT, "slow", deployment(), polling=False)
    key = client.accounts.list_keys(RG, ACCOUNT).key1
    azure = openai.AzureOpenAI(azure_endpoint=SERVICES, api_key=key, api_version="2024-10-21", max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        azure.chat.completions.create(model="slow", messages=[{"role": "user", "content": "Hi"}])
    assert "does not exist" in str(caught.value)


# ---------------------------------------------------------------- the PUT body: what users get wrong
DEPLOYMENTS = f"/subscriptions/{SUB_GENAI}/resourceGroups/{RG}/providers/Microsoft.CognitiveServices/accounts/{ACCOUNT}/deployments"
GOOD = {"sku": {"name": "GlobalStandard", "capacity": 1}, "properties": {"model": {"format": "Mistral AI", "name": "Codestral-2501", "version": "2"}}}


def _with(path: str, value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return body


MISTAKES = [
    # sku inside properties: Azure does not read it there, falls back to Standard, which the model does not take
    ("sku inside properties", "codestral", {"properties": {**GOOD["properties"], "sku": GOOD["sku"]}}, 400, "InvalidResourceProperties",
     "The specified SKU 'Standard' of account deployment is not supported by the model 'Codestral-2501' version: '2'."),
    ("format without its space", "codestral", _with("properties.model.format", "MistralAI"), 400, "DeploymentModelNotSupported",
     "The model 'Format:MistralAI,Name:Codestral-2501,Version:2' of account deployment is not supported."),
    ("format as a publisher id", "codestral", _with("properties.model.format", "Mistral"), 400, "DeploymentModelNotSupported", None),
    ("unknown version", "codestral", _with("properties.model.version", "3"), 400, "DeploymentModelNotSupported",
     "The model 'Format:Mistral AI,Name:Codestral-2501,Version:3' of account deployment is not supported."),
    ("version as a number", "codestral", _with("properties.model.version", 2), 400, "InvalidRequestContent", None),
    ("capacity 0", "codestral", _with("sku.capacity", 0), 400, "InvalidCapacity",
     "The specified capacity '0' of account deployment should be at least 1 and no more than 1."),
    ("a serverless model id for the name", "codestral", _with("properties.model.name", "azureml://registries/azureml-mistral/models/Codestral-2501"), 400,
     "DeploymentModelNotSupported", None),
    ("no model", "codestral", {"sku": GOOD["sku"], "properties": {}}, 400, "InvalidResourceProperties", None),
    ("an unknown content filter", "codestral", _with("properties.raiPolicyName", "strict"), 400, "InvalidResourceProperties", None),
    ("a name with a space", "my deployment", GOOD, 400, "InvalidResourceName", None),
    ("properties as a list", "codestral", {"sku": GOOD["sku"], "properties": []}, 400, "InvalidRequestContent", None),
]


@pytest.mark.parametrize("why,name,body,status,code,message", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_what_users_get_wrong_in_the_put_body(emu, why, name, body, status, code, message):
    answer = arm_call("PUT", f"{DEPLOYMENTS}/{name}", "2025-09-01", body)
    assert answer.status_code == status, answer.text()
    assert answer.json()["error"]["code"] == code
    if message is not None:
        assert answer.json()["error"]["message"] == message
    assert arm_call("GET", DEPLOYMENTS, "2025-09-01").json()["value"] == []


def test_a_custom_content_filter_of_the_account_is_taken(emu):
    answer = arm_call("PUT", f"{DEPLOYMENTS}/codestral", "2025-09-01", _with("properties.raiPolicyName", "contoso-strict"))
    assert answer.status_code == 201 and answer.json()["properties"]["raiPolicyName"] == "contoso-strict"
    assert answer.headers["Azure-AsyncOperation"].startswith(f"https://management.azure.com/subscriptions/{SUB_GENAI}/providers/"
                                                              "Microsoft.CognitiveServices/locations/eastus2/operationResults/")


_STATE: dict[str, State] = {}
JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 5) | st.text(max_size=12) | st.sampled_from(["Mistral AI", "Codestral-2501", "2", "GlobalStandard"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["name", "format", "version", "capacity", "model", "sku",
                                                                                                  "properties", "tags", "raiPolicyName", "x"]), inner, max_size=4),
                    max_leaves=12)


@settings(deadline=1000, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(["sku", "properties", "tags", "location"]), JSON, max_size=4), name=st.text(max_size=70))
def test_any_put_body_is_answered_without_a_server_error(body, name):
    """In process (no network): the handler answers any JSON body with a success or an ARM error, never a crash."""
    state = _STATE.setdefault("state", State())
    with state.lock:
        state.reset_resources()
    principal = state.world.default_principal()
    req = Request("PUT", "management.azure.com", f"{DEPLOYMENTS}/{name}", {"api-version": "2025-09-01"}, {"Content-Type": "application/json"},
                  json.dumps(body).encode(), principal=principal)
    try:
        answer = cognitiveservices.put_deployment(state, req, SUB_GENAI, RG, ACCOUNT, name)
    except ArmError as err:
        assert 400 <= err.status < 500, err
    else:
        assert answer.status in (200, 201)


# ---------------------------------------------------------------- the control API, the generic list, the world file
def test_the_control_api_seeds_a_deployment_made_out_of_band(emu):
    emu.control.seed(kind="foundryDeployments", name="legacy", account=ACCOUNT, model_name="mistral-small-2503", tags={"owner": "someone"})
    got = cs_client().deployments.get(RG, ACCOUNT, "legacy")
    assert (got.properties.provisioning_state, got.properties.model.name, got.tags) == ("Succeeded", "mistral-small-2503", {"owner": "someone"})
    with pytest.raises(RuntimeError, match="no Foundry account"):
        emu.control.seed(kind="foundryDeployments", name="x", account="nope", model_name="Codestral-2501")


def test_the_generic_resource_list_holds_the_accounts(emu):
    answer = arm_call("GET", f"/subscriptions/{SUB_GENAI}/resourceGroups/{RG}/resources", "2024-07-01")
    listed = {(r["name"], r["type"], r.get("kind")) for r in answer.json()["value"]}
    assert ("contoso-foundry", "Microsoft.CognitiveServices/accounts", "AIServices") in listed


def test_mistakes_in_the_worlds_foundry_part_are_named():
    from azure_emulator.world import WorldError, load_world

    text = """
subscriptions:
  - name: S
    foundry_quota: {eastus2: {AIServices.GlobalStandard.Codestral-2501: -1}}
    resource_groups:
      - name: rg
        foundry_accounts:
          - {name: a, location: eastus2}
          - {name: twin, custom_subdomain: twin}
          - {name: twin2, custom_subdomain: twin}
principals: [{name: p}]
foundry_models:
  - {name: Codestral-2501, version: "2", skus: {GlobalStandrd: [eastus2]}, capacity: {default: 5, minimum: 1, maximum: 1}}
"""
    with pytest.raises(WorldError) as caught:
        load_world(text=text)
    problems = "\n".join(caught.value.problems)
    for expected in ("foundry_quota.eastus2", "foundry_accounts[0].name", "custom_subdomain: 'twin' is taken", "skus.GlobalStandrd: unknown SKU",
                     "minimum <= default <= maximum"):
        assert expected in problems, problems
