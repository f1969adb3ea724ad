"""Reading ARM's JSON and a cloud's metadata (pure)."""
from __future__ import annotations

import pytest

from provision.cloud import PUBLIC_CLOUD, cloud_from_metadata
from provision.errors import AzureError
from provision.live import Endpoint, MarketplaceSubscription, Workspace

ENDPOINT = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/p/serverlessEndpoints/e",
    "name": "e", "location": "East US 2", "tags": {"provision:managed": "true"},
    "properties": {"modelSettings": {"modelId": "azureml://registries/azureml-mistral/models/Mistral-large"}, "provisioningState": "Succeeded",
                   "endpointState": "Online", "contentSafety": {"contentSafetyStatus": "Disabled"},
                   "inferenceEndpoint": {"uri": "https://e.eastus2.models.ai.azure.com"}, "marketplaceSubscriptionId": "/x/sub"},
}


def test_endpoint_from_arm():
    e = Endpoint.from_arm(ENDPOINT)
    assert (e.location, e.content_safety, e.uri, e.managed, e.marketplace_subscription_id) == ("eastus2", False, "https://e.eastus2.models.ai.azure.com", True, "/x/sub")
    bare = Endpoint.from_arm({"id": "i", "name": "n"})
    assert (bare.provisioning_state, bare.content_safety, bare.uri, bare.managed) == ("Unknown", None, None, False)


def test_subscription_and_workspace_from_arm():
    s = MarketplaceSubscription.from_arm({"id": "i", "name": "Mistral-large-provision", "properties": {
        "modelId": "azureml://registries/azureml-mistral/models/Mistral-large", "marketplaceSubscriptionStatus": "Subscribed", "provisioningState": "Succeeded", "marketplacePlan": {"offerId": "o"}}})
    assert (s.status, s.offer_id, s.owned_by("default"), s.owned_by("team-b")) == ("Subscribed", "o", True, False)
    w = Workspace.from_arm({"id": "i", "name": "p", "kind": "Project", "location": "francecentral", "properties": {"hubResourceId": "/h"}})
    assert (w.kind, w.location, w.hub_id) == ("Project", "francecentral", "/h")


class Answer:
    def __init__(self, data, status=200):
        self.data, self.status = data, status

    def raise_for_status(self):
        if self.status >= 400:
            raise RuntimeError(self.status)

    def json(self):
        return self.data


class Session:
    def __init__(self, answer):
        self.answer = answer

    def get(self, url, timeout):
        return self.answer


def test_cloud_metadata_list_and_object_forms():
    url = "https://127.0.0.1:8443/metadata/endpoints?api-version=2019-05-01"
    cloud = {"name": "Stack", "resourceManager": "https://127.0.0.1:8443/", "authentication": {"loginEndpoint": "https://login.stack.example/", "audiences": ["https://stack/"]}}
    other = {"name": "Other", "resourceManager": "https://elsewhere/"}
    for answer in ([other, cloud], cloud):
        c = cloud_from_metadata(url, Session(Answer(answer)))
        assert (c.name, c.arm, c.authority, c.scope) == ("Stack", "https://127.0.0.1:8443", "login.stack.example", "https://stack/.default")
    assert PUBLIC_CLOUD.scope == "https://management.azure.com/.default"
    with pytest.raises(AzureError) as err:
        cloud_from_metadata(url, Session(Answer({}, 404)))
    assert "ARM_CLOUD_METADATA_URL" in str(err.value) and err.value.code == "CloudMetadataUnavailable"


class Html:
    """What a TLS-inspecting proxy or a captive portal answers in Azure's place."""

    status_code = 200
    content = b"<html><body>Please sign in to the guest network</body></html>"
    headers = {"Content-Type": "text/html; charset=utf-8"}

    def raise_for_status(self):
        pass

    def json(self):
        import json

        return json.loads(self.content)


class HtmlClient:
    def send_request(self, request):
        return Html()


@pytest.mark.parametrize("read", ["get_workspace", "list_endpoints", "list_keys"])
def test_a_2xx_answer_that_is_not_json_is_an_azure_error_naming_the_host(monkeypatch, read):
    from provision.errors import explain
    from provision.gateway import Gateway

    gateway = Gateway(environ={})
    monkeypatch.setattr(gateway, "_arm_client", lambda: HtmlClient())
    project = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/p"
    call = {"get_workspace": lambda: gateway.get_workspace(project), "list_endpoints": lambda: gateway.list_endpoints(project),
            "list_keys": lambda: gateway.list_keys(project, "e")}[read]
    with pytest.raises(AzureError) as caught:
        call()
    assert (caught.value.code, caught.value.status) == ("UnexpectedResponse", 200)
    assert explain(caught.value) == (
        "UnexpectedResponse: management.azure.com answered HTTP 200 with text/html, not a JSON object: something other than Azure answered "
        "(fix: a proxy or gateway answered instead of Azure (a TLS-inspecting proxy, a captive portal): check HTTPS_PROXY / NO_PROXY, or let Azure's hosts through)")


def test_a_management_sdk_that_cannot_parse_an_answer_says_it_was_not_azure():
    from azure.core.exceptions import DecodeError

    from provision.gateway import parse_azure_error

    class Answer:
        status_code, reason, headers = 200, "OK", {"Content-Type": "text/html"}

    error = parse_azure_error(DecodeError("JSON is invalid", response=Answer()), "https://management.azure.com/subscriptions/s")
    assert (error.code, error.status, str(error)) == (
        "UnexpectedResponse", 200, "management.azure.com answered HTTP 200 with text/html, not a JSON object: something other than Azure answered")
