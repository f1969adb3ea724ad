"""What is live in Azure, as plain typed values: what the gateway reads, what checks and the
plan look at. No SDK types leak past the gateway; `from_arm` reads ARM's JSON (pure)."""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Iterable, Mapping, Optional

from .catalog import RegistryModel
from .errors import AzureError
from .names import TextEnum
from .secret import Secret

MANAGED_TAG = "provision:managed"  # on every endpoint the tool creates; value "true"
DEPLOYMENT_TAG = "provision:deployment"  # the spec's deployment name
STACK_TAG = "provision:stack"  # the spec's stack; endpoints of provision before stacks have none: the default stack
DEFAULT_STACK = "default"
SUBSCRIPTION_SUFFIX = "-provision"  # Marketplace subscriptions have no tags: their exact name marks ours


def subscription_name(model_name: str, stack: str) -> str:
    """The name provision gives the Marketplace subscription it makes for a model, per stack."""
    return f"{model_name}{SUBSCRIPTION_SUFFIX}" if stack == DEFAULT_STACK else f"{model_name}-{stack}{SUBSCRIPTION_SUFFIX}"


def project_id(subscription: str, resource_group: str, project: str) -> str:
    """A hub-based project's ARM id."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{project}"


def account_id(subscription: str, resource_group: str, account: str) -> str:
    """A Foundry resource's ARM id (Microsoft.CognitiveServices/accounts, kind AIServices)."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.CognitiveServices/accounts/{account}"


def owned(tags: Mapping[str, str], name: str, stack: str, deployment: Optional[str] = None) -> bool:
    """Every mark exact: managed, this stack, and the deployment tag naming the resource (and
    `deployment`, when given). A partial or forged mark is not ownership."""
    if tags.get(MANAGED_TAG) != "true" or tags.get(STACK_TAG, DEFAULT_STACK) != stack:
        return False
    tag = tags.get(DEPLOYMENT_TAG)
    return tag == name and (deployment is None or tag == deployment)


MLS = "microsoft.machinelearningservices"  # resource provider namespaces, as keys (lower case)
SAAS = "microsoft.saas"
COGNITIVE = "microsoft.cognitiveservices"
NAMESPACES = {MLS: "Microsoft.MachineLearningServices", SAAS: "Microsoft.SaaS", COGNITIVE: "Microsoft.CognitiveServices"}  # key -> as Azure spells it


@dataclass(frozen=True)
class Identity:
    object_id: str
    tenant_id: str
    kind: str  # service principal | user | managed identity
    name: str  # appid, upn or the object id when nothing better is known


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    kind: str  # Hub | Project | Default | ...
    location: str
    hub_id: Optional[str]

    @classmethod
    def from_arm(cls, data: Mapping[str, Any]) -> "Workspace":
        props = data.get("properties") or {}
        return cls(
            id=data["id"],
            name=data["name"],
            kind=str(data.get("kind") or "Default"),
            location=str(data.get("location") or "").replace(" ", "").lower(),
            hub_id=props.get("hubResourceId"),
        )


class Marked:
    """What provision's marks (tags) say about a resource that carries them."""

    name: str
    tags: Mapping[str, str]

    @property
    def managed(self) -> bool:
        """Marked by provision (by some stack): the managed tag exactly "true"."""
        return self.tags.get(MANAGED_TAG) == "true"

    @property
    def stack(self) -> Optional[str]:
        """The stack that made it; None when provision did not."""
        return self.tags.get(STACK_TAG, DEFAULT_STACK) if self.managed else None

    def owned_by(self, stack: str, deployment: Optional[str] = None) -> bool:
        return owned(self.tags, self.name, stack, deployment)


@dataclass(frozen=True)
class Endpoint(Marked):
    id: str
    name: str
    model_id: str
    location: str
    tags: Mapping[str, str]
    provisioning_state: str
    endpoint_state: str
    content_safety: Optional[bool]
    uri: Optional[str]
    marketplace_subscription_id: Optional[str]

    def uses(self, sub: "MarketplaceSubscription") -> bool:
        """Relies on the subscription: names it, or serves its model."""
        return (self.marketplace_subscription_id or "").lower() == sub.id.lower() or self.model_id.lower() == sub.model_id.lower()

    @classmethod
    def from_arm(cls, data: Mapping[str, Any]) -> "Endpoint":
        props = data.get("properties") or {}
        safety = ((props.get("contentSafety") or {}).get("contentSafetyStatus") or "")
        return cls(
            id=data["id"],
            name=data["name"],
            model_id=((props.get("modelSettings") or {}).get("modelId") or ""),
            location=str(data.get("location") or "").replace(" ", "").lower(),
            tags=dict(data.get("tags") or {}),
            provisioning_state=str(props.get("provisioningState") or "Unknown"),
            endpoint_state=str(props.get("endpointState") or "Unknown"),
            content_safety={"enabled": True, "disabled": False}.get(safety.lower()),
            uri=(props.get("inferenceEndpoint") or {}).get("uri"),
            marketplace_subscription_id=props.get("marketplaceSubscriptionId"),
        )


@dataclass(frozen=True)
class MarketplaceSubscription:
    id: str
    name: str
    model_id: str
    status: str  # Subscribed | Suspended | Unsubscribed | PendingFulfillmentStart
    provisioning_state: str
    offer_id: str = ""

    @property
    def model_name(self) -> str:
        return self.model_id.rsplit("/", 1)[-1]

    def owned_by(self, stack: str) -> bool:
        """Subscriptions carry no tags: provision's are exactly the name it gives the model's, per stack."""
        return bool(self.model_id) and self.name == subscription_name(self.model_name, stack)

    @classmethod
    def from_arm(cls, data: Mapping[str, Any]) -> "MarketplaceSubscription":
        props = data.get("properties") or {}
        return cls(
            id=data["id"],
            name=data["name"],
            model_id=str(props.get("modelId") or ""),
            status=str(props.get("marketplaceSubscriptionStatus") or "Unknown"),
            provisioning_state=str(props.get("provisioningState") or "Unknown"),
            offer_id=str((props.get("marketplacePlan") or {}).get("offerId") or ""),
        )


def subscription_of(model_id: str, endpoint: Optional[Endpoint], subscriptions: Iterable[MarketplaceSubscription]) -> Optional[MarketplaceSubscription]:
    """The Marketplace subscription a deployment of `model_id` relies on: the one its endpoint
    names, else the project's subscription to the model (whatever its name)."""
    subscriptions = tuple(subscriptions)
    if endpoint is not None and endpoint.marketplace_subscription_id:
        named = next((s for s in subscriptions if s.id.lower() == endpoint.marketplace_subscription_id.lower()), None)
        if named is not None:
            return named
    return next((s for s in subscriptions if s.model_id.lower() == model_id.lower()), None)


FOUNDRY_FORMAT = "Mistral AI"  # the model format of Mistral's models on Foundry resources


@dataclass(frozen=True)
class FoundryAccount:
    """A Foundry resource (Microsoft.CognitiveServices/accounts, kind AIServices)."""

    id: str
    name: str
    kind: str
    location: str
    base_url: str  # https://{subdomain}.services.ai.azure.com, no trailing slash ("" when the account has no custom subdomain)

    @property
    def inference_url(self) -> str:
        """The Azure AI model inference endpoint every deployment of the account answers on (model = deployment name)."""
        return f"{self.base_url}/models"

    @property
    def openai_url(self) -> str:
        """The OpenAI-compatible base URL (openai's `OpenAI(base_url=…)`)."""
        return f"{self.base_url}/openai/v1"

    @classmethod
    def from_arm(cls, data: Mapping[str, Any]) -> "FoundryAccount":
        props = data.get("properties") or {}
        endpoints = props.get("endpoints") or {}
        base = str(endpoints.get("Azure AI Model Inference API") or endpoints.get("AI Foundry API") or "")
        if not base and props.get("customSubDomainName"):
            base = f"https://{props['customSubDomainName']}.services.ai.azure.com"
        return cls(data["id"], data["name"], str(data.get("kind") or ""), str(data.get("location") or "").replace(" ", "").lower(), base.rstrip("/"))


@dataclass(frozen=True)
class AccountModel:
    """One entry of a Foundry resource's model list: a model version and the SKUs it deploys with there."""

    format: str
    name: str
    version: str
    default: bool  # the version a deployment that names none gets
    skus: tuple[str, ...]
    max_capacity: Optional[int]
    lifecycle: str  # GenerallyAvailable | Preview | Deprecating | Deprecated | Legacy | Stable | ""

    @classmethod
    def from_arm(cls, data: Mapping[str, Any]) -> "AccountModel":
        nested = data.get("model")
        m: Mapping[str, Any] = nested if isinstance(nested, dict) else data
        skus = tuple(str(s.get("name") or "") for s in m.get("skus") or () if isinstance(s, dict))
        caps = [((s.get("capacity") or {}).get("maximum")) for s in m.get("skus") or () if isinstance(s, dict)]
        return cls(str(m.get("format") or ""), str(m.get("name") or ""), str(m.get("version") or ""), bool(m.get("isDefaultVersion")),
                   skus, max((c for c in caps if isinstance(c, int)), default=None), str(m.get("lifecycleStatus") or ""))


@dataclass(frozen=True)
class FoundryDeployment(Marked):
    """A model deployment on a Foundry resource (accounts/deployments)."""

    id: str
    name: str
    model_format: str
    model_name: str
    model_version: str
    sku: str
    capacity: Optional[int]
    content_filter: Optional[str]  # raiPolicyName
    provisioning_state: str
    tags: Mapping[str, str]

    @classmethod
    def from_arm(cls, data: Mapping[str, Any]) -> "FoundryDeployment":
        props = data.get("properties") or {}
        model = props.get("model") or {}
        sku = data.get("sku") or {}
        capacity = sku.get("capacity")
        return cls(data["id"], data["name"], str(model.get("format") or ""), str(model.get("name") or ""), str(model.get("version") or ""),
                   str(sku.get("name") or ""), capacity if isinstance(capacity, int) else None, props.get("raiPolicyName"),
                   str(props.get("provisioningState") or "Unknown"), dict(data.get("tags") or {}))


@dataclass(frozen=True)
class SaasResource:
    """The Microsoft.SaaS resource a Marketplace subscription creates in the resource group (billing)."""

    id: str
    name: str
    offer_id: str
    status: str  # Subscribed | Unsubscribed | Suspended | ...


@dataclass(frozen=True)
class ChatResult:
    ok: bool
    status: int  # HTTP status, 0 when the endpoint could not be reached
    latency_ms: float
    model: str
    finish_reason: str
    error: str  # one line, never the key


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]


def role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def subscription_wide(a: "RoleAssignment") -> bool:
    """An assignment that applies to the whole subscription: at it, or above (management group, root)."""
    return "/resourcegroups/" not in a.scope.lower()


def covers(scope: str, target: str) -> bool:
    """An assignment at `scope` applies to `target` (the same, or above it)."""
    scope, target = scope.rstrip("/").lower(), target.rstrip("/").lower()
    if scope == "" or scope.startswith("/providers/microsoft.management/managementgroups/"):
        return True  # the root or a management group: refresh only reads assignments that apply to the spec's scopes
    return target == scope or target.startswith(scope + "/")


@dataclass(frozen=True)
class RoleDefinition:
    id: str  # the GUID, lower case
    name: str
    permissions: tuple["Permission", ...]  # control-plane blocks (actions, notActions)


@dataclass(frozen=True)
class Keys:
    primary: Secret
    secondary: Secret


class Read(TextEnum):
    """What refresh reads; a failed read is recorded under its name, with Azure's error."""

    PROJECT = "project"
    HUB = "hub"
    ENDPOINTS = "endpoints"
    MARKETPLACE = "marketplace subscriptions"
    ASSIGNMENTS = "role assignments"
    PERMISSIONS = "permissions"
    PROVIDER = "provider"
    ROLE = "role definition"
    MODEL = "model"
    ACCOUNT = "Foundry resource"
    DEPLOYMENTS = "deployments"
    ACCOUNT_MODELS = "model list"


@dataclass
class Home:
    """Where deployments live (a hub project, or a Foundry resource), and what was read of the
    caller's access there. A list that could not be read is None (never empty: "could not read"
    must not look like "does not exist"), and `failures` holds Azure's error."""

    subscription: str
    resource_group: str
    name: str
    _: KW_ONLY  # the subclasses' own fields come next, by position
    assignments: Optional[tuple[RoleAssignment, ...]] = None
    permissions: Optional[tuple[Permission, ...]] = None
    failures: dict[Read, AzureError] = field(default_factory=dict)

    @property
    def id(self) -> str:
        raise NotImplementedError


@dataclass
class ProjectState(Home):
    """Everything read about one project."""

    workspace: Optional[Workspace] = None
    hub: Optional[Workspace] = None
    endpoints: Optional[tuple[Endpoint, ...]] = None
    marketplace_subscriptions: Optional[tuple[MarketplaceSubscription, ...]] = None

    def endpoint(self, name: str) -> Optional[Endpoint]:
        """The listed endpoint of that name (names compare case-insensitively, as ARM's do)."""
        return next((e for e in self.endpoints or () if e.name.lower() == name.lower()), None)

    @property
    def listed(self) -> bool:
        """The project, its endpoints and (when needed) its subscriptions were all read."""
        return self.workspace is not None and self.endpoints is not None and Read.MARKETPLACE not in self.failures

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"


@dataclass
class AccountState(Home):
    """Everything read about one Foundry resource (as ProjectState is for a project)."""

    account: Optional[FoundryAccount] = None
    deployments: Optional[tuple[FoundryDeployment, ...]] = None
    models: Optional[tuple[AccountModel, ...]] = None

    def deployment(self, name: str) -> Optional[FoundryDeployment]:
        return next((d for d in self.deployments or () if d.name.lower() == name.lower()), None)

    @property
    def listed(self) -> bool:
        return self.account is not None and self.deployments is not None

    @property
    def id(self) -> str:
        return account_id(self.subscription, self.resource_group, self.name)


@dataclass
class SubscriptionState:
    id: str
    providers: dict[str, Optional[str]] = field(default_factory=dict)  # namespace (lower) -> registrationState; None: not read
    role_ids: dict[str, Optional[str]] = field(default_factory=dict)  # role name (lower) -> role definition GUID (lower), "" none; None: not read
    roles: dict[str, RoleDefinition] = field(default_factory=dict)  # role definition GUID (lower) -> definition, for the roles read
    display_name: Optional[str] = None  # the subscription's name, for text (None: not read)
    failures: dict[tuple[Read, str], AzureError] = field(default_factory=dict)  # (PROVIDER, namespace) / (ROLE, name)


@dataclass
class ModelState:
    """What the registry said about one model id. Not read: `failure` says why (or nothing was asked)."""

    model_id: str
    found: Optional[RegistryModel] = None  # the model's latest version; None when missing or not read
    read: bool = False  # the registry answered (the model may still be missing: found None)
    names: Optional[tuple[str, ...]] = None  # the registry's model names, read when the model is missing
    failure: Optional[AzureError] = None


@dataclass(frozen=True)
class NameScan:
    """The endpoints in one region that the caller can see outside the spec's projects (endpoint
    names are unique per region), and what could not be looked at."""

    region: str
    endpoints: tuple[Endpoint, ...]
    projects: int  # how many projects were looked at
    unread: tuple[str, ...]  # subscriptions or projects whose lists failed, with why


@dataclass
class LiveState:
    identity: Optional[Identity]
    identity_error: Optional[AzureError]
    projects: dict[tuple[str, str, str], ProjectState]  # Deployment.project_key -> state
    subscriptions: dict[str, SubscriptionState]  # subscription id (lower) -> state
    models: dict[str, ModelState] = field(default_factory=dict)  # model id (lower) -> what the registry said
    names: dict[str, NameScan] = field(default_factory=dict)  # region -> endpoints elsewhere in it (only where a create is planned)
    accounts: dict[tuple[str, str, str], AccountState] = field(default_factory=dict)  # Deployment.account_key -> state (Foundry)
