"""Providers, throttling, long-running-operation pacing, faults: what azure-core's pipeline sees."""
from __future__ import annotations


import pytest
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from azure.core.exceptions import HttpResponseError

from .clients import MISTRAL_MEDIUM, SUB_GENAI, arrived, credential, logged, ml_client

WORLD_UNREGISTERED = """
tenant: {id: 72f988bf-86f1-41af-91ab-2d7cd011db47}
subscriptions:
  - id: 6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11
    providers: {Microsoft.SaaS: NotRegistered}
    resource_groups:
      - name: rg-genai
        location: eastus2
        hubs: [{name: contoso-hub, location: eastus2, projects: [contoso-chat]}]
principals:
  - {name: provision-ci, object_id: 3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a, client_id: 9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d, secret: emulator-secret-provision-ci}
role_assignments:
  - {principal: provision-ci, role: Contributor}
models:
  - {name: mistral-medium-2505, regions: [eastus2]}
"""


def test_providers_get_and_register(emu):
    from azure.mgmt.resource.resources import ResourceManagementClient

    emu.control.load_world(WORLD_UNREGISTERED)
    client = ResourceManagementClient(credential(), SUB_GENAI)
    assert client.providers.get("Microsoft.SaaS").registration_state == "NotRegistered"
    assert client.providers.get("Microsoft.MachineLearningServices").registration_state == "Registered"
    assert client.providers.register("Microsoft.SaaS").registration_state == "Registered"
    assert client.providers.get("Microsoft.SaaS").registration_state == "Registered"


def test_missing_registration_surfaces_in_azure_ai_ml(emu):
    from azure.core.exceptions import ResourceExistsError

    emu.control.load_world(WORLD_UNREGISTERED)
    with pytest.raises(ResourceExistsError) as err:
        ml_client().marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    assert err.value.error.code == "MissingSubscriptionRegistration"
    assert "'Microsoft.SaaS'" in str(err.value)


@pytest.mark.slow
def test_missing_registration_is_auto_registered_by_the_arm_pipeline(emu):
    """409 MissingSubscriptionRegistration -> azure-mgmt-core's policy registers the RP (10 s sleep) and retries."""
    from .clients import arm_call, project_path

    emu.control.load_world(WORLD_UNREGISTERED)
    response = arm_call("PUT", project_path() + "/marketplaceSubscriptions/m", body={"properties": {"modelId": MISTRAL_MEDIUM}})
    assert response.status_code == 201
    entries = logged(emu, lambda log: any(e["method"] == "PUT" and e["status"] == 201 for e in log))
    log = [(e["method"], e["path"].rsplit("/", 1)[-1], e["status"]) for e in entries if e["kind"] == "arm"]
    assert log.index(("PUT", "m", 409)) < log.index(("POST", "register", 200)) < log.index(("PUT", "m", 201))


def test_throttling_is_absorbed_by_sdk_retries(emu):
    emu.control.configure(throttle_writes=[1, 1])  # one write token, refilled at 1/s
    ml = ml_client()
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    endpoint = ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="throttled", model_id=MISTRAL_MEDIUM)).result()
    assert endpoint.provisioning_state == "succeeded"
    log = emu.control.requests()
    throttled = [e for e in log if e["status"] == 429]
    assert throttled, "expected at least one 429"
    assert all(e["method"] != "GET" for e in throttled)


def test_throttle_headers_and_body(emu):
    from .clients import arm_call, project_path

    emu.control.configure(throttle_reads=[2, 0.5])
    first = arm_call("GET", project_path(), api_version="2024-10-01-preview")
    assert first.headers["x-ms-ratelimit-remaining-subscription-reads"] == "1"
    # azure-core retries 429s; a raw look at the wire through the control API's log:
    arm_call("GET", project_path(), api_version="2024-10-01-preview")
    arm_call("GET", project_path(), api_version="2024-10-01-preview")
    log = logged(emu, lambda log: sum(e["kind"] == "arm" and e["status"] == 200 for e in log) >= 3)  # the three calls' answers
    statuses = [e["status"] for e in log if e["kind"] == "arm"]
    assert 429 in statuses and statuses[-1] == 200


@pytest.mark.slow
def test_arm_like_pacing_honours_retry_after(emu):
    emu.control.configure(preset="arm", pace={"default": {"polls": 2, "seconds": 0}})
    told = []  # the Retry-After of every answer the SDK received for the operation's status

    def hook(response):
        if "mfeOperationsStatus" in response.http_request.url:
            told.append(response.http_response.headers.get("Retry-After"))

    # polling_interval=0: the SDK's own interval (30 s by default) is made 0, so the only thing
    # that can space its polls is the Retry-After the emulator sends; a missing or 0 Retry-After
    # makes it poll at once and the gap below fails (instead of the test taking 30 s).
    ml_client().marketplace_subscriptions.begin_create_or_update(
        MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM), polling_interval=0, raw_response_hook=hook).result()
    log = logged(emu, lambda log: sum("mfeOperationsStatus" in e["path"] for e in log) >= 2)
    polls = [e for e in log if "mfeOperationsStatus" in e["path"]]
    assert len(polls) == 2, polls  # the operation ends at its second poll: no early stop, no extra poll
    assert told == ["1", "1"], told  # what the server told the poller (the `arm` preset: Retry-After: 1)
    retry_after = int(told[0])
    # Arrivals as the server recorded them (the log's `time` is taken once the answer is written;
    # duration_ms runs from the arrival). The poller sent its second poll at least Retry-After
    # after it read the first answer, which was written after the first poll arrived: so the
    # arrivals are at least Retry-After apart. 0.999: clock granularity only. No upper bound:
    # how much longer it took is the machine's speed, not the client's behaviour.
    gap = arrived(polls[1]) - arrived(polls[0])
    assert gap >= 0.999 * retry_after, gap


def test_failed_operation_surfaces_as_sdk_error(emu):
    emu.control.faults(lro_failures=[{"resource_type": "serverlessEndpoints", "code": "InternalError", "message": "capacity exhausted", "times": 1}])
    ml = ml_client()
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    with pytest.raises(HttpResponseError) as err:
        ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="fails", model_id=MISTRAL_MEDIUM)).result()
    assert "capacity exhausted" in str(err.value)
    # A failed endpoint can be created again (adopted by the next PUT).
    again = ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="fails", model_id=MISTRAL_MEDIUM)).result()
    assert again.provisioning_state == "succeeded"


def test_transient_faults_are_retried_by_the_sdk(emu):
    emu.control.faults(error_rate=0.3, drop_rate=0.1, seed=7)
    ml = ml_client()
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="flaky", model_id=MISTRAL_MEDIUM)).result()
    emu.control.clear_faults()
    assert ml.serverless_endpoints.get("flaky").provisioning_state == "succeeded"
    statuses = {e["status"] for e in emu.control.requests()}
    assert statuses & {500, 503, 429, 0}, statuses


def test_route_fault_and_latency(emu):
    from .clients import arm_call, project_path

    latency_ms = 30
    emu.control.faults(routes=[{"method": "GET", "path": "/workspaces/contoso-chat$", "status": 404, "code": "ResourceNotFound", "times": 1}], latency_ms=latency_ms)
    assert arm_call("GET", project_path(), api_version="2024-10-01-preview").status_code == 404
    assert arm_call("GET", project_path(), api_version="2024-10-01-preview").status_code == 200
    log = logged(emu, lambda log: any(e["kind"] == "arm" and e["status"] == 200 for e in log))
    gets = [e for e in log if e["kind"] == "arm" and e["path"].endswith("/workspaces/contoso-chat")]
    assert [e["status"] for e in gets] == [404, 200], gets  # the route fault answered once (times: 1), then the workspace did
    # the server held the request that got through for latency_ms before answering it (the log's duration_ms)
    assert gets[1]["duration_ms"] >= latency_ms, gets[1]


def test_paging_follows_next_link(emu):

    for i in range(3):
        emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name=f"seeded-{i}", model_id=MISTRAL_MEDIUM)
    ml = ml_client()
    assert sorted(e.name for e in ml.serverless_endpoints.list()) == ["seeded-0", "seeded-1", "seeded-2"]
