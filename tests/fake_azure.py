"""FakeAzure: the `AzureApi` protocol in memory, for logic tests that run in milliseconds.

It keeps Azure's rules that the tool's logic depends on (one endpoint name per region, one
deployment per model per project, a Marketplace subscription before a partner model's endpoint,
keys per endpoint, 404 as None) and nothing about the wire: the emulator is for that. Every write
is recorded in `writes`; `fail(method, error, times)` makes the next calls of a method raise.
"""
from __future__ import annotations

import secrets as token
from dataclasses import dataclass, field, replace
from typing import Optional

from provision.catalog import RegistryModel, packaged
from provision.cloud import PUBLIC_CLOUD, Cloud
from provision.errors import AzureError
from provision.live import (ChatResult, Endpoint, Identity, Keys, MarketplaceSubscription, Permission, RoleAssignment, RoleDefinition, SaasResource,
                            Workspace, project_id)
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


@dataclass
class _Endpoint:
    endpoint: Endpoint
    keys: Keys


@dataclass
class _Project:
    workspace: Workspace
    endpoints: dict[str, _Endpoint] = field(default_factory=dict)  # lower-case name ->
    subscriptions: dict[str, MarketplaceSubscription] = field(default_factory=dict)  # lower-case name ->


def _key() -> Secret:
    return Secret(token.token_hex(16))


class FakeAzure:
    def __init__(self, location: str = "eastus2", projects: tuple[str, ...] = ("contoso-chat",), role: RoleDefinition = OWNER) -> None:
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

    # --- test controls ---------------------------------------------------------------------------
    def fail(self, method: str, error: AzureError, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([error] * times)

    def _maybe_fail(self, method: str) -> None:
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

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

    def role_assignments(self, subscription: str, scope: str, object_id: str) -> list[RoleAssignment]:
        rid = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{self.role.id}"
        return [RoleAssignment("assignment-1", f"/subscriptions/{subscription}", rid, object_id, "ServicePrincipal")]

    def role_definition(self, subscription: str, role_name: str) -> Optional[RoleDefinition]:
        return next((r for r in (AI_DEVELOPER, OWNER, READER) if r.name.lower() == role_name.lower()), None)

    def role_definition_by_id(self, subscription: str, role_definition_id: str) -> RoleDefinition:
        guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
        found = next((r for r in (AI_DEVELOPER, OWNER, READER) if r.id == guid), None)
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

    def chat(self, url: str, key: Secret, timeout: float = 30) -> ChatResult:
        for p in self.projects.values():
            for e in p.endpoints.values():
                if e.endpoint.uri and url.rstrip("/").startswith(e.endpoint.uri.rstrip("/")):
                    if key.reveal() not in (e.keys.primary.reveal(), e.keys.secondary.reveal()):
                        return ChatResult(False, 401, 1.0, "", "", "HTTP 401 Unauthorized: invalid key")
                    if e.endpoint.endpoint_state != "Online":
                        return ChatResult(False, 503, 1.0, "", "", "HTTP 503: the endpoint is not healthy")
                    return ChatResult(True, 200, 1.0, e.endpoint.model_id.rsplit("/", 1)[-1], "stop", "")
        return ChatResult(False, 0, 1.0, "", "", f"could not reach {url}")
