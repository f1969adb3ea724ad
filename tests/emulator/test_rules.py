"""Azure's rules for serverless deployments, as an azure-ai-ml user sees them."""
from __future__ import annotations

import pytest
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from .clients import MISTRAL_MEDIUM, MISTRAL_SMALL, PHI, SUB_EA, SUB_JAPAN, SUB_TRIAL, arm_call, ml_client, project_path


def subscribe(ml, model=MISTRAL_MEDIUM, name="mistral-medium"):
    return ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name=name, model_id=model)).result()


def deploy(ml, name, model=MISTRAL_MEDIUM):
    return ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name=name, model_id=model)).result()


def inner_code(err: HttpResponseError) -> str:
    """The MFE inner error code, read from the response body as a careful client would."""
    body = err.response.json() if err.response is not None else {}
    for info in (body.get("error") or {}).get("additionalInfo") or []:
        if info["type"] == "InnerError":
            return info["info"]["value"]["innerError"]["code"]
    return ""


def test_endpoint_name_is_unique_per_region_across_projects(emu):
    chat = ml_client("contoso-chat")
    subscribe(chat)
    deploy(chat, "shared-name")
    search = ml_client("contoso-search")  # another project, same region (East US 2)
    subscribe(search)
    with pytest.raises(HttpResponseError) as err:
        deploy(search, "Shared-Name")  # names are case-insensitive
    assert err.value.status_code == 400
    assert err.value.error.code == "UserError"
    assert inner_code(err.value) == "ServerlessEndpointNameNotAvailable"
    assert "Serverless endpoint name 'Shared-Name' is not available. Please select a different name." in str(err.value)
    # In another region the name is free (the URL differs): France Central refuses the model, not the name.
    fr = ml_client("contoso-chat-fr")
    subscribe(fr)
    with pytest.raises(HttpResponseError) as err:
        deploy(fr, "shared-name")
    assert inner_code(err.value) == "ServerlessModelNotAvailableInRegion"


def test_one_deployment_per_model_per_project(emu):
    ml = ml_client()
    subscribe(ml)
    deploy(ml, "medium-one")
    with pytest.raises(ResourceExistsError) as err:
        deploy(ml, "medium-two")
    assert inner_code(err.value) == "ServerlessEndpointModelAlreadyDeployed"
    assert "medium-one" in str(err.value)


def test_model_not_offered_in_the_hub_region(emu):
    ml = ml_client("contoso-we", rg="rg-westeurope")  # hub in West Europe
    with pytest.raises(HttpResponseError) as err:
        deploy(ml, "medium-we")
    assert inner_code(err.value) == "ServerlessModelNotAvailableInRegion"
    assert f"The requested model {MISTRAL_MEDIUM} is not available in region West Europe." in str(err.value)


def test_endpoint_needs_the_projects_marketplace_subscription(emu):
    ml = ml_client()
    with pytest.raises(HttpResponseError) as err:
        deploy(ml, "no-subscription")
    assert inner_code(err.value) == "MarketplaceSubscriptionNotFound"
    # A subscription to another offer does not count.
    subscribe(ml, MISTRAL_SMALL, "mistral-small")
    with pytest.raises(HttpResponseError):
        deploy(ml, "no-subscription")
    # A Microsoft-sold model needs none.
    assert deploy(ml, "phi", PHI).provisioning_state == "succeeded"


@pytest.mark.parametrize(
    "sub, project, needle",
    [
        (SUB_JAPAN, "jp-chat", "AvailabilityNotInRegion: Product is not available in region: JP"),
        (SUB_TRIAL, "trial-chat", "there is no valid payment method associated with this Azure subscription"),
        (SUB_EA, "ea-chat", "doesn't allow purchase of marketplace products"),
    ],
)
def test_marketplace_purchase_refused(emu, sub, project, needle):
    ml = ml_client(project, sub=sub)
    with pytest.raises(HttpResponseError) as err:
        subscribe(ml)
    assert err.value.error.code == "UserError"
    assert "Error occurred when subscribing to Marketplace" in str(err.value)
    assert needle in str(err.value)
    status = arm_call("GET", project_path(project, sub=sub) + "/marketplaceSubscriptions/mistral-medium").json()
    assert status["properties"]["provisioningState"] == "Failed"


def test_deleting_the_subscription_leaves_the_endpoint_unhealthy(emu):
    ml = ml_client()
    subscribe(ml)
    endpoint = deploy(ml, "orphaned")
    ml.marketplace_subscriptions.begin_delete("mistral-medium").result()
    body = arm_call("GET", project_path() + "/serverlessEndpoints/orphaned").json()
    assert body["properties"]["provisioningState"] == "Succeeded"
    assert body["properties"]["endpointState"] == "Suspended"
    key = ml.serverless_endpoints.get_keys("orphaned").primary_key
    import requests

    answer = requests.post(f"{endpoint.scoring_uri}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                           headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "EndpointUnhealthy"
    # Subscribing again brings it back.
    subscribe(ml)
    assert arm_call("GET", project_path() + "/serverlessEndpoints/orphaned").json()["properties"]["endpointState"] == "Online"


def test_versioned_model_id_and_unknown_model(emu):
    ml = ml_client()
    with pytest.raises(HttpResponseError) as err:
        subscribe(ml, "azureml://registries/azureml-mistral/models/Mistral-Huge")
    assert inner_code(err.value) == "ServerlessModelNotFound"
    response = arm_call("PUT", project_path() + "/serverlessEndpoints/pinned", body={
        "location": "eastus2", "sku": {"name": "Consumption"},
        "properties": {"modelSettings": {"modelId": MISTRAL_MEDIUM + "/versions/3"}}})
    assert response.status_code == 400
    assert response.json()["error"]["additionalInfo"][1]["info"]["value"]["innerError"]["code"] == "ServerlessModelVersionNotSupported"


def test_subscription_creates_the_hidden_saas_resource(emu):
    from azure.mgmt.resource.resources import ResourceManagementClient

    from .clients import SUB_GENAI, credential

    ml = ml_client()
    subscribe(ml)
    resources = ResourceManagementClient(credential(), SUB_GENAI)
    saas = list(resources.resources.list_by_resource_group("rg-genai", filter="resourceType eq 'Microsoft.SaaS/resources'"))
    assert [r.name for r in saas] == ["mistral-medium-2505-offer-contoso-chat"]
    ml.marketplace_subscriptions.begin_delete("mistral-medium").result()
    assert list(resources.resources.list_by_resource_group("rg-genai", filter="resourceType eq 'Microsoft.SaaS/resources'")) == []


def test_get_missing_endpoint_is_not_found_and_delete_is_idempotent_on_the_wire(emu):
    ml = ml_client()
    with pytest.raises(ResourceNotFoundError):
        ml.serverless_endpoints.get("nothing-here")
    assert arm_call("DELETE", project_path() + "/serverlessEndpoints/nothing-here").status_code == 204


def test_model_change_is_refused_and_content_safety_is_set_on_create(emu):
    ml = ml_client()
    subscribe(ml)
    created = arm_call("PUT", project_path() + "/serverlessEndpoints/safe", body={
        "location": "eastus2", "sku": {"name": "Consumption"}, "tags": {"team": "chat"},
        "properties": {"modelSettings": {"modelId": MISTRAL_MEDIUM}, "contentSafety": {"contentSafetyStatus": "Disabled"}}})
    assert created.status_code == 201 and "Azure-AsyncOperation" in created.headers
    body = ml.serverless_endpoints.get("safe")
    assert body.tags == {"team": "chat"}
    raw = arm_call("GET", project_path() + "/serverlessEndpoints/safe").json()
    assert raw["properties"]["contentSafety"] == {"contentSafetyStatus": "Disabled"}
    changed = arm_call("PUT", project_path() + "/serverlessEndpoints/safe", body={
        "location": "eastus2", "sku": {"name": "Consumption"}, "properties": {"modelSettings": {"modelId": MISTRAL_SMALL}}})
    assert changed.status_code == 400
    assert changed.json()["error"]["additionalInfo"][1]["info"]["value"]["innerError"]["code"] == "ServerlessEndpointModelImmutable"


def test_unsupported_api_version(emu):
    response = arm_call("GET", project_path() + "/serverlessEndpoints", api_version="2021-01-01")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "NoRegisteredProviderFound"
    response = arm_call("GET", project_path() + "/serverlessEndpoints", api_version="latest")
    assert response.json()["error"]["code"] == "InvalidApiVersionParameter"
