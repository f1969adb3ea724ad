"""Azure's rules for Foundry resources (Microsoft.CognitiveServices/accounts, kind AIServices) and
their model deployments: the account's keys and hosts, which catalog entry a deployment takes
and what a PUT body must say, quota, and the Marketplace purchase a partner model needs (refused
only when the deployment's operation ends). Callers hold the state lock."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from . import common, rules
from .common import object_of, require_resource_group
from .models import FoundryDeployment, new_key
from .store import State
from .wire import arm_error, resource_not_found
from .worldmodel import FoundryAccount, FoundryModel

CS = "Microsoft.CognitiveServices"
ACCOUNT_TYPE = f"{CS}/accounts"
DEPLOYMENT_TYPE = f"{CS}/accounts/deployments"
# Azure publishes no rule for deployment names; the emulator takes what its routes can carry.
DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$")
NAME_RULE = "A deployment name has 2 to 64 letters, digits, '_', '.' or '-', and starts with a letter or digit."
DEFAULT_RAI_POLICIES = ("Microsoft.Default", "Microsoft.DefaultV2")
UPGRADE_OPTIONS = ("OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired", "NoAutoUpgrade")
HOST = re.compile(r"^([a-z0-9-]+)\.(services\.ai|openai|cognitiveservices)\.azure\.com$")
RUNNING = ("Accepted", "Creating", "Deleting")


def account_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ACCOUNT_TYPE}/{name}"


def require_account(state: State, sub: str, rg: str, name: str) -> FoundryAccount:
    require_resource_group(state, sub, rg)
    account = state.world.accounts.get((sub.lower(), rg.lower(), name.lower()))
    if account is None:
        raise resource_not_found(ACCOUNT_TYPE, name, rg)
    return account


def keys(state: State, account: FoundryAccount) -> dict[str, str]:
    """The account's two keys (made when first asked for; every deployment on it shares them)."""
    return state.account_keys.setdefault(account.id.lower(), {"key1": new_key(), "key2": new_key()})


def account_for_host(state: State, host: str) -> Optional[FoundryAccount]:
    """The account whose custom subdomain a host is ({sub}.services.ai / .openai / .cognitiveservices.azure.com)."""
    m = HOST.match(host)
    return state.world.account_by_subdomain(m.group(1)) if m else None


def deployments(state: State, account: FoundryAccount) -> list[FoundryDeployment]:
    """The account's deployments, in the order they were made."""
    prefix = account.id.lower() + "/deployments/"
    return [r for rid, r in state.resources.items() if isinstance(r, FoundryDeployment) and rid.startswith(prefix)]


def deployment(state: State, account: FoundryAccount, name: str) -> Optional[FoundryDeployment]:
    return rules.find(state, FoundryDeployment, f"{account.id}/deployments/{name}")


def entry(state: State, fmt: str, name: str, version: str) -> Optional[FoundryModel]:
    """The catalog's entry for a model version (the name matched without regard to case)."""
    return next((m for m in state.world.foundry_models if m.format == fmt and m.name.lower() == name.lower() and m.version == version), None)


def default_version(state: State, account: FoundryAccount, fmt: str, name: str) -> str:
    """The version Azure assigns when a deployment names none: the default one the account's region offers."""
    named = [m for m in state.world.foundry_models if m.format == fmt and m.name.lower() == name.lower()]
    offered = [m for m in named if account.location in m.regions()] or named
    chosen = next((m for m in offered if m.default), offered[-1] if offered else None)
    return chosen.version if chosen else ""


@dataclass
class Put:
    """A deployment PUT body, as the resource provider reads it."""

    model: FoundryModel
    sku: str
    capacity: int
    rai_policy: Optional[str]
    upgrade: Optional[str]
    tags: Optional[dict[str, str]]


def _text(value: Any, path: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise arm_error("InvalidRequestContent", why=f": '{path}' must be a non-empty string")
    return value


def tags_of(value: Any) -> Optional[dict[str, str]]:
    """The tags a PUT or PATCH sets; None when it leaves them as they are."""
    return None if value is None else common.tags_of(value)


def sku_of(raw: Any) -> tuple[str, Optional[int]]:
    """(name, capacity) of a body's top-level `sku`. Without one the resource provider falls back to
    Standard (a `sku` inside `properties` is not read at all)."""
    sku = object_of(raw, "sku") or {"name": "Standard"}
    name = _text(sku.get("name"), "sku.name")
    capacity = sku.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool)):
        raise arm_error("InvalidRequestContent", why=": 'sku.capacity' must be an integer")
    return name, capacity


def checked_put(state: State, account: FoundryAccount, name: str, body: dict[str, Any], existing: Optional[FoundryDeployment]) -> Put:
    """What a deployment PUT asks for, or the resource provider's 400."""
    if not DEPLOYMENT_NAME.match(name):
        raise arm_error("InvalidResourceName", name=name[:100], rule=NAME_RULE)
    props = object_of(body.get("properties"), "properties")
    raw_model = object_of(props.get("model"), "properties.model")
    if not raw_model:
        raise arm_error("InvalidResourceProperties", message="The deployment's 'properties.model' (format, name, version) is required.")
    fmt, model_name = _text(raw_model.get("format"), "properties.model.format"), _text(raw_model.get("name"), "properties.model.name")
    version = _text(raw_model.get("version"), "properties.model.version", required=False) or default_version(state, account, fmt, model_name)
    model = entry(state, fmt, model_name, version)
    if model is None:
        raise arm_error("DeploymentModelNotSupported", format=fmt, name=model_name, version=version)
    if existing is not None and existing.model_name.lower() != model.name.lower():
        raise arm_error("InvalidResourceProperties", message=f"The model of deployment '{existing.name}' is {existing.model_name}; it cannot be "
                        f"changed to {model.name}. Create a new deployment for the other model.")
    sku, capacity = sku_of(body.get("sku"))
    if sku not in model.skus:
        raise arm_error("InvalidResourceProperties", message=f"The specified SKU '{sku}' of account deployment is not supported by the model "
                        f"'{model.name}' version: '{model.version}'.")
    if account.location not in model.skus[sku]:
        raise arm_error("InvalidResourceProperties", message=f"The specified SKU '{sku}' for model '{model.name} {model.version}' is not supported "
                        f"in this region '{account.location}'.")
    if existing is None and model.lifecycle in ("Deprecating", "Deprecated"):
        raise arm_error("ServiceModelDeprecating", publisher=model.publisher, format=model.format, name=model.name, version=model.version)
    default, minimum, maximum = model.capacity
    capacity = default if capacity is None else capacity
    if not minimum <= capacity <= maximum:
        raise arm_error("InvalidCapacity", capacity=capacity, minimum=minimum, maximum=maximum)
    rai = props.get("raiPolicyName")
    if rai is not None and (not isinstance(rai, str) or rai not in (*DEFAULT_RAI_POLICIES, *account.rai_policies)):
        known = ", ".join((*DEFAULT_RAI_POLICIES, *account.rai_policies))
        raise arm_error("InvalidResourceProperties", message=f"The RAI policy '{str(rai)[:100]}' does not exist on account '{account.name}' "
                        f"(policies: {known}).")
    upgrade = props.get("versionUpgradeOption")
    if upgrade is not None and upgrade not in UPGRADE_OPTIONS:
        raise arm_error("InvalidResourceProperties", message=f"The versionUpgradeOption '{str(upgrade)[:100]}' is not one of {', '.join(UPGRADE_OPTIONS)}.")
    return Put(model, sku, capacity, rai, upgrade, tags_of(body.get("tags")))


def require_quota(state: State, account: FoundryAccount, name: str, model: FoundryModel, sku: str, capacity: int) -> None:
    """InsufficientQuota when the subscription's quota for the model and SKU in the account's region is
    used up by its other deployments (every account of the subscription in that region counts)."""
    usage = model.usage_name(sku)
    limit = state.world.subscriptions[account.subscription].foundry_quota.get(account.location, {}).get(usage, model.quota)
    used = sum(
        d.capacity for d in state.resources.values()
        if isinstance(d, FoundryDeployment) and d.subscription == account.subscription and d.location == account.location
        and d.provisioning_state != "Failed" and not (d.account.lower() == account.name.lower() and d.name == name)
        and (entry(state, d.model_format, d.model_name, d.model_version) or model).usage_name(d.sku_name) == usage
    )
    if used + capacity > limit:
        shown = f"Tokens Per Minute (thousands) - {model.name} - {sku}"
        raise arm_error("InsufficientQuota", need=capacity, quota=shown, available=max(0, limit - used), used=used, limit=limit)


def late_refusal(state: State, dep: FoundryDeployment) -> Optional[dict[str, str]]:
    """The error a deployment's create ends with when its partner model needs a Marketplace purchase
    the subscription cannot make (the PUT itself was accepted: the failure shows only when polling)."""
    model = entry(state, dep.model_format, dep.model_name, dep.model_version)
    if model is None or not model.marketplace:
        return None
    why = rules.marketplace_refusal(state, dep.subscription, f"{model.name.lower()}-offer")
    if why is None:
        return None
    return {"code": "MarketplaceSubscriptionCannotBeCompleted", "message": "Error occurred when subscribing to Marketplace: " + why}
