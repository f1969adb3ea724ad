"""Resource groups and the generic resource list, through azure-mgmt-resource (what az group / az
resource call), as a pipeline principal that owns the subscription."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from .clients import SUB_GENAI, arm_call, project_path

AZ_WORLD = Path(__file__).resolve().parent / "scripts" / "az_world.yaml"
ENDPOINTS = "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints"
MODEL = "azureml://registries/azureml-mistral/models/mistral-small-2503"


@pytest.fixture
def rm(emu) -> ResourceManagementClient:
    emu.control.load_world(AZ_WORLD.read_text())
    admin = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7", "emulator-secret-pipeline-admin")
    return ResourceManagementClient(admin, SUB_GENAI)


def test_create_is_idempotent_and_keeps_its_location(rm):
    first = rm.resource_groups.create_or_update("rg-ci", {"location": "eastus2", "tags": {"env": "ci"}})
    again = rm.resource_groups.create_or_update("rg-ci", {"location": "eastus2", "tags": {"env": "ci", "team": "genai"}})
    assert first.id == again.id and again.tags == {"env": "ci", "team": "genai"}
    assert rm.resource_groups.check_existence("rg-ci") and not rm.resource_groups.check_existence("rg-nope")
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.create_or_update("rg-ci", {"location": "westeurope"})
    assert err.value.status_code == 409 and err.value.error.code == "InvalidResourceGroupLocation"
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.create_or_update("rg-none", {})
    assert err.value.status_code == 400 and err.value.error.code == "LocationRequired"


def test_list_by_tag(rm):
    rm.resource_groups.create_or_update("rg-ci", {"location": "eastus2", "tags": {"Env": "ci"}})
    rm.resource_groups.create_or_update("rg-prod", {"location": "eastus2", "tags": {"env": "prod"}})
    assert [g.name for g in rm.resource_groups.list(filter="tagName eq 'env' and tagValue eq 'ci'")] == ["rg-ci"]
    assert sorted(g.name for g in rm.resource_groups.list(filter="tagName eq 'env'")) == ["rg-ci", "rg-prod"]
    with pytest.raises(HttpResponseError) as err:
        list(rm.resource_groups.list(filter="location eq 'eastus2'"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidFilterInQueryString"


def _endpoint(emu):
    base = project_path()
    assert arm_call("PUT", f"{base}/marketplaceSubscriptions/small", body={"properties": {"modelId": MODEL}}).status_code == 201
    emu.control.configure(preset="instant")
    arm_call("GET", f"{base}/marketplaceSubscriptions/small")
    body = {"location": "eastus2", "tags": {"env": "ci"}, "sku": {"name": "Consumption"}, "properties": {"modelSettings": {"modelId": MODEL}}}
    assert arm_call("PUT", f"{base}/serverlessEndpoints/small-ep", body=body).status_code in (200, 201)


def test_generic_list_filters_by_group_type_and_tag(emu, rm, monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_ID", "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "emulator-secret-pipeline-admin")
    _endpoint(emu)
    in_group = {r.type for r in rm.resources.list_by_resource_group("rg-genai")}
    assert {ENDPOINTS, "Microsoft.MachineLearningServices/workspaces", "Microsoft.SaaS/resources"} <= in_group
    assert "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions" not in in_group  # a proxy resource: not listed
    assert [r.name for r in rm.resources.list(filter=f"resourceType eq '{ENDPOINTS}'")] == ["small-ep"]
    assert [r.name for r in rm.resources.list(filter="tagName eq 'env' and tagValue eq 'ci'")] == ["small-ep"]
    assert [r.name for r in rm.resources.list(filter="resourceGroup eq 'RG-GENAI' and name eq 'small-ep'")] == ["small-ep"]
    assert list(rm.resources.list(filter="resourceGroup eq 'rg-other'")) == []
    with pytest.raises(HttpResponseError) as caught:  # a tag value without the tag's name would match everything
        list(rm.resources.list(filter="tagValue eq 'ci'"))
    assert caught.value.error.code == "InvalidFilterInQueryString"


def test_delete_takes_what_the_group_holds(emu, rm, monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_ID", "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "emulator-secret-pipeline-admin")
    _endpoint(emu)
    rm.resource_groups.begin_delete("rg-genai").result()
    assert not rm.resource_groups.check_existence("rg-genai")
    with pytest.raises(ResourceNotFoundError):
        rm.resource_groups.get("rg-genai")
    assert [r for r in emu.control.resources() if "/resourcegroups/rg-genai/" in r["id"].lower()] == []
    assert {r.name for r in rm.resource_groups.list()} == set()  # the az world's only group is gone


def test_deleting_a_group_deletes_its_template_deployments(rm):
    deployments_sdk = pytest.importorskip("azure.mgmt.resource.deployments")
    admin = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7", "emulator-secret-pipeline-admin")
    client = deployments_sdk.DeploymentsMgmtClient(admin, SUB_GENAI)
    empty = {"properties": {"mode": "Incremental", "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                                                                 "contentVersion": "1.0.0.0", "resources": []}}}
    rm.resource_groups.create_or_update("rg-tmp", {"location": "eastus2"})
    client.deployments.begin_create_or_update("rg-tmp", "empty", empty, polling_interval=0).result()
    assert [d.name for d in client.deployments.list_by_resource_group("rg-tmp")] == ["empty"]
    rm.resource_groups.begin_delete("rg-tmp", polling_interval=0).result()
    rm.resource_groups.create_or_update("rg-tmp", {"location": "eastus2"})
    assert list(client.deployments.list_by_resource_group("rg-tmp")) == []


def test_providers_advertise_the_api_versions_their_types_answer(rm):
    from azure_emulator.versions import AUTHZ, SERVERLESS

    authz = rm.providers.get("Microsoft.Authorization")
    versions = {t.resource_type: t.api_versions for t in authz.resource_types}
    assert set(versions["roleAssignments"]) == set(AUTHZ)
    mls = {t.resource_type: t.api_versions for t in rm.providers.get("Microsoft.MachineLearningServices").resource_types}
    assert set(mls["workspaces/serverlessEndpoints"]) == set(SERVERLESS) and mls["workspaces/serverlessEndpoints"][0] == max(SERVERLESS)
