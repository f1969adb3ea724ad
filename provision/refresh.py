"""Read what is live for a spec, concurrently, through the gateway. Read-only; a read that fails
is recorded with its reason (the checks turn it into a finding), never raised half-way."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

from .errors import AzureError, explain
from .gateway import Gateway, project_id
from .live import LiveState, ProjectState, SubscriptionState
from .spec import Spec

T = TypeVar("T")
MLS = "microsoft.machinelearningservices"
SAAS = "microsoft.saas"


def _attempt(errors: dict[str, str], what: str, fn: Callable[[], T]) -> Optional[T]:
    try:
        return fn()
    except AzureError as exc:
        errors[what] = explain(exc)
        return None


def read_live(spec: Spec, gateway: Gateway, parallel: int = 16) -> LiveState:
    identity, identity_error = None, None
    try:
        identity = gateway.identity()
    except AzureError as exc:
        identity_error = f"{exc.code}: {exc}"

    subscriptions: dict[str, SubscriptionState] = {}
    projects: dict[tuple[str, str, str], ProjectState] = {}
    for d in spec.deployments:
        sub = subscriptions.setdefault(d.subscription, SubscriptionState(d.subscription))
        sub.providers.setdefault(MLS, "")
        if not d.microsoft_sold:
            sub.providers.setdefault(SAAS, "")
        sub.role_ids.setdefault(d.required_role.lower(), "")
        projects.setdefault(d.project_key, ProjectState(d.subscription, d.resource_group, d.project))
    if identity is None:  # nothing else can be read without a credential
        return LiveState(None, identity_error, projects, subscriptions)
    marketplace_projects = {d.project_key for d in spec.deployments if not d.microsoft_sold}
    hubs: dict[str, object] = {}

    def read_subscription(sub: SubscriptionState) -> None:
        for namespace in list(sub.providers):
            sub.providers[namespace] = _attempt(sub.read_errors, f"provider {namespace}", lambda: gateway.provider_state(sub.id, namespace)) or ""
        for role in list(sub.role_ids):
            found = _attempt(sub.read_errors, f"role {role}", lambda: gateway.role_definition_id(sub.id, role))
            sub.role_ids[role] = found or ""

    def read_project(key: tuple[str, str, str], p: ProjectState) -> None:
        pid = project_id(p.subscription, p.resource_group, p.name)
        p.workspace = _attempt(p.read_errors, "project", lambda: gateway.get_workspace(pid))
        assert identity is not None
        assignments = _attempt(p.read_errors, "role assignments", lambda: gateway.role_assignments(p.subscription, pid, identity.object_id))
        p.assignments = tuple(assignments) if assignments is not None else None
        permissions = _attempt(p.read_errors, "permissions", lambda: gateway.permissions(p.subscription, p.resource_group, p.name))
        p.permissions = tuple(permissions) if permissions is not None else None
        if p.workspace is None:
            return
        if p.workspace.hub_id:
            hub_id = p.workspace.hub_id.lower()
            if hub_id not in hubs:  # projects of one hub share one read (a benign race reads it twice)
                hubs[hub_id] = _attempt(p.read_errors, "hub", lambda: gateway.get_workspace(p.workspace.hub_id))  # type: ignore[union-attr]
            p.hub = hubs[hub_id]  # type: ignore[assignment]
        p.endpoints = tuple(_attempt(p.read_errors, "endpoints", lambda: gateway.list_endpoints(pid)) or ())
        if key in marketplace_projects:
            p.marketplace_subscriptions = tuple(_attempt(p.read_errors, "marketplace subscriptions", lambda: gateway.list_marketplace_subscriptions(pid)) or ())

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="read") as pool:
        futures = [pool.submit(read_subscription, s) for s in subscriptions.values()]
        futures += [pool.submit(read_project, k, p) for k, p in projects.items()]
        for f in futures:
            f.result()
    return LiveState(identity, identity_error, projects, subscriptions)
