"""Azure's rules for serverless (MaaS) deployments that span resources: which Marketplace
subscription an endpoint relies on, when a purchase is refused, and what subscribing and
unsubscribing do to a project's endpoints. Callers hold the state lock."""
from __future__ import annotations

from typing import Optional, TypeVar

from .common import now_iso
from .models import FoundryDeployment, MarketplaceSubscription, Resource, SaasResource, ServerlessEndpoint, workspace_id
from .store import State
from .wire import being_deleted, deployment_not_available
from .worldmodel import Model

R = TypeVar("R", ServerlessEndpoint, MarketplaceSubscription, SaasResource, FoundryDeployment)


def children(state: State, cls: type[R], sub: str, rg: str, ws: str) -> list[R]:
    """The project's resources of one type, in the order they were made."""
    prefix = workspace_id(sub, rg, ws).lower() + "/"
    return [r for rid, r in state.resources.items() if isinstance(r, cls) and rid.startswith(prefix)]


def find(state: State, cls: type[R], rid: str) -> Optional[R]:
    found: Optional[Resource] = state.resources.get(rid.lower())
    return found if isinstance(found, cls) else None


def offer_of(state: State, model_id: str) -> Optional[str]:
    model = state.world.model(model_id)
    return model.offer.lower() if model else None


def is_microsoft(state: State, model_id: str) -> bool:
    model = state.world.model(model_id)
    return bool(model and model.microsoft)


def subscription_for(state: State, sub: str, rg: str, ws: str, model_id: str) -> Optional[MarketplaceSubscription]:
    """The project's live subscription to the offer of `model_id` (None: there is none)."""
    offer = offer_of(state, model_id)
    for msub in children(state, MarketplaceSubscription, sub, rg, ws):
        if offer_of(state, msub.model_id) == offer and msub.provisioning_state == "Succeeded" and msub.status == "Subscribed":
            return msub
    return None


def online_state(state: State, endpoint: ServerlessEndpoint) -> str:
    """Online while the model needs no subscription or has one; Suspended otherwise."""
    relied_on = subscription_for(state, endpoint.subscription, endpoint.resource_group, endpoint.workspace, endpoint.model_id)
    return "Online" if relied_on is not None or is_microsoft(state, endpoint.model_id) else "Suspended"


def require_deployable(model: Model) -> None:
    """A deprecated or retired model takes no new deployments or subscriptions (a legacy one still does)."""
    status = model.status()
    if status in ("deprecated", "retired"):
        raise deployment_not_available(model.id, status)


def purchase_refusal(state: State, msub: MarketplaceSubscription) -> Optional[dict[str, str]]:
    """Why Marketplace refuses the purchase (checked when the purchase completes), or None."""
    model = state.world.model(msub.model_id)
    why = marketplace_refusal(state, msub.subscription, model.offer if model else "")
    return None if why is None else {"code": "UserError", "message": "Error occurred when subscribing to Marketplace: " + why}


def marketplace_refusal(state: State, subscription: str, offer: str) -> Optional[str]:
    """Why Marketplace refuses a purchase of `offer` by the subscription (None: it does not), in Azure's
    words: the billing country, the payment method, the enrollment's policy."""
    sub = state.world.subscriptions[subscription]
    if sub.billing_country not in state.world.eligible_countries:
        return f"Cannot fetch offer information for offer '{offer}'. AvailabilityNotInRegion: Product is not available in region: {sub.billing_country}"
    eligibility = "Marketplace Subscription purchase eligibility check failed, error message ["
    if not sub.payment_method:
        return eligibility + "Purchase failed because there is no valid payment method associated with this Azure subscription. Add a valid payment method and try again.]"
    if sub.marketplace_purchases == "forbidden":
        return eligibility + ("The enrollment for this subscription doesn't allow purchase of marketplace products. Ask your enrollment "
                              "administrator to enable Azure Marketplace purchases.]")
    return None


def saas_id(msub: MarketplaceSubscription) -> str:
    return SaasResource.new(msub.subscription, msub.resource_group, msub.saas_name, "", "", "", "").id


def after_subscribe(state: State, msub: MarketplaceSubscription) -> None:
    """The purchase made its SaaS resource; an endpoint suspended for want of it comes back."""
    model = state.world.model(msub.model_id)
    saas = SaasResource.new(msub.subscription, msub.resource_group, msub.saas_name, model.publisher if model else "",
                            model.offer if model else "", model.plan if model else "", now_iso(), linked=msub.id)
    state.resources[saas.id.lower()] = saas
    offer = offer_of(state, msub.model_id)
    for ep in children(state, ServerlessEndpoint, msub.subscription, msub.resource_group, msub.workspace):
        if ep.endpoint_state == "Suspended" and offer_of(state, ep.model_id) == offer:
            ep.endpoint_state = "Online"


def after_unsubscribe(state: State, msub: MarketplaceSubscription) -> None:
    """Azure's docs: deleting a model subscription makes its endpoints unhealthy and unusable."""
    state.resources.pop(saas_id(msub).lower(), None)
    offer = offer_of(state, msub.model_id)
    for ep in children(state, ServerlessEndpoint, msub.subscription, msub.resource_group, msub.workspace):
        if offer_of(state, ep.model_id) == offer and subscription_for(state, ep.subscription, ep.resource_group, ep.workspace, ep.model_id) is None:
            ep.endpoint_state = "Suspended"


def unsubscribe_through_saas(state: State, saas: SaasResource) -> None:
    """Deleting the SaaS resource ends the Marketplace subscription it belongs to, too."""
    state.resources.pop(saas.id.lower(), None)
    linked = find(state, MarketplaceSubscription, saas.linked or "")
    if linked is not None:
        del state.resources[linked.id.lower()]
        after_unsubscribe(state, linked)


def not_deleting(resource: ServerlessEndpoint | MarketplaceSubscription, what: str) -> None:
    if resource.provisioning_state == "Deleting":
        raise being_deleted(what, resource.name)
