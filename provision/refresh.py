"""Read what is live for a spec, concurrently, through the gateway. Read-only; a read that fails
is recorded under its name (`Read`) with Azure's error, and what it would have read stays None:
the checks and the plan see "could not read", never an empty list."""
from __future__ import annotations

import threading
from functools import partial
from typing import Callable, Optional, TypeVar

from .errors import AzureError
from .gateway import Gateway
from .live import MLS, SAAS, LiveState, ProjectState, Read, SubscriptionState, Workspace
from .spec import Spec
from .workers import worker_pool

T = TypeVar("T")
K = TypeVar("K")


def _attempt(failures: dict[K, AzureError], what: K, fn: Callable[[], T]) -> Optional[T]:
    try:
        return fn()
    except AzureError as exc:
        failures[what] = exc
        return None


def read_live(spec: Spec, gateway: Gateway, parallel: int = 32) -> LiveState:
    identity, identity_error = None, None
    with worker_pool(1, "prepare") as warm:
        prepared = warm.submit(gateway.prepare)  # SDK imports overlap the token request
        try:
            identity = gateway.identity()
        except AzureError as exc:
            identity_error = exc
        try:
            prepared.result()
        except AzureError:
            pass  # the same failure reaches the reads below, which report it

    subscriptions: dict[str, SubscriptionState] = {}
    projects: dict[tuple[str, str, str], ProjectState] = {}
    for d in spec.deployments:
        sub = subscriptions.setdefault(d.subscription, SubscriptionState(d.subscription))
        sub.providers.setdefault(MLS, None)
        if not d.microsoft_sold:
            sub.providers.setdefault(SAAS, None)
        sub.role_ids.setdefault(d.required_role.lower(), None)
        projects.setdefault(d.project_key, ProjectState(d.subscription, d.resource_group, d.project))
    if identity is None:  # nothing else can be read without a credential
        return LiveState(None, identity_error, projects, subscriptions)
    marketplace_projects = {d.project_key for d in spec.deployments if not d.microsoft_sold}
    object_id = identity.object_id
    hubs: dict[str, tuple[Optional[Workspace], dict[Read, AzureError]]] = {}
    hub_locks: dict[str, threading.Lock] = {}
    locks_lock = threading.Lock()

    def read_hub(hub_id: str) -> tuple[Optional[Workspace], dict[Read, AzureError]]:
        """Projects of one hub share one read of it, and its failure."""
        key = hub_id.lower()
        with locks_lock:
            lock = hub_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in hubs:
                failures: dict[Read, AzureError] = {}
                hubs[key] = (_attempt(failures, Read.HUB, lambda: gateway.get_workspace(hub_id)), failures)
            return hubs[key]

    def read_workspace(p: ProjectState) -> None:
        p.workspace = _attempt(p.failures, Read.PROJECT, lambda: gateway.get_workspace(p.id))
        if p.workspace is not None and p.workspace.hub_id:
            p.hub, failures = read_hub(p.workspace.hub_id)
            p.failures.update(failures)

    def read_assignments(group: list[ProjectState]) -> None:
        # One read per resource group: assignments at, above or below it (so on a project too).
        first = group[0]
        scope = f"/subscriptions/{first.subscription}/resourceGroups/{first.resource_group}"
        failures: dict[Read, AzureError] = {}
        found = _attempt(failures, Read.ASSIGNMENTS, lambda: gateway.role_assignments(first.subscription, scope, object_id))
        for p in group:
            p.assignments = tuple(found) if found is not None else None
            p.failures.update(failures)

    def read_permissions(p: ProjectState) -> None:
        found = _attempt(p.failures, Read.PERMISSIONS, lambda: gateway.permissions(p.subscription, p.resource_group, p.name))
        p.permissions = tuple(found) if found is not None else None

    def read_endpoints(p: ProjectState) -> None:
        found = _attempt(p.failures, Read.ENDPOINTS, lambda: gateway.list_endpoints(p.id))
        p.endpoints = tuple(found) if found is not None else None

    def read_marketplace(p: ProjectState) -> None:
        found = _attempt(p.failures, Read.MARKETPLACE, lambda: gateway.list_marketplace_subscriptions(p.id))
        p.marketplace_subscriptions = tuple(found) if found is not None else None

    def read_provider(sub: SubscriptionState, namespace: str) -> None:
        sub.providers[namespace] = _attempt(sub.failures, (Read.PROVIDER, namespace), lambda: gateway.provider_state(sub.id, namespace))

    def read_role(sub: SubscriptionState, role: str) -> None:
        sub.role_ids[role] = _attempt(sub.failures, (Read.ROLE, role), lambda: gateway.role_definition_id(sub.id, role) or "")

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
    with worker_pool(max(1, min(parallel, len(tasks))), "read") as pool:
        for f in [pool.submit(t) for t in tasks]:
            f.result()
    for p in projects.values():
        _confirmed_missing(p)
    return LiveState(identity, identity_error, projects, subscriptions)


def _confirmed_missing(p: ProjectState) -> None:
    """A project Azure says does not exist has nothing in it: its lists' 404s are that, not failures.
    Any other failed list stays a failure (None), so no stage mistakes it for "nothing there"."""
    if p.workspace is not None or Read.PROJECT in p.failures:
        return
    for what in (Read.ENDPOINTS, Read.MARKETPLACE):
        failure = p.failures.get(what)
        if failure is not None and failure.status == 404:
            del p.failures[what]
    if Read.ENDPOINTS not in p.failures:
        p.endpoints = ()
    if Read.MARKETPLACE not in p.failures and p.marketplace_subscriptions is None:
        p.marketplace_subscriptions = ()
