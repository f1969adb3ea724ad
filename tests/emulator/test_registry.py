"""The model registry as azure-ai-ml reads it (discovery, then the registry's model API), the
catalog's lifecycle as Azure enforces it, and the other rules a catalog preflight relies on."""
from __future__ import annotations

import datetime as dt

import pytest
import requests
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from azure_emulator.registry import REGISTRY_SUBSCRIPTION

from .clients import MISTRAL_LARGE_RETIRED, MISTRAL_MEDIUM, MISTRAL_SMALL, SUB_GENAI, SUB_JAPAN, arm_call, credential, ml_client, project_path

DISCOVERY = "https://eastus.api.azureml.ms/registrymanagement/v1.0/registries"
MFE = "https://cert-eastus.experiments.azureml.net/mferp/managementfrontend"
MODELS = (f"{MFE}/subscriptions/{REGISTRY_SUBSCRIPTION}/resourceGroups/registry-builtin-azureml-mistral-eastus"
          "/providers/Microsoft.MachineLearningServices/registries/azureml-mistral/models")
API = "2021-10-01-dataplanepreview"
CURRENT = ["Codestral-2501", "Ministral-3B", "mistral-document-ai-2505", "mistral-medium-2505", "mistral-small-2503"]
RETIRED = ["Mistral-large", "Mistral-large-2407", "Mistral-Large-2411", "Mistral-Nemo", "mistral-ocr-2503", "Mistral-small"]
TODAY = dt.datetime.now(dt.timezone.utc).date()


def registry_client():
    from azure.ai.ml import MLClient

    return MLClient(credential(), registry_name="azureml-mistral")


def token(scope: str = "https://management.azure.com/.default") -> str:
    return credential().get_token(scope).token


def get(url: str, auth: str | None = "arm", **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token()}"} if auth == "arm" else ({"Authorization": auth} if auth else {})
    return requests.get(url, params=params, headers=headers, timeout=30)


def inner(response: requests.Response) -> tuple[str, str]:
    error = response.json()["error"]
    return error["code"], error["innerError"]["code"]


def mfe_inner(err: HttpResponseError) -> str:
    for info in (err.response.json().get("error") or {}).get("additionalInfo") or []:
        if info["type"] == "InnerError":
            return info["info"]["value"]["innerError"]["code"]
    return ""


# --- azure-ai-ml, unmodified ---------------------------------------------------------------------

def test_azure_ai_ml_reads_models_from_the_registry(emu):
    ml = registry_client()
    latest = ml.models.get("mistral-medium-2505", label="latest")
    assert (latest.name, latest.version) == ("mistral-medium-2505", "1")
    assert latest.id == "azureml://registries/azureml-mistral/models/mistral-medium-2505/versions/1"
    assert latest.tags == {"author": "Mistral AI", "displayName": "Mistral-Medium-2505"}
    codestral = ml.models.get("codestral-2501", label="latest")  # any case; the registry's spelling comes back
    assert (codestral.name, codestral.version) == ("Codestral-2501", "2")
    assert ml.models.get("Codestral-2501", version="1").version == "1"
    retired = ml.models.get("Mistral-large", version="1")
    assert retired.tags == {"author": "Mistral AI", "displayName": "Mistral-Large", "InferenceLegacyDate": "2024-12-15T00:00:00.000000Z",
                            "InferenceDeprecationDate": "2025-01-15T00:00:00.000000Z", "InferenceRetirementDate": "2025-04-15T00:00:00.000000Z"}
    assert ml.models.get("Mistral-Nemo", label="latest").tags["InferenceRetirementDate"] == "2026-01-30T00:00:00.000000Z"
    listed = {m.name: m.latest_version for m in ml.models.list()}
    assert sorted(listed, key=str.lower) == sorted(CURRENT + RETIRED, key=str.lower)  # retired models stay listed
    assert listed["Codestral-2501"] == "2" and listed["Mistral-Large-2411"] == "2"
    assert [m.version for m in ml.models.list(name="Codestral-2501")] == ["2", "1"]
    log = emu.control.requests()
    registry = [e for e in log if e["kind"] == "registry"]
    assert {e["host"] for e in registry} == {"eastus.api.azureml.ms", "cert-eastus.experiments.azureml.net"}
    assert [e["path"] for e in registry if e["host"] == "eastus.api.azureml.ms"] == ["/registrymanagement/v1.0/registries/azureml-mistral/discovery"]
    assert all(e["status"] == 200 and e["principal"] == "provision-ci" and not e["write"] for e in registry)


def test_azure_ai_ml_on_a_model_the_registry_does_not_hold(emu):
    from azure.ai.ml.exceptions import ValidationException

    ml = registry_client()
    with pytest.raises(ValidationException) as err:
        ml.models.get("Mistral-smal", label="latest")  # its versions: none
    assert str(err.value) == "Asset Mistral-smal does not exist in registry azureml-mistral."
    with pytest.raises(ResourceNotFoundError):
        ml.models.get("Mistral-smal", version="1")
    with pytest.raises(ResourceNotFoundError):
        ml.models.get("mistral-medium-2505", version="2")


def test_azure_ai_ml_follows_the_registrys_pages(emu):
    emu.control.configure(registry_page_size=4)
    assert len(list(registry_client().models.list())) == 11
    pages = [e for e in emu.control.requests() if e["path"].endswith("/models")]
    assert [e["query"].get("$skiptoken") for e in pages] == [None, "4", "8"]


def test_an_unknown_registry(emu):
    from azure.ai.ml import MLClient

    with pytest.raises(HttpResponseError) as err:
        MLClient(credential(), registry_name="azureml-mistrall")
    assert err.value.status_code == 404
    response = get(f"{DISCOVERY}/azureml-mistrall/discovery", **{"api-version": "v1.0"})
    assert response.status_code == 404 and inner(response) == ("UserError", "RegistryNotFound")
    assert response.json()["error"]["message"] == "Registry 'azureml-mistrall' was not found."


# --- the wire ------------------------------------------------------------------------------------

def test_discovery_answer(emu):
    response = get(f"{DISCOVERY}/AzureML-Mistral/discovery", **{"api-version": "v1.0"})
    assert response.status_code == 200 and response.headers["x-ms-request-id"]
    body = response.json()
    regions = ["eastus", "eastus2", "northcentralus", "southcentralus", "swedencentral", "westus", "westus3"]
    assert body == {
        "registryName": "azureml-mistral", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "primaryRegion": "eastus", "regions": regions,
        "subscriptionId": REGISTRY_SUBSCRIPTION, "resourceGroup": "registry-builtin-azureml-mistral-eastus", "workspaceName": None,
        "primaryRegionResourceProviderUri": "https://cert-eastus.experiments.azureml.net/",
        "registryFqdns": {r: {"api": f"https://{r}.api.azureml.ms", "mfe": f"https://cert-{r}.experiments.azureml.net"} for r in regions},
    }
    assert REGISTRY_SUBSCRIPTION not in emu.state.world.subscriptions


def test_model_container_and_version_bodies(emu):
    container = get(f"{MODELS}/MISTRAL-SMALL-2503", **{"api-version": API}).json()
    assert container["id"] == "azureml://registries/azureml-mistral/models/mistral-small-2503" and container["name"] == "mistral-small-2503"
    assert container["properties"] == {"description": "Mistral-Small-2503, by Mistral AI.", "properties": {}, "tags": {}, "isArchived": False,
                                       "latestVersion": "1", "nextVersion": "2", "provisioningState": "Succeeded"}
    assert set(container["systemData"]) == {"createdAt", "createdBy", "createdByType", "lastModifiedAt", "lastModifiedBy", "lastModifiedByType"}
    version = get(f"{MODELS}/Mistral-small/versions/1", **{"api-version": API}).json()
    assert version["id"] == "azureml://registries/azureml-mistral/models/Mistral-small/versions/1" and version["name"] == "1"
    props = version["properties"]
    assert props["tags"] == {"author": "Mistral AI", "displayName": "Mistral-Small", "InferenceLegacyDate": "2025-03-31T00:00:00.000000Z",
                             "InferenceDeprecationDate": "2025-04-30T00:00:00.000000Z", "InferenceRetirementDate": "2025-07-31T00:00:00.000000Z"}
    assert (props["isArchived"], props["isAnonymous"], props["provisioningState"], props["flavors"]) == (False, False, "Succeeded", {})
    assert {"description", "properties", "modelType", "modelUri", "stage"} <= set(props)


def test_model_errors(emu):
    missing = get(f"{MODELS}/Mistral-smal", **{"api-version": API})
    assert missing.status_code == 404 and inner(missing) == ("UserError", "NotFound")
    assert missing.json()["componentName"] == "managementfrontend"
    assert get(f"{MODELS}/Mistral-smal/versions", **{"api-version": API}).json() == {"value": []}  # a collection: empty
    assert get(f"{MODELS}/Ministral-3B/versions/2", **{"api-version": API}).status_code == 404
    assert get(f"{MODELS}/Ministral-3B/versions/latest", **{"api-version": API}).status_code == 404
    elsewhere = get(MODELS.replace(REGISTRY_SUBSCRIPTION, SUB_GENAI), **{"api-version": API})
    assert elsewhere.status_code == 404 and inner(elsewhere) == ("UserError", "RegistryNotFound")
    assert get(f"{MODELS}/Ministral-3B/deployments", **{"api-version": API}).status_code == 404
    put = requests.put(f"{MODELS}/Ministral-3B", params={"api-version": API}, json={}, headers={"Authorization": f"Bearer {token()}"}, timeout=30)
    assert put.status_code == 405
    assert emu.control.egress() == []


@pytest.mark.parametrize("url, version", [(f"{DISCOVERY}/azureml-mistral/discovery", "v1.0"), (MODELS, API)])
def test_tokens_and_api_versions(emu, url, version):
    assert get(url, auth=None, **{"api-version": version}).status_code == 401
    assert inner(get(url, auth=None, **{"api-version": version}))[0] == "AuthenticationFailed"
    assert inner(get(url, auth="Bearer not-a-token", **{"api-version": version}))[0] == "InvalidAuthenticationToken"
    graph = get(url, auth=f"Bearer {token('https://graph.microsoft.com/.default')}", **{"api-version": version})
    assert graph.status_code == 401 and inner(graph)[0] == "InvalidAuthenticationTokenAudience"
    assert inner(get(url))[0] == "MissingApiVersionParameter"
    assert inner(get(url, **{"api-version": "2024-10-01"}))[0] == "NoRegisteredProviderFound"
    assert inner(get(url, **{"api-version": "latest"}))[0] == "InvalidApiVersionParameter"
    assert get(url, **{"api-version": version}).status_code == 200


def test_paging_order_top_and_list_views(emu):
    emu.control.configure(registry_page_size=4)
    names, url, params = [], MODELS, {"api-version": API, "listViewType": "All"}
    while url:
        page = get(url, **params).json()
        names += [m["name"] for m in page["value"]]
        url, params = page.get("nextLink"), {}
    assert names == sorted(CURRENT + RETIRED, key=str.lower)
    assert get(MODELS, **{"api-version": API, "listViewType": "ArchivedOnly"}).json() == {"value": []}  # retired is not archived
    assert inner(get(MODELS, **{"api-version": API, "listViewType": "Deleted"})) == ("UserError", "BadArgument")
    assert len(get(MODELS, **{"api-version": API, "$top": "2"}).json()["value"]) == 2
    versions = f"{MODELS}/Codestral-2501/versions"
    assert [v["name"] for v in get(versions, **{"api-version": API, "$orderBy": "createdtime desc"}).json()["value"]] == ["2", "1"]
    assert [v["name"] for v in get(versions, **{"api-version": API, "$orderBy": "createdtime asc"}).json()["value"]] == ["1", "2"]
    top = get(versions, **{"api-version": API, "$orderBy": "createdtime desc", "$top": "1"}).json()
    assert [v["name"] for v in top["value"]] == ["2"] and "nextLink" not in top
    assert inner(get(versions, **{"api-version": API, "$orderBy": "name"}))[1] == "BadArgument"
    assert inner(get(versions, **{"api-version": API, "$top": "0"}))[1] == "BadArgument"


def test_registry_faults_are_injected_by_host(emu):
    emu.control.faults(hosts=["cert-eastus.experiments.azureml.net"], routes=[{"path": "/models/ministral-3b$", "status": 503, "times": 1}])
    assert get(f"{MODELS}/Ministral-3B", **{"api-version": API}).status_code == 503
    assert get(f"{MODELS}/Ministral-3B", **{"api-version": API}).status_code == 200
    assert get(f"{DISCOVERY}/azureml-mistral/discovery", **{"api-version": "v1.0"}).status_code == 200


# --- lifecycle, as Azure enforces it -----------------------------------------------------------

def put_endpoint(name: str, model: str, project: str = "contoso-chat"):
    return arm_call("PUT", project_path(project) + f"/serverlessEndpoints/{name}", api_version="2024-04-01",
                    body={"location": "eastus2", "sku": {"name": "Consumption"}, "properties": {"modelSettings": {"modelId": model}}})


def put_subscription(name: str, model: str):
    return arm_call("PUT", project_path() + f"/marketplaceSubscriptions/{name}", api_version="2024-04-01", body={"properties": {"modelId": model}})


def arm_inner(response) -> str:
    return response.json()["error"]["additionalInfo"][1]["info"]["value"]["innerError"]["code"]


def test_retired_and_deprecated_models_take_no_new_deployments(emu):
    for response in (put_subscription("old", MISTRAL_LARGE_RETIRED), put_endpoint("old", MISTRAL_LARGE_RETIRED)):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "UserError"
        assert response.json()["error"]["message"] == f"The requested model {MISTRAL_LARGE_RETIRED} is not available."
        assert arm_inner(response) == "ServerlessModelRetired"
    emu.control.set_lifecycle("mistral-small-2503", legacy=str(TODAY - dt.timedelta(days=40)), deprecated=str(TODAY), retired=str(TODAY + dt.timedelta(days=90)))
    refused = put_subscription("small", MISTRAL_SMALL)
    assert refused.status_code == 400 and arm_inner(refused) == "ServerlessModelDeprecated"
    assert arm_inner(put_endpoint("small", MISTRAL_SMALL)) == "ServerlessModelDeprecated"
    # legacy: still deployable
    emu.control.set_lifecycle("mistral-small-2503", legacy=str(TODAY), deprecated=str(TODAY + dt.timedelta(days=30)))
    assert put_subscription("small", MISTRAL_SMALL).status_code == 201
    # the other refusals are unchanged
    assert arm_inner(put_endpoint("nope", "azureml://registries/azureml-mistral/models/Mistral-smal")) == "ServerlessModelNotFound"
    we = arm_call("PUT", project_path("contoso-we", rg="rg-westeurope") + "/serverlessEndpoints/we", api_version="2024-04-01",
                  body={"location": "westeurope", "properties": {"modelSettings": {"modelId": MISTRAL_MEDIUM}}})
    assert arm_inner(we) == "ServerlessModelNotAvailableInRegion"
    writes = [e for e in emu.control.requests() if e["write"] and e["status"] < 300]
    assert [e["path"].rsplit("/", 1)[-1] for e in writes] == ["small"]


def test_a_model_retired_after_its_endpoint_was_deployed(emu):
    ml = ml_client()
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="small", model_id=MISTRAL_SMALL)).result()
    endpoint = ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="small-chat", model_id=MISTRAL_SMALL)).result()
    key = ml.serverless_endpoints.get_keys("small-chat").primary_key

    def chat():
        return requests.post(f"{endpoint.scoring_uri}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)

    assert chat().status_code == 200
    changed = emu.control.set_lifecycle("mistral-small-2503", retired=str(TODAY))
    assert changed == {"id": MISTRAL_SMALL, "name": "mistral-small-2503", "version": 1, "regions": changed["regions"],
                       "lifecycle": {"legacy": None, "deprecated": None, "retired": str(TODAY)}, "status": "retired"}
    answer = chat()
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "ModelRetired"
    assert ml.serverless_endpoints.get("small-chat").provisioning_state == "succeeded"  # still there, still listed
    tags = registry_client().models.get("mistral-small-2503", label="latest").tags
    assert tags["InferenceRetirementDate"] == f"{TODAY}T00:00:00.000000Z"
    emu.control.set_lifecycle("mistral-small-2503")  # no dates: current again
    assert chat().status_code == 200


def test_the_lifecycle_control_call_checks_its_body(emu):
    import json as _json
    import urllib.error
    import urllib.request

    def patch(body):
        request = urllib.request.Request(emu.url + "/_emulator/models", data=_json.dumps(body).encode(), method="PATCH",
                                         headers={"Content-Type": "application/json", "X-Azure-Emulator-Token": emu.control_token})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, _json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, _json.loads(err.read())

    assert patch({"model": "Mistral-Nemo", "lifecycle": {"retired": "2026-13-01"}}) == (
        400, {"error": "bad control request: lifecycle.retired: '2026-13-01' is not a date; write YYYY-MM-DD (it takes effect at 00:00 UTC)",
              "field": "lifecycle.retired"})
    assert patch({"model": "Mistral-Nemo", "lifecycle": {"legacy": "2026-02-01", "retired": "2026-01-30"}})[1]["field"] == "lifecycle.retired"
    assert patch({"model": "Mistral-Nemo", "lifecycle": {"retierd": "2026-01-30"}})[1]["error"].endswith("unknown key (did you mean 'retired'?)")
    assert patch({"model": "Mistral-Nemo"})[1]["field"] == "lifecycle"
    assert patch({"model": "Mistral-Nem", "lifecycle": {}})[0] == 404
    assert patch({"model": MISTRAL_LARGE_RETIRED.upper(), "lifecycle": {}})[1]["status"] == "active"
    emu.control.reset()
    assert {m["name"]: m["status"] for m in emu.control.models()}["Mistral-large"] == "retired"  # a reset restores the world


# --- names, workspaces, refused purchases ------------------------------------------------------

def test_a_name_taken_in_another_tenant(emu):
    ml = ml_client()
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="medium", model_id=MISTRAL_MEDIUM)).result()
    with pytest.raises(HttpResponseError) as err:
        ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="Mistral-Chat", model_id=MISTRAL_MEDIUM)).result()
    assert err.value.status_code == 400 and mfe_inner(err.value) == "ServerlessEndpointNameNotAvailable"
    assert err.value.error.message == "Serverless endpoint name 'Mistral-Chat' is not available. Please select a different name."
    assert list(ml.serverless_endpoints.list()) == []
    from azure.mgmt.resource.resources import ResourceManagementClient

    listed = ResourceManagementClient(credential(), SUB_GENAI).resources.list()
    assert not any("mistral-chat" in r.name.lower() for r in listed)


def test_workspaces_of_a_subscription(emu):
    from azure.ai.ml import MLClient
    from azure.ai.ml.constants import Scope

    everything = MLClient(credential(), SUB_GENAI, "rg-genai").workspaces.list(scope=Scope.SUBSCRIPTION)
    assert sorted(w.name for w in everything) == ["contoso-chat", "contoso-chat-fr", "contoso-hub", "contoso-hub-fr", "contoso-hub-we",
                                                  "contoso-search", "contoso-we"]
    reader = MLClient(credential("reader-only"), SUB_GENAI, "rg-genai").workspaces.list(scope=Scope.SUBSCRIPTION)
    assert sorted(w.name for w in reader) == ["contoso-chat", "contoso-chat-fr", "contoso-hub", "contoso-hub-fr", "contoso-search"]
    body = arm_call("GET", f"/subscriptions/{SUB_GENAI}/providers/Microsoft.MachineLearningServices/workspaces").json()
    assert [w["id"].split("/")[4] for w in body["value"]] == ["rg-genai"] * 5 + ["rg-westeurope"] * 2
    assert arm_call("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.MachineLearningServices/workspaces").status_code == 404


def test_a_refused_purchase_leaves_a_failed_subscription(emu):
    ml = ml_client("jp-chat", sub=SUB_JAPAN)
    with pytest.raises(HttpResponseError) as err:
        ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="medium", model_id=MISTRAL_MEDIUM)).result()
    assert "AvailabilityNotInRegion" in str(err.value)
    [listed] = list(ml.marketplace_subscriptions.list())
    assert (listed.name, listed.provisioning_state, listed.status) == ("medium", "failed", "unsubscribed")  # azure-ai-ml lower-cases them
    raw = arm_call("GET", project_path("jp-chat", sub=SUB_JAPAN) + "/marketplaceSubscriptions/medium").json()["properties"]
    assert (raw["provisioningState"], raw["marketplaceSubscriptionStatus"]) == ("Failed", "Unsubscribed")
    ml.marketplace_subscriptions.begin_delete("medium").result()
    assert list(ml.marketplace_subscriptions.list()) == []
    assert [r for r in emu.control.resources() if r["kind"] == "saas"] == []  # no purchase, no SaaS resource


def test_retired_models_in_the_control_api_catalog(emu):
    catalog = {m["name"]: m for m in emu.control.models()}
    assert sorted(n for n, m in catalog.items() if m["status"] == "retired") == sorted(RETIRED)
    assert catalog["Mistral-large"]["lifecycle"] == {"legacy": "2024-12-15", "deprecated": "2025-01-15", "retired": "2025-04-15"}
    assert "francecentral" not in {r for m in catalog.values() for r in m["regions"]}
    assert catalog["mistral-document-ai-2505"]["regions"] == ["eastus2", "swedencentral"]
