"""Read what is live for a spec, concurrently, through the gateway. Read-only; a read that fails
is recorded under its name (`Read`) with Azure's error, and what it would have read stays None:
the checks and the plan see "could not read", never an empty list."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Optional, TypeVar

from .errors import AzureError
from .azureapi import AzureApi
from .catalog import split_model_id
from .live import COGNITIVE, MLS, SAAS, AccountState, Endpoint, covers, role_guid, subscription_wide, LiveState, ModelState, NameScan, ProjectState, Read, RoleDefinition, SubscriptionState, Workspace
from .plan import subscribes
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


def read_live(spec: Spec, gateway: AzureApi, parallel: int = 32, catalog: bool = False, names: bool = False,
              endpoint_models: bool = False) -> LiveState:
    """Everything the spec's deployments touch, read at once. `catalog`: also what the model
    registry says of each model (`endpoint_models`: also of the models live endpoints serve); `names`: also the
    endpoints elsewhere in a region where one of the spec's is to be created (names are unique
    per region). Role definitions are read beyond the required role's only when the caller does
    not hold it by name (to see whether another role covers it)."""
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
    models: dict[str, ModelState] = {}
    accounts: dict[tuple[str, str, str], AccountState] = {}
    for d in spec.deployments:
        sub = subscriptions.setdefault(d.subscription, SubscriptionState(d.subscription))
        sub.role_ids.setdefault(d.required_role.lower(), None)
        moved = d.moved_from_key
        if moved is not None and d.moved_from:  # where it ran before its target changed: read too, to move it from there
            if d.foundry:
                projects.setdefault(moved, ProjectState(d.subscription, d.resource_group, d.moved_from))
            else:
                accounts.setdefault(moved, AccountState(d.subscription, d.resource_group, d.moved_from))
        if d.foundry:  # the Foundry resource's own model list is its catalog: no registry read
            sub.providers.setdefault(COGNITIVE, None)
            accounts.setdefault(d.account_key, AccountState(d.subscription, d.resource_group, d.account))
            continue
        sub.providers.setdefault(MLS, None)
        if not d.microsoft_sold:
            sub.providers.setdefault(SAAS, None)
        models.setdefault(d.model_id.lower(), ModelState(d.model_id))
        projects.setdefault(d.project_key, ProjectState(d.subscription, d.resource_group, d.project))
    if identity is None:  # nothing else can be read without a credential
        return LiveState(None, identity_error, projects, subscriptions, models if catalog else {}, accounts=accounts)
    marketplace_projects = {d.project_key for d in spec.deployments if not d.microsoft_sold and not d.foundry}
    # a deployment moving to Foundry leaves its old project's subscription to the model: read it, to delete it too
    marketplace_projects |= {key for d in spec.deployments if d.foundry and not d.microsoft_sold and (key := d.moved_from_key) is not None}
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

    def read_assignments(group: list[ProjectState | AccountState]) -> None:
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

    visible = Visible()

    def read_endpoints(p: ProjectState) -> None:
        found = _attempt(p.failures, Read.ENDPOINTS, lambda: gateway.list_endpoints(p.id))
        p.endpoints = tuple(found) if found is not None else None
        if names and p.endpoints is not None and any(not d.foundry and projects[d.project_key] is p and p.endpoint(d.name) is None for d in spec.deployments):
            # an endpoint is to be made here: list what the caller can see (once), while the other reads run
            visible.list_once(lambda: list_visible(gateway, visible, parallel))

    def read_marketplace(p: ProjectState) -> None:
        found = _attempt(p.failures, Read.MARKETPLACE, lambda: gateway.list_marketplace_subscriptions(p.id))
        p.marketplace_subscriptions = tuple(found) if found is not None else None

    def read_provider(sub: SubscriptionState, namespace: str) -> None:
        sub.providers[namespace] = _attempt(sub.failures, (Read.PROVIDER, namespace), lambda: gateway.provider_state(sub.id, namespace))

    def read_name(sub: SubscriptionState) -> None:
        # for text only: a subscription that cannot be named is shown by its id, never a failure
        try:
            sub.display_name = gateway.subscription_display_name(sub.id)
        except AzureError:
            pass

    def read_role(sub: SubscriptionState, role: str) -> None:
        found = _attempt(sub.failures, (Read.ROLE, role), lambda: gateway.role_definition(sub.id, role) or RoleDefinition("", role, ()))
        if found is not None:
            sub.role_ids[role] = found.id
            if found.id:
                sub.roles[found.id] = found

    def read_account(a: AccountState) -> None:
        a.account = _attempt(a.failures, Read.ACCOUNT, lambda: gateway.get_account(a.id))
        if a.account is None:
            if Read.ACCOUNT not in a.failures:  # gone: nothing in it
                a.deployments, a.models = (), ()
            return
        found = _attempt(a.failures, Read.DEPLOYMENTS, lambda: gateway.list_foundry_deployments(a.id))
        a.deployments = tuple(found) if found is not None else None
        if catalog:
            models = _attempt(a.failures, Read.ACCOUNT_MODELS, lambda: gateway.list_account_models(a.id))
            a.models = tuple(models) if models is not None else None

    def read_account_permissions(a: AccountState) -> None:
        found = _attempt(a.failures, Read.PERMISSIONS, lambda: gateway.account_permissions(a.subscription, a.resource_group, a.name))
        a.permissions = tuple(found) if found is not None else None

    groups: dict[tuple[str, str], list[ProjectState | AccountState]] = {}
    homes: list[ProjectState | AccountState] = [*projects.values(), *accounts.values()]
    for home in homes:
        groups.setdefault((home.subscription.lower(), home.resource_group.lower()), []).append(home)
    # Every read is independent of the others (a missing project lists as empty), so all run at once.
    tasks: list[Callable[[], None]] = []
    for sub in subscriptions.values():
        tasks += [partial(read_provider, sub, ns) for ns in list(sub.providers)]
        tasks += [partial(read_role, sub, role) for role in list(sub.role_ids)]
        tasks.append(partial(read_name, sub))
    tasks += [partial(read_assignments, group) for group in groups.values()]
    for key, p in projects.items():
        tasks += [partial(read_workspace, p), partial(read_permissions, p), partial(read_endpoints, p)]
        if key in marketplace_projects:
            tasks.append(partial(read_marketplace, p))
    for a in accounts.values():
        tasks += [partial(read_account, a), partial(read_account_permissions, a)]
    if catalog:
        tasks += [partial(read_model, gateway, m) for m in models.values()]
    _run(tasks, parallel)
    for p in projects.values():
        _confirmed_missing(p)
    live = LiveState(identity, identity_error, projects, subscriptions, models if catalog else {}, accounts=accounts)
    followups: list[Callable[[], None]] = [partial(read_covering_roles, gateway, spec, live)]
    if endpoint_models:
        followups += [partial(read_model, gateway, live.models.setdefault(e.model_id.lower(), ModelState(e.model_id)))
                      for p in projects.values() for e in p.endpoints or () if e.model_id and e.model_id.lower() not in live.models]
    if names:
        followups += [partial(scan_region, gateway, live, visible, region, parallel) for region in regions_to_scan(spec, live)]
    _run(followups, parallel)
    return live


def _run(tasks: list[Callable[[], None]], parallel: int) -> None:
    if not tasks:
        return
    with worker_pool(max(1, min(parallel, len(tasks))), "read") as pool:
        for f in [pool.submit(t) for t in tasks]:
            f.result()


def read_model(gateway: AzureApi, m: ModelState) -> None:
    """The registry's answer for one model; its names too when it has no such model (did-you-mean)."""
    registry, name = split_model_id(m.model_id)
    try:
        m.found = gateway.registry_model(registry, name)
        m.read = True
        if m.found is None:
            m.names = tuple(gateway.registry_model_names(registry))
    except AzureError as exc:
        m.failure = exc


def read_covering_roles(gateway: AzureApi, spec: Spec, live: LiveState, parallel: int = 8) -> None:
    """Role definitions beyond the required role's, only where needed: where the caller does not
    hold the required role by name, those of the roles it holds over the project (an Owner or
    Contributor covers Azure AI Developer by effect); and where a Marketplace subscription is to
    be made, those of the roles it holds over the whole subscription (the Marketplace terms are
    signed there: a role on the resource group alone does not reach them)."""
    wanted: dict[str, set[str]] = {}  # subscription -> role definition ids to read
    for d in spec.deployments:
        sub = live.subscriptions[d.subscription]
        home: ProjectState | AccountState = live.accounts[d.account_key] if d.foundry else live.projects[d.project_key]
        if home.assignments is None:
            continue
        role_id = sub.role_ids.get(d.required_role.lower())
        held = [a for a in home.assignments if covers(a.scope, home.id)]
        if role_id and not any(role_guid(a.role_definition_id) == role_id for a in held):
            wanted.setdefault(d.subscription, set()).update(a.role_definition_id for a in held)
        buys = not d.microsoft_sold if d.foundry else (isinstance(home, ProjectState) and home.marketplace_subscriptions is not None and subscribes(d, home))
        if buys:  # a Marketplace offer is to be bought: read what signs the terms (at the subscription)
            wanted.setdefault(d.subscription, set()).update(a.role_definition_id for a in home.assignments if subscription_wide(a))
    tasks: list[Callable[[], None]] = []
    for subscription, ids in wanted.items():
        sub = live.subscriptions[subscription]
        tasks += [partial(_read_role_by_id, gateway, sub, rid) for rid in sorted(ids) if role_guid(rid) not in sub.roles]
    _run(tasks, parallel)


def _read_role_by_id(gateway: AzureApi, sub: SubscriptionState, role_definition_id: str) -> None:
    found = _attempt(sub.failures, (Read.ROLE, role_definition_id.lower()), lambda: gateway.role_definition_by_id(sub.id, role_definition_id))
    if found is not None:
        sub.roles[found.id] = found


def regions_to_scan(spec: Spec, live: LiveState) -> list[str]:
    """Regions where an endpoint of the spec is to be created: its project read, no endpoint of that name in it."""
    regions = set()
    for d in spec.deployments:
        if d.foundry:  # a Foundry deployment's name is unique in its resource only
            continue
        p = live.projects[d.project_key]
        if p.hub is not None and p.endpoints is not None and p.endpoint(d.name) is None:
            regions.add(p.hub.location)
    return sorted(regions)


@dataclass
class Visible:
    """The workspaces of every subscription the caller can read (listed while the spec's own
    projects are read, so the name check costs one more round, not three)."""

    workspaces: list[Workspace] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    listing: threading.Lock = field(default_factory=threading.Lock)
    listed: bool = False

    def list_once(self, read: Callable[[], None]) -> None:
        """Run `read` the first time only; a second caller waits until it has finished."""
        with self.listing:
            if not self.listed:
                self.listed = True
                read()


def list_visible(gateway: AzureApi, visible: Visible, parallel: int) -> None:
    try:
        subscriptions = gateway.list_subscriptions()
    except AzureError as exc:
        visible.unread.append(f"the caller's subscriptions ({exc})")
        return

    def workspaces(subscription: str) -> None:
        try:
            listed = gateway.list_subscription_workspaces(subscription)
        except AzureError as exc:
            with visible.lock:
                visible.unread.append(f"subscription {subscription} ({exc})")
            return
        with visible.lock:
            visible.workspaces.extend(listed)

    _run([partial(workspaces, s) for s in subscriptions], parallel)


def scan_region(gateway: AzureApi, live: LiveState, visible: Visible, region: str, parallel: int) -> None:
    """The endpoints of every project in `region` the caller can see, outside the spec's projects
    (those were read already)."""
    mine = {p.id.lower() for p in live.projects.values()}
    projects = [w for w in visible.workspaces if w.location == region and w.kind.lower() == "project" and w.id.lower() not in mine]
    unread = list(visible.unread)
    endpoints: list[Endpoint] = []
    lock = threading.Lock()

    def endpoints_of(w: Workspace) -> None:
        try:
            listed = gateway.list_endpoints(w.id)
        except AzureError as exc:
            with lock:
                unread.append(f"project {w.name} ({exc})")
            return
        with lock:
            endpoints.extend(listed)

    _run([partial(endpoints_of, w) for w in projects], parallel)
    live.names[region] = NameScan(region, tuple(sorted(endpoints, key=lambda e: e.id.lower())), len(projects), tuple(sorted(unread)))


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
