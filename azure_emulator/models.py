"""The emulator's resources as typed records, and its long-running operations.

Each resource type has one constructor (`new`), used by the ARM handlers and by the control
API's seeding alike, so a record is never built in two shapes. `to_record`/`from_record` give
the JSON form the state file, the control API's state dump and its PATCH use: the camelCase
field names (`modelId`, `provisioningState`), with `kind` naming the type.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Union

ML = "Microsoft.MachineLearningServices"
SAAS_TYPE = "Microsoft.SaaS/resources"


def new_key() -> str:
    return secrets.token_hex(16)  # "a 32-character string", as Azure's docs describe the keys


def workspace_id(sub: str, rg: str, ws: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ML}/workspaces/{ws}"


@dataclass
class ServerlessEndpoint:
    kind: ClassVar[str] = "serverlessEndpoints"
    id: str
    name: str
    subscription: str
    resource_group: str
    workspace: str
    location: str
    model_id: str
    system_data: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    auth_mode: str = "Key"
    content_safety: str = "Enabled"
    provisioning_state: str = "Creating"
    endpoint_state: str = "Creating"
    marketplace_subscription_id: Optional[str] = None
    uri: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, sub: str, rg: str, ws: str, location: str, name: str, model_id: str, system_data: dict[str, str], **state: Any) -> ServerlessEndpoint:
        """An endpoint of project `ws`, with fresh keys and its region's inference URI."""
        return cls(
            id=f"{workspace_id(sub, rg, ws)}/serverlessEndpoints/{name}", name=name, subscription=sub, resource_group=rg, workspace=ws,
            location=location, model_id=model_id, system_data=system_data, uri=f"https://{name.lower()}.{location}.models.ai.azure.com",
            keys={"primaryKey": new_key(), "secondaryKey": new_key()}, **state,
        )


@dataclass
class MarketplaceSubscription:
    kind: ClassVar[str] = "marketplaceSubscriptions"
    id: str
    name: str
    subscription: str
    resource_group: str
    workspace: str
    model_id: str
    saas_name: str
    system_data: dict[str, str]
    status: str = "PendingFulfillmentStart"
    provisioning_state: str = "Creating"

    @classmethod
    def new(cls, sub: str, rg: str, ws: str, name: str, model_id: str, offer: str, system_data: dict[str, str], **state: Any) -> MarketplaceSubscription:
        """A subscription of project `ws` to `offer`; its SaaS resource is named after offer and project."""
        return cls(
            id=f"{workspace_id(sub, rg, ws)}/marketplaceSubscriptions/{name}", name=name, subscription=sub, resource_group=rg, workspace=ws,
            model_id=model_id, saas_name=f"{offer}-{ws}".lower()[:64], system_data=system_data, **state,
        )


@dataclass
class SaasResource:
    """The hidden Microsoft.SaaS resource a Marketplace purchase creates (`linked`: the subscription's id)."""

    kind: ClassVar[str] = "saas"
    id: str
    name: str
    subscription: str
    resource_group: str
    publisher_id: str
    offer_id: str
    plan_id: str
    created_at: str
    status: str = "Subscribed"
    tags: dict[str, str] = field(default_factory=dict)
    linked: Optional[str] = None

    @classmethod
    def new(cls, sub: str, rg: str, name: str, publisher: str, offer: str, plan: str, created_at: str, **state: Any) -> SaasResource:
        return cls(id=f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{SAAS_TYPE}/{name}", name=name, subscription=sub, resource_group=rg,
                   publisher_id=publisher, offer_id=offer, plan_id=plan, created_at=created_at, **state)


@dataclass
class FoundryDeployment:
    """A model deployment of a Foundry resource (Microsoft.CognitiveServices/accounts/deployments)."""

    kind: ClassVar[str] = "foundryDeployments"
    id: str
    name: str
    subscription: str
    resource_group: str
    account: str
    location: str  # the account's
    model_format: str
    model_name: str
    model_version: str
    sku_name: str
    capacity: int
    system_data: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    rai_policy_name: str = "Microsoft.DefaultV2"
    version_upgrade_option: str = "OnceNewDefaultVersionAvailable"
    provisioning_state: str = "Creating"

    @classmethod
    def new(cls, sub: str, rg: str, account: str, location: str, name: str, model: tuple[str, str, str], sku: tuple[str, int],
            system_data: dict[str, str], **state: Any) -> FoundryDeployment:
        """A deployment of `model` (format, name, version) on account `account` with `sku` (name, capacity)."""
        return cls(
            id=f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{account}/deployments/{name}", name=name,
            subscription=sub, resource_group=rg, account=account, location=location, model_format=model[0], model_name=model[1],
            model_version=model[2], sku_name=sku[0], capacity=sku[1], system_data=system_data, **state,
        )


Resource = Union[ServerlessEndpoint, MarketplaceSubscription, SaasResource, FoundryDeployment]
KINDS: dict[str, type[Resource]] = {c.kind: c for c in (ServerlessEndpoint, MarketplaceSubscription, SaasResource, FoundryDeployment)}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def to_record(resource: Resource) -> dict[str, Any]:
    """The JSON form: kind first, then the fields in camelCase (deep copies: nothing shared)."""
    body = {_camel(f.name): getattr(resource, f.name) for f in dataclasses.fields(resource)}
    return {"kind": resource.kind, **_copied(body)}


def from_record(record: dict[str, Any]) -> Resource:
    """The typed resource of a JSON record (KeyError/TypeError on a record of another shape)."""
    cls = KINDS[record["kind"]]
    names = {f.name for f in dataclasses.fields(cls)}
    values = {_snake(k): v for k, v in _copied(record).items() if k != "kind"}
    return cls(**{k: v for k, v in values.items() if k in names})


def record_fields(kind: str) -> list[str]:
    """The camelCase fields of a kind, in order (what the control API may name)."""
    return [_camel(f.name) for f in dataclasses.fields(KINDS[kind])]


def _copied(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}


# --- long-running operations -------------------------------------------------------------------

@dataclass
class Pace:
    """How long a long-running operation runs: `seconds`, then `polls` poll intervals (the
    Retry-After it advertises). A client polling faster than Retry-After sees it end at its
    `polls`-th poll, never before `seconds`: what keeps the fast pace deterministic."""

    polls: int = 0
    seconds: float = 0.0


@dataclass
class Operation:
    id: str
    location: str
    subscription: str
    kind: str  # create | update | delete
    resource_id: str  # lower-case ARM id of the target
    resource_type: str  # serverlessEndpoints | marketplaceSubscriptions | foundryDeployments
    started: float  # time.monotonic()
    pace: Pace
    interval: float = 0.0  # seconds between polls the operation advertises (Retry-After)
    polls: int = 0
    status: str = "InProgress"
    error: Optional[dict[str, str]] = None  # set when the operation is to fail (or has failed)
    ended: Optional[float] = None
    start_time: str = ""  # when it started and ended, as its status monitor reports them (ISO 8601, UTC)
    end_time: str = ""

    def due(self, now: float) -> bool:
        """Whether the operation has reached its end (on the clock, or at its last allowed poll)."""
        elapsed = now - self.started
        if elapsed < self.pace.seconds:
            return False
        return self.polls >= self.pace.polls or elapsed >= self.pace.seconds + self.pace.polls * self.interval
