"""The one door to Azure, as a protocol: what every stage may ask of Azure, with its contract.

`gateway.Gateway` implements it against Azure (and the emulator) through the Azure SDKs; the
tests' `FakeAzure` implements it in memory, so the logic of refresh, plan, apply, destroy, rotate
and audit runs in milliseconds. The stages are typed with this protocol only.

Contracts that hold for every method:
* A failure raises `AzureError` (its `code` and `status` are Azure's); nothing else escapes.
* `get_*` return None for a resource that does not exist; `list_*` return [] for none.
* Writes that Azure runs as long-running operations return once the operation has ended
  (its Retry-After honoured); a write that joins an operation already running waits for it.
* `project` is a project's ARM id (`live.project_id`); names compare case-insensitively.
* Keys are `Secret`s: never printed, never in an exception's text.
"""
from __future__ import annotations

from typing import Optional, Protocol

from .catalog import RegistryModel
from .cloud import Cloud
from .live import (AccountModel, ChatResult, Endpoint, FoundryAccount, FoundryDeployment, Identity, Keys, MarketplaceSubscription, Permission,
                   RoleAssignment, RoleDefinition, SaasResource, Workspace)
from .secret import Secret


class AzureApi(Protocol):
    @property
    def cloud(self) -> Cloud:
        """The cloud the run talks to (public Azure unless ARM_CLOUD_METADATA_URL names another)."""
        ...

    def prepare(self) -> None:
        """Get ready to talk to Azure (import, build clients) while the first token is fetched."""
        ...

    def identity(self) -> Identity:
        """Who the credential is; AzureError when there is no usable credential (with why)."""
        ...

    # --- the model registry ------------------------------------------------------------------
    def registry_model(self, registry: str, name: str) -> Optional[RegistryModel]:
        """The model's latest version in the registry; None when the registry has no such model."""
        ...

    def registry_model_names(self, registry: str) -> list[str]:
        """Every model name in the registry (for did-you-mean)."""
        ...

    # --- workspaces ------------------------------------------------------------------------------
    def get_workspace(self, workspace_id: str) -> Optional[Workspace]:
        """A hub or project by ARM id."""
        ...

    def list_workspaces(self, subscription: str, resource_group: str) -> list[Workspace]:
        ...

    def list_subscription_workspaces(self, subscription: str) -> list[Workspace]:
        """Every workspace of the subscription the caller can read."""
        ...

    # --- Marketplace subscriptions ---------------------------------------------------------------
    def list_marketplace_subscriptions(self, project: str) -> list[MarketplaceSubscription]:
        ...

    def create_marketplace_subscription(self, project: str, name: str, model_id: str) -> str:
        """Subscribe the project to the model's offer; the provisioningState it ended in."""
        ...

    def delete_marketplace_subscription(self, project: str, name: str) -> None:
        """Delete it (a subscription already gone is done)."""
        ...

    # --- serverless endpoints --------------------------------------------------------------------
    def list_endpoints(self, project: str) -> list[Endpoint]:
        ...

    def get_endpoint(self, project: str, name: str) -> Optional[Endpoint]:
        ...

    def put_endpoint(self, project: str, name: str, model_id: str, location: str, tags: dict[str, str], content_safety: Optional[bool]) -> Endpoint:
        """Create the endpoint, or update it in place (tags, content safety); the endpoint once its operation ended."""
        ...

    def patch_endpoint_tags(self, project: str, name: str, tags: dict[str, str]) -> None:
        """Replace the endpoint's tags."""
        ...

    def delete_endpoint(self, project: str, name: str) -> None:
        """Delete it (an endpoint already gone is done)."""
        ...

    def list_keys(self, project: str, name: str) -> Keys:
        ...

    def regenerate_key(self, project: str, name: str, which: str) -> Keys:
        """Regenerate the "primary" or "secondary" key; both keys after it."""
        ...

    # --- Foundry resources (Microsoft.CognitiveServices/accounts) and their model deployments ------
    # `account` is the resource's ARM id (`live.account_id`). Azure refuses concurrent writes on
    # one account (409 RequestConflict): callers write to one account one at a time.
    def get_account(self, account: str) -> Optional[FoundryAccount]:
        ...

    def list_account_models(self, account: str) -> list[AccountModel]:
        """The models the account can deploy (each version, with its SKUs there)."""
        ...

    def list_foundry_deployments(self, account: str) -> list[FoundryDeployment]:
        ...

    def get_foundry_deployment(self, account: str, name: str) -> Optional[FoundryDeployment]:
        ...

    def put_foundry_deployment(self, account: str, name: str, model_name: str, version: Optional[str], sku: str, capacity: Optional[int],
                               content_filter: Optional[str], tags: dict[str, str]) -> FoundryDeployment:
        """Create or update the deployment (format "Mistral AI"); the deployment once its operation ended
        (a failure that Azure reports only at the end, such as a Marketplace purchase, raises)."""
        ...

    def delete_foundry_deployment(self, account: str, name: str) -> None:
        """Delete it (a deployment already gone is done)."""
        ...

    def account_keys(self, account: str) -> Keys:
        """The account's key1 (primary) and key2 (secondary): shared by every deployment on it."""
        ...

    def regenerate_account_key(self, account: str, which: str) -> Keys:
        """Regenerate key1 ("primary") or key2 ("secondary"); both keys after it."""
        ...

    def account_permissions(self, subscription: str, resource_group: str, account: str) -> list[Permission]:
        """The caller's effective permissions on the account (here `account` is the resource's name, as
        `permissions` takes a project's)."""
        ...

    # --- access ----------------------------------------------------------------------------------
    def role_assignments(self, subscription: str, scope: str, object_id: str) -> list[RoleAssignment]:
        """Assignments to the principal or its groups at, above or below `scope`."""
        ...

    def role_definition(self, subscription: str, role_name: str) -> Optional[RoleDefinition]:
        """The role of that name; None if there is none."""
        ...

    def role_definition_by_id(self, subscription: str, role_definition_id: str) -> RoleDefinition:
        ...

    def role_names(self, subscription: str, role_definition_ids: list[str]) -> dict[str, str]:
        """Role definition id -> role name."""
        ...

    def permissions(self, subscription: str, resource_group: str, project: str) -> list[Permission]:
        """The caller's effective permissions on the project."""
        ...

    # --- subscriptions and providers ---------------------------------------------------------------
    def provider_state(self, subscription: str, namespace: str) -> str:
        """The namespace's registrationState (Registered, NotRegistered, Registering, ...)."""
        ...

    def register_provider(self, subscription: str, namespace: str) -> str:
        """Ask for the registration; the registrationState right after."""
        ...

    def list_saas_resources(self, subscription: str, resource_group: str) -> list[SaasResource]:
        ...

    def list_subscriptions(self) -> list[str]:
        """The ids of every subscription the caller can read."""
        ...

    def subscription_display_name(self, subscription: str) -> Optional[str]:
        ...

    # --- the deployment's inference endpoint ---------------------------------------------------------
    def chat(self, url: str, key: Secret, timeout: float = 30, model: Optional[str] = None) -> ChatResult:
        """One short chat completion with the key (`model`: the deployment, for a Foundry resource's
        endpoint, which serves every deployment of the account); never raises for an HTTP answer."""
        ...
