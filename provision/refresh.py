"""Read what is live for a spec, concurrently, through the gateway. Read-only; a read that fails
is recorded with its reason (the checks turn it into a finding), never raised half-way."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable, Optional, TypeVar

from .errors import AzureError, explain
from .gateway import Gateway
from .live import MLS, SAAS, LiveState, ProjectState, SubscriptionState, Workspace
from .spec import Spec

T = TypeVar("T")


def _attempt(errors: dict[str, str], what: str, fn: Callable[[], T]) -> Optional[T]:
    try:
        return fn()
    except AzureError as exc:
        errors[what] = explain(exc)
        return None


def read_live(spec: Spec, gateway: Gateway, parallel: int = 32) -> LiveState:
    identity, identity_error = None, None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare") as warm:
        prepared = warm.submit(gateway.prepare)  # SDK imports overlap the token request
        try:
            identity = gateway.identity()
        except AzureError as exc:
            identity_error = f"{exc.code}: {exc}"
        try:
            prepared.result()
        except AzureError:
            pass  # the same failure reaches the reads below, which report it

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
    object_id = identity.object_id
    hubs: dict[str, Optional[Workspace]] = {}
    hub_locks: dict[str, threading.Lock] = {}
    locks_lock = threading.Lock()

    def read_hub(p: ProjectState, hub_id: str) -> Optional[Workspace]:
        """Projects of one hub share one read of it."""
        key = hub_id.lower()
        with locks_lock:
            lock = hub_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in hubs:
                hubs[key] = _attempt(p.read_errors, "hub", lambda: gateway.get_workspace(hub_id))
            return hubs[key]

    def read_workspace(p: ProjectState) -> None:
        p.workspace = _attempt(p.read_errors, "project", lambda: gateway.get_workspace(p.id))
        if p.workspace is not None and p.workspace.hub_id:
            p.hub = read_hub(p, p.workspace.hub_id)

    def read_assignments(group: list[ProjectState]) -> None:
        # One read per resource group: assignments at, above or below it (so on a project too).
        first = group[0]
        scope = f"/subscriptions/{first.subscription}/resourceGroups/{first.resource_group}"
        errors: dict[str, str] = {}
        found = _attempt(errors, "role assignments", lambda: gateway.role_assignments(first.subscription, scope, object_id))
        for p in group:
            p.assignments = tuple(found) if found is not None else None
            p.read_errors.update(errors)

    def read_permissions(p: ProjectState) -> None:
        found = _attempt(p.read_errors, "permissions", lambda: gateway.permissions(p.subscription, p.resource_group, p.name))
        p.permissions = tuple(found) if found is not None else None

    def read_endpoints(p: ProjectState) -> None:
        p.endpoints = tuple(_attempt(p.read_errors, "endpoints", lambda: gateway.list_endpoints(p.id)) or ())

    def read_marketplace(p: ProjectState) -> None:
        p.marketplace_subscriptions = tuple(_attempt(p.read_errors, "marketplace subscriptions", lambda: gateway.list_marketplace_subscriptions(p.id)) or ())

    def read_provider(sub: SubscriptionState, namespace: str) -> None:
        sub.providers[namespace] = _attempt(sub.read_errors, f"provider {namespace}", lambda: gateway.provider_state(sub.id, namespace)) or ""

    def read_role(sub: SubscriptionState, role: str) -> None:
        sub.role_ids[role] = _attempt(sub.read_errors, f"role {role}", lambda: gateway.role_definition_id(sub.id, role) or "") or ""

    groups: dict[tuple[str, str], list[ProjectState]] = {}
    for p in projects.values():
        groups.setdefault((p.subscription.lower(), p.resource_group.lower()), []).append(p)
    # Every read is independent of the others (a missing project lists as empty), so all run at once.
    tasks: list[Callable[[], None]] = []
    for sub in subscriptions.values():
        tasks += [partial(read_provider, sub, ns) for ns in list(sub.providers)]
        tasks += [partial(read_role, sub, role) for role in list(sub.role_ids)]
    tasks += [partial(read_assignments, group) for group in groups.values()]
    for key, p in projects.items():
        tasks += [partial(read_workspace, p), partial(read_permissions, p), partial(read_endpoints, p)]
        if key in marketplace_projects:
            tasks.append(partial(read_marketplace, p))
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(tasks))), thread_name_prefix="read") as pool:
        for f in [pool.submit(t) for t in tasks]:
            f.result()
    return LiveState(identity, identity_error, projects, subscriptions)
