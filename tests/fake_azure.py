"""FakeAzure: the `AzureApi` protocol in memory, for logic tests that run in milliseconds.

It keeps Azure's rules that the tool's logic depends on (one endpoint name per region, one
deployment per model per project, a Marketplace subscription before a partner model's endpoint,
keys per endpoint, 404 as None) and nothing about the wire: the emulator is for that. Every write
is recorded in `writes`; `fail(method, error, times)` makes the next calls of a method raise.

Foundry resources (`accounts=`, each in `location`; `add_account` for another region): a fixed
model list (FOUNDRY_MODELS), deployments checked against it (model, version, SKU, capacity, content
filter, model not changed in place), keys per account shared by its deployments, and
`refuse_purchases(account)` for a subscription that cannot buy partner models (the PUT's
operation ends Failed, the deployment stays, as in Azure). Writes run one at a time here, so
there is never a RequestConflict.
"""
from __future__ import annotations

import secrets as token
from dataclasses import dataclass, field, replace
from typing import Optional

from provision.catalog import RegistryModel, packaged
from provision.cloud import PUBLIC_CLOUD, Cloud
from provision.errors import AzureError
from provision.live import (FOUNDRY_FORMAT, AccountModel, ChatResult, Endpoint, FoundryAccount, FoundryDeployment, Identity, Keys,
                            MarketplaceSubscription, Permission, RoleAssignment, RoleDefinition, SaasResource, Workspace, account_id, project_id)
from provision.secret import Secret

SUBSCRIPTION = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
RESOURCE_GROUP = "rg-genai"
CALLER = Identity("11111111-1111-1111-1111-111111111111", "72f988bf-0000-0000-0000-000000000000", "service principal", "provision-ci")
AI_DEVELOPER = RoleDefinition("64702f94-c441-49e6-a78b-ef80e0188fee", "Azure AI Developer",
                              (Permission(("Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/*/action",
                                           "Microsoft.MachineLearningServices/workspaces/*/delete", "Microsoft.MachineLearningServices/workspaces/*/write"),
                                          ("Microsoft.MachineLearningServices/workspaces/delete", "Microsoft.MachineLearningServices/workspaces/write")),))
OWNER = RoleDefinition("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", (Permission(("*",), ()),))
READER = RoleDefinition("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", (Permission(("*/read",), ()),))
COGNITIVE_CONTRIBUTOR = RoleDefinition("25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68", "Cognitive Services Contributor",
                                       (Permission(("Microsoft.Authorization/*/read", "Microsoft.CognitiveServices/*", "Microsoft.Resources/deployments/*",
                                                    "Microsoft.Resources/subscriptions/resourceGroups/read"), ()),))
ROLES = (AI_DEVELOPER, OWNER, READER, COGNITIVE_CONTRIBUTOR)

PARTNER_REGIONS = ("eastus", "eastus2", "northcentralus", "southcentralus", "swedencentral", "westus", "westus3")
DEFAULT_CONTENT_FILTERS = ("Microsoft.Default", "Microsoft.DefaultV2")


@dataclass(frozen=True)
class FoundryModel:
    """One version of a model in the Foundry catalog: GlobalStandard, capacity 1, in `regions`."""

    name: str
    version: str
    default: bool
    regions: tuple[str, ...] = PARTNER_REGIONS
    marketplace: bool = True  # a partner model, bought through the Marketplace when deployed

    def listed(self) -> AccountModel:
        return AccountModel(FOUNDRY_FORMAT, self.name, self.version, self.default, ("GlobalStandard",), 1, "GenerallyAvailable")


FOUNDRY_MODELS = (
    FoundryModel("Codestral-2501", "1", False), FoundryModel("Codestral-2501", "2", True), FoundryModel("mistral-medium-2505", "1", True),
    FoundryModel("mistral-small-2503", "1", True), FoundryModel("Ministral-3B", "1", True),
    FoundryModel("Mistral-Large-3", "1", True, ("westus3",), marketplace=False),
)


@dataclass
class _Endpoint:
    endpoint: Endpoint
    keys: Keys


@dataclass
class _Project:
    workspace: Workspace
    endpoints: dict[str, _Endpoint] = field(default_factory=dict)  # lower-case name ->
    subscriptions: dict[str, MarketplaceSubscription] = field(default_factory=dict)  # lower-case name ->


@dataclass
class _Account:
    account: FoundryAccount
    keys: Keys
    content_filters: tuple[str, ...] = ()  # the account's own RAI policies
    deployments: dict[str, FoundryDeployment] = field(default_factory=dict)  # exact name -> (Azure matches deployment names exactly)
    refuses_purchases: bool = False

    def models(self) -> list[FoundryModel]:
        return [m for m in FOUNDRY_MODELS if self.account.location in m.regions]

    def deployment(self, name: str) -> Optional[FoundryDeployment]:
        return next((d for key, d in self.deployments.items() if key.lower() == name.lower()), None)


def _key() -> Secret:
    return Secret(token.token_hex(16))


def _not_found(what: str) -> AzureError:
    return AzureError(f"The Resource '{what}' was not found.", "ResourceNotFound", status=404)


def _invalid(message: str) -> AzureError:
    return AzureError(message, "InvalidResourceProperties", status=400)


class FakeAzure:
    def __init__(self, location: str = "eastus2", projects: tuple[str, ...] = ("contoso-chat",), role: RoleDefinition = OWNER,
                 accounts: tuple[str, ...] = ("contoso-foundry",)) -> None:
        self.writes: list[tuple[str, str]] = []  # (method, resource name), in order
        self.failures: dict[str, list[AzureError]] = {}
        self.role = role  # held by the caller at the subscription
        hub = Workspace(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/contoso-hub",
                        "contoso-hub", "Hub", location, None)
        self.hub = hub
        self.projects: dict[str, _Project] = {}
        for name in projects:
            pid = project_id(SUBSCRIPTION, RESOURCE_GROUP, name)
            self.projects[pid.lower()] = _Project(Workspace(pid, name, "Project", location, hub.id))
        self.accounts: dict[str, _Account] = {}  # lower-case ARM id ->
        for name in accounts:
            self.add_account(name, location)

    # --- test controls ---------------------------------------------------------------------------
    def fail(self, method: str, error: AzureError, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([error] * times)

    def _maybe_fail(self, method: str) -> None:
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def add_account(self, name: str, location: str = "eastus2", content_filters: tuple[str, ...] = ("contoso-strict",)) -> str:
        """A Foundry resource (custom subdomain: its name) in rg-genai; its ARM id."""
        aid = account_id(SUBSCRIPTION, RESOURCE_GROUP, name)
        account = FoundryAccount(aid, name, "AIServices", location, f"https://{name}.services.ai.azure.com")
        self.accounts[aid.lower()] = _Account(account, Keys(_key(), _key()), content_filters)
        return aid

    def refuse_purchases(self, account: str) -> None:
        """The account's subscription cannot buy partner models: their PUT ends Failed (late, as in Azure)."""
        self._account(account).refuses_purchases = True

    def _account(self, account: str) -> _Account:
        found = self.accounts.get(account.lower())
        if found is None:
            raise _not_found(account)
        return found

    def _project(self, project: str) -> _Project:
        found = self.projects.get(project.lower())
        if found is None:
            raise AzureError(f"The Resource '{project}' was not found.", "ResourceNotFound", status=404)
        return found

    def _write(self, method: str, name: str) -> None:
        self._maybe_fail(method)
        self.writes.append((method, name))

    # --- AzureApi -----------------------------------------------------------------------------------
    @property
    def cloud(self) -> Cloud:
        return PUBLIC_CLOUD

    def prepare(self) -> None:
        self._maybe_fail("prepare")

    def identity(self) -> Identity:
        self._maybe_fail("identity")
        return CALLER

    def registry_model(self, registry: str, name: str) -> Optional[RegistryModel]:
        known = packaged().known(name)
        return RegistryModel(registry, known.name, "1", known.lifecycle) if known is not None else None

    def registry_model_names(self, registry: str) -> list[str]:
        return sorted(m.name for m in packaged().models.values())

    def get_workspace(self, workspace_id: str) -> Optional[Workspace]:
        if workspace_id.lower() == self.hub.id.lower():
            return self.hub
        found = self.projects.get(workspace_id.lower())
        return found.workspace if found else None

    def list_workspaces(self, subscription: str, resource_group: str) -> list[Workspace]:
        return [self.hub] + [p.workspace for p in self.projects.values()]

    def list_subscription_workspaces(self, subscription: str) -> list[Workspace]:
        return self.list_workspaces(subscription, RESOURCE_GROUP)

    def list_marketplace_subscriptions(self, project: str) -> list[MarketplaceSubscription]:
        return sorted(self._project(project).subscriptions.values(), key=lambda s: s.name.lower()) if project.lower() in self.projects else []

    def create_marketplace_subscription(self, project: str, name: str, model_id: str) -> str:
        p = self._project(project)
        self._write("create_marketplace_subscription", name)
        offer = model_id.rsplit("/", 1)[-1].lower() + "-offer"
        p.subscriptions[name.lower()] = MarketplaceSubscription(f"{project}/marketplaceSubscriptions/{name}", name, model_id, "Subscribed", "Succeeded", offer)
        for key, e in p.endpoints.items():
            if e.endpoint.model_id.lower() == model_id.lower() and e.endpoint.endpoint_state == "Suspended":
                p.endpoints[key] = replace(e, endpoint=replace(e.endpoint, endpoint_state="Online"))
        return "Succeeded"

    def delete_marketplace_subscription(self, project: str, name: str) -> None:
        p = self._project(project)
        self._write("delete_marketplace_subscription", name)
        gone = p.subscriptions.pop(name.lower(), None)
        if gone is not None:  # Azure: the endpoints relying on it can no longer serve
            for key, e in p.endpoints.items():
                if e.endpoint.model_id.lower() == gone.model_id.lower():
                    p.endpoints[key] = replace(e, endpoint=replace(e.endpoint, endpoint_state="Suspended"))

    def list_endpoints(self, project: str) -> list[Endpoint]:
        if project.lower() not in self.projects:
            return []
        return sorted((e.endpoint for e in self._project(project).endpoints.values()), key=lambda e: e.name.lower())

    def get_endpoint(self, project: str, name: str) -> Optional[Endpoint]:
        found = self._project(project).endpoints.get(name.lower())
        return found.endpoint if found else None

    def put_endpoint(self, project: str, name: str, model_id: str, location: str, tags: dict[str, str], content_safety: Optional[bool]) -> Endpoint:
        p = self._project(project)
        existing = p.endpoints.get(name.lower())
        if existing is None:
            if any(name.lower() in other.endpoints for other in self.projects.values()):
                raise AzureError(f"Serverless endpoint name '{name}' is not available.", "UserError", "ServerlessEndpointNameNotAvailable", 400)
            if any(e.endpoint.model_id.lower() == model_id.lower() for e in p.endpoints.values()):
                raise AzureError("Only one deployment per model per project is supported.", "UserError", "ServerlessEndpointModelAlreadyDeployed", 409)
            sold_by_azure = model_id.lower().startswith("azureml://registries/azureml/")
            if not sold_by_azure and not any(s.model_id.lower() == model_id.lower() for s in p.subscriptions.values()):
                raise AzureError("The project has no Marketplace subscription to the model's offer.", "UserError", "MarketplaceSubscriptionNotFound", 400)
        elif existing.endpoint.model_id.lower() != model_id.lower():
            raise AzureError("The model of a serverless endpoint cannot be changed.", "UserError", "ServerlessEndpointModelImmutable", 400)
        self._write("put_endpoint", name)
        safety = content_safety if content_safety is not None else (existing.endpoint.content_safety if existing else True)
        endpoint = Endpoint(f"{project}/serverlessEndpoints/{name}", name, model_id, location, dict(tags), "Succeeded", "Online", safety,
                            f"https://{name.lower()}.{location}.models.ai.azure.com", None)
        p.endpoints[name.lower()] = _Endpoint(endpoint, existing.keys if existing else Keys(_key(), _key()))
        return endpoint

    def patch_endpoint_tags(self, project: str, name: str, tags: dict[str, str]) -> None:
        p = self._project(project)
        self._write("patch_endpoint_tags", name)
        e = p.endpoints[name.lower()]
        p.endpoints[name.lower()] = replace(e, endpoint=replace(e.endpoint, tags=dict(tags)))

    def delete_endpoint(self, project: str, name: str) -> None:
        p = self._project(project)
        self._write("delete_endpoint", name)
        p.endpoints.pop(name.lower(), None)

    def list_keys(self, project: str, name: str) -> Keys:
        self._maybe_fail("list_keys")
        found = self._project(project).endpoints.get(name.lower())
        if found is None:
            raise AzureError(f"The Resource '{name}' was not found.", "ResourceNotFound", status=404)
        return found.keys

    def regenerate_key(self, project: str, name: str, which: str) -> Keys:
        p = self._project(project)
        self._write("regenerate_key", name)
        e = p.endpoints[name.lower()]
        keys = Keys(_key(), e.keys.secondary) if which == "primary" else Keys(e.keys.primary, _key())
        p.endpoints[name.lower()] = replace(e, keys=keys)
        return keys

    # --- Foundry resources ---------------------------------------------------------------------------
    def get_account(self, account: str) -> Optional[FoundryAccount]:
        self._maybe_fail("get_account")
        found = self.accounts.get(account.lower())
        return found.account if found else None

    def list_account_models(self, account: str) -> list[AccountModel]:
        self._maybe_fail("list_account_models")
        return [m.listed() for m in self._account(account).models()]

    def list_foundry_deployments(self, account: str) -> list[FoundryDeployment]:
        self._maybe_fail("list_foundry_deployments")
        return sorted(self._account(account).deployments.values(), key=lambda d: d.name.lower())

    def get_foundry_deployment(self, account: str, name: str) -> Optional[FoundryDeployment]:
        return self._account(account).deployment(name)

    def put_foundry_deployment(self, account: str, name: str, model_name: str, version: Optional[str], sku: str, capacity: Optional[int],
                               content_filter: Optional[str], tags: dict[str, str]) -> FoundryDeployment:
        a = self._account(account)
        existing = a.deployment(name)
        model = self._foundry_model(a, model_name, version, sku, capacity, content_filter)
        if existing is not None and existing.model_name.lower() != model.name.lower():
            raise _invalid(f"The model of deployment '{existing.name}' is {existing.model_name}; it cannot be changed to {model.name}.")
        self._write("put_foundry_deployment", name)
        key = existing.name if existing else name
        policy = content_filter or (existing.content_filter if existing else None) or "Microsoft.DefaultV2"
        failed = model.marketplace and a.refuses_purchases
        made = FoundryDeployment(f"{a.account.id}/deployments/{key}", key, FOUNDRY_FORMAT, model.name, model.version, sku, capacity or 1, policy,
                                 "Failed" if failed else "Succeeded", dict(tags))
        a.deployments[key] = made
        if failed:
            raise AzureError("Error occurred when subscribing to Marketplace: the enrollment does not allow Marketplace purchases.",
                             "MarketplaceSubscriptionCannotBeCompleted")
        return made

    def _foundry_model(self, a: _Account, model_name: str, version: Optional[str], sku: str, capacity: Optional[int],
                       content_filter: Optional[str]) -> FoundryModel:
        """The catalog entry a PUT names, once Azure's checks of it pass (no version: the default one)."""
        versions = [m for m in FOUNDRY_MODELS if m.name.lower() == model_name.lower()]
        model = next((m for m in versions if m.version == version or (version is None and m.default)), None)
        if model is None:
            raise AzureError(f"The model 'Format:{FOUNDRY_FORMAT},Name:{model_name},Version:{version}' of account deployment is not supported.",
                             "DeploymentModelNotSupported", status=400)
        if sku != "GlobalStandard":
            raise _invalid(f"The specified SKU '{sku}' of account deployment is not supported by the model '{model.name}' version: '{model.version}'.")
        if a.account.location not in model.regions:
            raise _invalid(f"The specified SKU '{sku}' for model '{model.name} {model.version}' is not supported in this region '{a.account.location}'.")
        if capacity is not None and capacity != 1:
            raise AzureError(f"The specified capacity '{capacity}' of account deployment should be at least 1 and no more than 1.", "InvalidCapacity", status=400)
        if content_filter is not None and content_filter not in (*DEFAULT_CONTENT_FILTERS, *a.content_filters):
            raise _invalid(f"The RAI policy '{content_filter}' does not exist on account '{a.account.name}'.")
        return model

    def delete_foundry_deployment(self, account: str, name: str) -> None:
        a = self._account(account)
        self._write("delete_foundry_deployment", name)
        found = a.deployment(name)
        if found is not None:
            del a.deployments[found.name]

    def account_keys(self, account: str) -> Keys:
        self._maybe_fail("account_keys")
        return self._account(account).keys

    def regenerate_account_key(self, account: str, which: str) -> Keys:
        a = self._account(account)
        self._write("regenerate_account_key", a.account.name)
        a.keys = Keys(_key(), a.keys.secondary) if which == "primary" else Keys(a.keys.primary, _key())
        return a.keys

    def account_permissions(self, subscription: str, resource_group: str, account: str) -> list[Permission]:
        self._maybe_fail("account_permissions")
        return list(self.role.permissions)

    def role_assignments(self, subscription: str, scope: str, object_id: str) -> list[RoleAssignment]:
        rid = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{self.role.id}"
        return [RoleAssignment("assignment-1", f"/subscriptions/{subscription}", rid, object_id, "ServicePrincipal")]

    def role_definition(self, subscription: str, role_name: str) -> Optional[RoleDefinition]:
        return next((r for r in ROLES if r.name.lower() == role_name.lower()), None)

    def role_definition_by_id(self, subscription: str, role_definition_id: str) -> RoleDefinition:
        guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
        found = next((r for r in ROLES if r.id == guid), None)
        if found is None:
            raise AzureError(f"The role definition '{guid}' does not exist.", "RoleDefinitionDoesNotExist", status=404)
        return found

    def role_names(self, subscription: str, role_definition_ids: list[str]) -> dict[str, str]:
        return {rid: self.role_definition_by_id(subscription, rid).name for rid in role_definition_ids}

    def permissions(self, subscription: str, resource_group: str, project: str) -> list[Permission]:
        return list(self.role.permissions)

    def provider_state(self, subscription: str, namespace: str) -> str:
        return "Registered"

    def register_provider(self, subscription: str, namespace: str) -> str:
        self._write("register_provider", namespace)
        return "Registered"

    def list_saas_resources(self, subscription: str, resource_group: str) -> list[SaasResource]:
        return [SaasResource(f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.SaaS/resources/{s.name}", s.name, s.offer_id, "Subscribed")
                for p in self.projects.values() for s in p.subscriptions.values()]

    def list_subscriptions(self) -> list[str]:
        return [SUBSCRIPTION]

    def subscription_display_name(self, subscription: str) -> Optional[str]:
        return "Contoso GenAI" if subscription.lower() == SUBSCRIPTION else None

    def chat(self, url: str, key: Secret, timeout: float = 30, model: Optional[str] = None) -> ChatResult:
        if self.failures.get("chat"):  # a test makes the next call fail as an unhealthy deployment answers
            self.failures["chat"].pop(0)
            return ChatResult(False, 503, 1.0, "", "", "HTTP 503: the deployment is not ready")
        for a in self.accounts.values():
            if url.rstrip("/").lower().startswith(a.account.base_url.lower()):
                return self._foundry_chat(a, key, model)
        for p in self.projects.values():
            for e in p.endpoints.values():
                if e.endpoint.uri and url.rstrip("/").startswith(e.endpoint.uri.rstrip("/")):
                    if key.reveal() not in (e.keys.primary.reveal(), e.keys.secondary.reveal()):
                        return ChatResult(False, 401, 1.0, "", "", "HTTP 401 Unauthorized: invalid key")
                    if e.endpoint.endpoint_state != "Online":
                        return ChatResult(False, 503, 1.0, "", "", "HTTP 503: the endpoint is not healthy")
                    return ChatResult(True, 200, 1.0, e.endpoint.model_id.rsplit("/", 1)[-1], "stop", "")
        return ChatResult(False, 0, 1.0, "", "", f"could not reach {url}")

    @staticmethod
    def _foundry_chat(a: _Account, key: Secret, model: Optional[str]) -> ChatResult:
        """The account's /models route: one of its keys, and `model` a deployment of it (exact name) that Succeeded."""
        if key.reveal() not in (a.keys.primary.reveal(), a.keys.secondary.reveal()):
            return ChatResult(False, 401, 1.0, "", "", "HTTP 401 Unauthorized: invalid key")
        if model is None:
            return ChatResult(False, 400, 1.0, "", "", "HTTP 400 no_model_name: the request names no model")
        found = a.deployments.get(model)
        if found is None or found.provisioning_state != "Succeeded":
            return ChatResult(False, 404, 1.0, "", "", f"HTTP 404 unknown_model: Unknown model: {model}")
        return ChatResult(True, 200, 1.0, found.model_name, "stop", "")
