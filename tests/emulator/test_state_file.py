"""The state file (`serve --state`): records come back as they were written, and operations that
were running when the emulator stopped end through the operation state machine, with its rules."""
from __future__ import annotations

import json

from azure_emulator.models import MarketplaceSubscription, SaasResource, ServerlessEndpoint, to_record
from azure_emulator.operations import finish_interrupted
from azure_emulator.store import State

from .clients import MISTRAL_MEDIUM, SUB_GENAI

STAMP = {"createdAt": "2025-01-01T00:00:00.000Z", "createdBy": "a", "createdByType": "User",
         "lastModifiedAt": "2025-01-01T00:00:00.000Z", "lastModifiedBy": "a", "lastModifiedByType": "User"}


def _restart(tmp_path, *resources) -> State:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"resources": [to_record(r) for r in resources], "providers": []}))
    state = State(state_file=str(path))
    finish_interrupted(state)
    return state


def _subscription(**state: str) -> MarketplaceSubscription:
    return MarketplaceSubscription.new(SUB_GENAI, "rg-genai", "contoso-chat", "medium-sub", MISTRAL_MEDIUM, "mistral-medium-2505-offer", STAMP, **state)


def _endpoint(**state: str) -> ServerlessEndpoint:
    return ServerlessEndpoint.new(SUB_GENAI, "rg-genai", "contoso-chat", "eastus2", "medium-chat", MISTRAL_MEDIUM, STAMP, **state)


def test_a_subscription_deleted_while_stopped_suspends_the_endpoint_that_relied_on_it(tmp_path):
    saas = SaasResource.new(SUB_GENAI, "rg-genai", _subscription().saas_name, "000-000", "offer", "plan", "2025-01-01", linked=_subscription().id)
    state = _restart(tmp_path, _subscription(status="Subscribed", provisioning_state="Deleting"), saas,
                     _endpoint(provisioning_state="Succeeded", endpoint_state="Online"))
    kinds = {type(r).__name__: r for r in state.resources.values()}
    assert set(kinds) == {"ServerlessEndpoint"}  # the subscription and its SaaS resource are gone
    assert kinds["ServerlessEndpoint"].endpoint_state == "Suspended"


def test_a_purchase_interrupted_by_a_restart_ends_with_its_saas_resource(tmp_path):
    state = _restart(tmp_path, _subscription(provisioning_state="Creating"))
    found = sorted(type(r).__name__ for r in state.resources.values())
    assert found == ["MarketplaceSubscription", "SaasResource"]
    assert next(r for r in state.resources.values() if isinstance(r, MarketplaceSubscription)).status == "Subscribed"


def test_an_endpoint_interrupted_while_creating_comes_back_by_the_rules(tmp_path):
    # no subscription to the model's offer: the endpoint ends Succeeded but Suspended, not Online
    state = _restart(tmp_path, _endpoint(provisioning_state="Creating", endpoint_state="Creating"))
    (endpoint,) = state.resources.values()
    assert (endpoint.provisioning_state, endpoint.endpoint_state) == ("Succeeded", "Suspended")
