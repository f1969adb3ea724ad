"""ARM template deployments through the real azure-mgmt-resource-deployments SDK, unchanged:
the docs' serverless-endpoint template validates, previews (what-if), deploys the Marketplace
subscription and the endpoint as the caller, and answers its outputs and operations."""
from __future__ import annotations

import copy
import json
import pathlib
import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from .clients import MISTRAL_MEDIUM, SUB_GENAI, credential, ml_client

deployments_sdk = pytest.importorskip("azure.mgmt.resource.deployments")  # azure-mgmt-resource 26 moved deployments here

DOCS_TEMPLATE = json.loads((pathlib.Path(__file__).parent / "templates" / "serverless-endpoint.json").read_text())
PARAMS = {"projectName": {"value": "contoso-chat"}, "modelId": {"value": MISTRAL_MEDIUM}}
RG = "rg-genai"


def client(principal: str | None = None) -> Any:
    return deployments_sdk.DeploymentsMgmtClient(credential(principal), SUB_GENAI)


def deployment(template: dict[str, Any] = DOCS_TEMPLATE, parameters: dict[str, Any] = PARAMS) -> dict[str, Any]:
    return {"properties": {"template": template, "parameters": parameters, "mode": "Incremental"}}


def test_docs_template_deploys_subscription_and_endpoint(emu):
    done = client().deployments.begin_create_or_update(RG, "serverless", deployment(), polling_interval=0).result()
    assert done.properties.provisioning_state == "Succeeded"
    endpoint = ml_client().serverless_endpoints.get("myserverless-text-1234ss")
    assert done.properties.outputs["endpointUri"]["value"] == endpoint.scoring_uri
    subscription = ml_client().marketplace_subscriptions.get("mistral-medium-2505-subscription")
    assert subscription.status == "subscribed"
    assert {r.id.rsplit("/", 2)[-2] for r in done.properties.output_resources} == {"marketplaceSubscriptions", "serverlessEndpoints"}


def test_operations_list_each_resource_and_the_outputs(emu):
    c = client()
    c.deployments.begin_create_or_update(RG, "serverless", deployment(), polling_interval=0).result()
    ops = list(c.deployment_operations.list(RG, "serverless"))
    kinds = [(o.properties.provisioning_operation, (o.properties.target_resource.resource_type if o.properties.target_resource else None)) for o in ops]
    assert kinds == [
        ("Create", "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions"),
        ("Create", "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints"),
        ("EvaluateDeploymentOutput", None),
    ]
    assert all(o.properties.provisioning_state == "Succeeded" for o in ops)
    assert [d.name for d in c.deployments.list_by_resource_group(RG)] == ["serverless"]


def test_list_keys_output(emu):
    template = copy.deepcopy(DOCS_TEMPLATE)
    endpoint_id = "resourceId('Microsoft.MachineLearningServices/workspaces/serverlessEndpoints', parameters('projectName'), parameters('endpointName'))"
    template["outputs"]["primaryKey"] = {"type": "securestring", "value": f"[listKeys({endpoint_id}, '2024-04-01-preview').primaryKey]"}
    done = client().deployments.begin_create_or_update(RG, "keys", deployment(template), polling_interval=0).result()
    assert done.properties.outputs["primaryKey"]["value"] == ml_client().serverless_endpoints.get_keys("myserverless-text-1234ss").primary_key


def test_what_if_lists_the_changes(emu):
    c = client()
    before = c.deployments.begin_what_if(RG, "preview", deployment(), polling_interval=0).result()
    assert sorted((ch.change_type, ch.resource_id.rsplit("/", 2)[-2]) for ch in before.changes) == [
        ("Create", "marketplaceSubscriptions"), ("Create", "serverlessEndpoints")]
    c.deployments.begin_create_or_update(RG, "serverless", deployment(), polling_interval=0).result()
    again = c.deployments.begin_what_if(RG, "preview", deployment(), polling_interval=0).result()
    assert [ch.change_type for ch in again.changes] == ["NoChange", "NoChange"]


def test_validate_refuses_an_unsupported_type_by_name(emu):
    template = copy.deepcopy(DOCS_TEMPLATE)
    template["resources"].append({"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "stcontoso", "location": "eastus2"})
    with pytest.raises(HttpResponseError) as caught:
        client().deployments.begin_validate(RG, "bad", deployment(template)).result()
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidTemplateDeployment"
    assert "Microsoft.Storage/storageAccounts" in str(caught.value) and "resources[2]" in str(caught.value)
    ok = client().deployments.begin_validate(RG, "good", deployment()).result()
    assert ok.properties.provisioning_state == "Succeeded"


def test_an_unknown_function_is_invalid_template(emu):
    template = copy.deepcopy(DOCS_TEMPLATE)
    template["variables"]["modelName"] = "[lastSegment(parameters('modelId'))]"
    with pytest.raises(HttpResponseError) as caught:
        client().deployments.begin_create_or_update(RG, "bad", deployment(template), polling_interval=0).result()
    assert caught.value.error.code == "InvalidTemplate"
    assert "'lastSegment'" in caught.value.error.message


def test_resources_are_deployed_as_the_caller(emu):
    """Azure AI Developer may deploy but not sign a Marketplace offer: the deployment fails on the
    subscription, the endpoint is never attempted, and the operations say why."""
    c = client("ai-developer-only")
    with pytest.raises(HttpResponseError) as caught:
        c.deployments.begin_create_or_update(RG, "as-caller", deployment(), polling_interval=0).result()
    assert "DeploymentFailed" in str(caught.value) and "LinkedAuthorizationFailed" in str(caught.value)
    ops = list(c.deployment_operations.list(RG, "as-caller"))
    assert [o.properties.provisioning_state for o in ops] == ["Failed"]
    assert c.deployments.get(RG, "as-caller").properties.provisioning_state == "Failed"


def test_deployment_finishes_without_anyone_polling(emu):
    c = client()
    c.deployments.begin_create_or_update(RG, "unpolled", deployment(), polling=False)
    deadline = time.monotonic() + 30
    while c.deployments.get(RG, "unpolled").properties.provisioning_state not in ("Succeeded", "Failed") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert c.deployments.get(RG, "unpolled").properties.provisioning_state == "Succeeded"


def test_delete_forgets_the_deployment_not_its_resources(emu):
    c = client()
    c.deployments.begin_create_or_update(RG, "gone", deployment(), polling_interval=0).result()
    c.deployments.begin_delete(RG, "gone", polling_interval=0).result()
    with pytest.raises(HttpResponseError) as caught:
        c.deployments.get(RG, "gone")
    assert caught.value.error.code == "DeploymentNotFound"
    assert ml_client().serverless_endpoints.get("myserverless-text-1234ss").name == "myserverless-text-1234ss"


def test_a_resource_the_provider_refuses_fails_the_deployment_it_never_hangs(emu):
    """A malformed resource body (tags that are not an object of strings) is the provider's 400, and
    the deployment ends Failed naming it: it never stays Running, and it can be deleted."""
    template = copy.deepcopy(DOCS_TEMPLATE)
    template["resources"][1]["tags"] = "oops"
    c = client()
    with pytest.raises(HttpResponseError) as caught:
        c.deployments.begin_create_or_update(RG, "bad-tags", deployment(template), polling_interval=0).result()
    assert "tags must be an object of strings" in str(caught.value)
    assert c.deployments.get(RG, "bad-tags").properties.provisioning_state == "Failed"
    c.deployments.begin_delete(RG, "bad-tags", polling_interval=0).result()
    assert [d.name for d in c.deployments.list_by_resource_group(RG)] == []


@pytest.mark.parametrize("api_version", ["2019-05-10", "2020-08-01", "2025-04-01"])
def test_what_if_is_answered_at_every_version_the_deployments_take(emu, api_version):
    """The monitor of a what-if is polled with the api-version of the request that started it."""
    from azure.core.rest import HttpRequest

    from .clients import arm_call, arm_pipeline

    path = f"/subscriptions/{SUB_GENAI}/resourcegroups/{RG}/providers/Microsoft.Resources/deployments/preview/whatIf"
    started = arm_call("POST", path, api_version=api_version, body=deployment())
    assert started.status_code == 202, started.text()
    polled = arm_pipeline().send_request(HttpRequest("GET", started.headers["Location"]))
    assert polled.status_code in (200, 202), polled.text()
