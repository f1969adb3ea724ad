"""ARM's answers to what users' own scripts send (az rest, curl, SDK calls next to provision):
operations that finish on the clock, malformed ids and bodies, paging, api-versions."""
from __future__ import annotations

import time
import urllib.parse

import pytest

from tests.emulator.clients import MISTRAL_MEDIUM, SUB_GENAI, arm_call, arm_pipeline, project_path


def _error(response) -> str:
    return response.json()["error"]["code"]


def _endpoint(name: str) -> dict:
    return {"location": "eastus2", "sku": {"name": "Consumption"}, "properties": {"modelSettings": {"modelId": MISTRAL_MEDIUM}}}


def _subscribe(emu) -> None:
    put = arm_call("PUT", project_path() + "/marketplaceSubscriptions/medium-sub", body={"properties": {"modelId": MISTRAL_MEDIUM}})
    assert put.status_code == 201, put.text


def test_an_operation_nobody_polls_ends_on_its_own(emu):
    """Like `az rest --method delete`, which never polls: the DELETE ends after its paced time, so the
    next PUT of the same name is a fresh create, not a 409 against an endpoint stuck in Deleting."""
    emu.control.configure(pace={"default": {"polls": 5, "seconds": 0.2}}, retry_after_ms=50)  # ends 0.45 s after it starts
    _subscribe(emu)
    time.sleep(0.6)  # a wait, not an assertion: the purchase is past its end, and nobody polled it
    assert arm_call("PUT", project_path() + "/serverlessEndpoints/clock-chat", body=_endpoint("clock-chat")).status_code == 201
    time.sleep(0.6)
    state = emu.control.state()
    assert {(op["resource_type"], op["kind"], op["status"], op["polls"]) for op in state["operations"]} == {
        ("marketplaceSubscriptions", "create", "Succeeded", 0), ("serverlessEndpoints", "create", "Succeeded", 0)}
    deleted = arm_call("DELETE", project_path() + "/serverlessEndpoints/clock-chat")
    assert deleted.status_code == 202
    time.sleep(0.6)
    again = arm_call("PUT", project_path() + "/serverlessEndpoints/clock-chat", body=_endpoint("clock-chat"))
    assert again.status_code == 201, again.text  # a new endpoint: the delete had finished, unobserved
    kinds = [(op["kind"], op["status"], op["polls"]) for op in emu.control.state()["operations"] if op["resource_type"] == "serverlessEndpoints"]
    assert kinds[:2] == [("create", "Succeeded", 0), ("delete", "Succeeded", 0)]


def test_polling_observes_and_never_ends_an_operation_early(emu):
    """A poll counts toward the pace's polls only once the paced seconds have passed."""
    emu.control.configure(pace={"default": {"polls": 1, "seconds": 30}}, retry_after_ms=20)
    _subscribe(emu)
    for _ in range(3):
        got = arm_call("GET", project_path() + "/marketplaceSubscriptions/medium-sub")
        assert got.json()["properties"]["provisioningState"] == "Creating"


@pytest.mark.parametrize("path, code, status", [
    ("/subscriptions/not-a-guid/resourcegroups", "InvalidSubscriptionId", 400),
    ("/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", "SubscriptionNotFound", 404),
])
def test_subscription_ids_malformed_and_unknown(emu, path, code, status):
    response = arm_call("GET", path, api_version="2022-09-01")
    assert (response.status_code, _error(response)) == (status, code)


def test_a_body_that_is_not_json_is_415(emu):
    from azure.core.rest import HttpRequest

    url = f"https://management.azure.com{project_path()}/serverlessEndpoints/x?api-version=2024-10-01"
    response = arm_pipeline().send_request(HttpRequest("PUT", url, content=b"location=eastus2", headers={"Content-Type": "text/plain"}))
    assert (response.status_code, _error(response)) == (415, "UnsupportedMediaType")


def test_paging_keeps_the_filter_and_top_and_refuses_a_forged_skip_token(emu):
    path = f"/subscriptions/{SUB_GENAI}/resources"
    query = "$filter=" + urllib.parse.quote("resourceType eq 'Microsoft.MachineLearningServices/workspaces'") + "&$top=1"
    first = arm_call("GET", f"{path}?{query}", api_version="2021-04-01").json()
    assert len(first["value"]) == 1
    following = urllib.parse.parse_qs(urllib.parse.urlsplit(first["nextLink"]).query)
    assert following["$filter"] == ["resourceType eq 'Microsoft.MachineLearningServices/workspaces'"] and following["$top"] == ["1"]
    seen = [first["value"][0]["id"]]
    link = first["nextLink"]
    client = arm_pipeline()
    from azure.core.rest import HttpRequest

    while link:
        page = client.send_request(HttpRequest("GET", link)).json()
        seen += [item["id"] for item in page["value"]]
        assert all(item["type"] == "Microsoft.MachineLearningServices/workspaces" for item in page["value"])
        link = page.get("nextLink")
    everything = arm_call("GET", f"{path}?$filter=" + urllib.parse.quote("resourceType eq 'Microsoft.MachineLearningServices/workspaces'"),
                          api_version="2021-04-01").json()["value"]
    assert seen == [item["id"] for item in everything] and len(seen) >= 2
    forged = arm_call("GET", f"{path}?$skipToken=%27%3B--", api_version="2021-04-01")
    assert (forged.status_code, _error(forged)) == (400, "InvalidSkipToken")
    top = arm_call("GET", f"{path}?$top=0", api_version="2021-04-01")
    assert (top.status_code, _error(top)) == (400, "InvalidTopValue")


@pytest.mark.parametrize("path, version", [
    (project_path() + "/serverlessEndpoints", "2023-10-01"),  # a stable version from before serverless endpoints existed
    (project_path() + "/marketplaceSubscriptions", "2023-10-01"),
    (f"/subscriptions/{SUB_GENAI}/resourcegroups/rg-genai", "2099-01-01"),  # resource groups answer only Microsoft.Resources' versions
])
def test_api_versions_from_before_a_type_existed_are_refused(emu, path, version):
    response = arm_call("GET", path, api_version=version)
    assert (response.status_code, _error(response)) == (400, "NoRegisteredProviderFound")
    assert version in response.json()["error"]["message"]


def test_a_second_identical_role_assignment_is_a_conflict(emu):
    import uuid

    from tests.e2e.helpers import world_with

    emu.control.load_world(world_with(lambda w: w["role_assignments"].append(
        {"principal": "provision-ci", "role": "Owner", "subscription": "Contoso GenAI", "resource_group": "rg-genai"})))
    scope = f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai"
    existing = arm_call("GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments", api_version="2022-04-01").json()["value"][0]
    body = {"properties": {k: existing["properties"][k] for k in ("roleDefinitionId", "principalId")}}
    response = arm_call("PUT", f"{existing['properties']['scope']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                        api_version="2022-04-01", body=body)
    assert (response.status_code, _error(response)) == (409, "RoleAssignmentExists")


@pytest.mark.parametrize("body, why", [
    ({"location": "eastus2", "tags": "oops", "properties": {"modelSettings": {"modelId": MISTRAL_MEDIUM}}}, "tags must be an object of strings"),
    ({"location": "eastus2", "tags": {"n": 1}, "properties": {"modelSettings": {"modelId": MISTRAL_MEDIUM}}}, "tags must be an object of strings"),
    ({"location": "eastus2", "properties": "x"}, "properties must be an object"),
    ({"location": "eastus2", "properties": {"modelSettings": ["x"]}}, "properties.modelSettings must be an object"),
])
def test_a_malformed_body_is_400_never_500(emu, body, why):
    """A 500 would be retried by the SDKs (with back-off); a malformed body is the caller's 400 at once."""
    response = arm_call("PUT", project_path() + "/serverlessEndpoints/bad-body", body=body)
    assert (response.status_code, _error(response)) == (400, "InvalidRequestContent")
    assert why in response.json()["error"]["message"]


def test_an_operations_monitor_reports_when_it_started_and_ended_not_when_it_was_asked(emu):
    from azure.core.rest import HttpRequest

    emu.control.configure(pace={"default": {"polls": 2, "seconds": 0}}, retry_after_ms=20)
    put = arm_call("PUT", project_path() + "/marketplaceSubscriptions/medium-sub", body={"properties": {"modelId": MISTRAL_MEDIUM}})
    monitor = put.headers["Azure-AsyncOperation"]
    client = arm_pipeline()
    seen = [client.send_request(HttpRequest("GET", monitor)).json() for _ in range(4)]
    assert len({s["startTime"] for s in seen}) == 1
    ended = [s for s in seen if s["status"] == "Succeeded"]
    assert ended and len({s["endTime"] for s in ended}) == 1 and ended[0]["endTime"] >= ended[0]["startTime"]
