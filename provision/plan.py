"""The plan: a pure function of the spec and what is live. No I/O, no SDK.

Per deployment, in the order apply runs them: subscribe the project to the model's Marketplace
offer (never for models sold by Microsoft; an existing subscription to the offer is used, whatever
its name), then create the endpoint, update it in place (content safety, tags), resume or retry an
unfinished operation, replace it (a model change, only with --allow-replace), adopt an endpoint the
tool did not create (only with --adopt), or nothing. Keys are read on every apply (a read).

Each step says what it does to Azure (its Effect: add, change, replace, destroy, which the output
counts as Terraform does) and, for an endpoint that exists, the values it changes (old -> new).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from .names import TextEnum
from .live import (DEFAULT_STACK, DEPLOYMENT_TAG, MANAGED_TAG, NAMESPACES, STACK_TAG, AccountState, Endpoint, FoundryAccount, FoundryDeployment, LiveState,
                   MarketplaceSubscription, ProjectState, Read, subscription_name)
from .spec import Deployment, Spec


class Action(TextEnum):
    """What a step does to Azure."""

    SUBSCRIBE = "subscribe"
    CREATE = "create"
    UPDATE = "update"
    RETAG = "retag"
    RESUME = "resume"
    REPLACE = "replace"
    ADOPT = "adopt"
    UNSUBSCRIBE = "unsubscribe"
    MOVE = "move"  # the deployment's target changed: switch clients to the new one, then delete the old


SUBSCRIBE, CREATE, UPDATE, RETAG, RESUME, REPLACE, ADOPT, UNSUBSCRIBE, MOVE = Action  # the names the other stages import


class Effect(TextEnum):
    """What a step does to a resource, as a Terraform user counts it."""

    ADD = "add"  # makes a resource that does not exist
    CHANGE = "change"  # changes one in place
    REPLACE = "replace"  # deletes it and makes it again (one add and one destroy)
    DESTROY = "destroy"


EFFECTS = {SUBSCRIBE: Effect.ADD, CREATE: Effect.ADD, REPLACE: Effect.REPLACE, UNSUBSCRIBE: Effect.DESTROY, MOVE: Effect.DESTROY}  # any other action changes in place


@dataclass(frozen=True)
class Change:
    """One value a step changes: `field` (content_safety, model, tags.<name>) from `old` to `new`;
    None is absent (a tag added or removed, content safety left to Azure)."""

    field: str
    old: Optional[str]
    new: Optional[str]

    def __str__(self) -> str:
        def shown(v: Optional[str]) -> str:
            if v is None:
                return "(none)"
            return f'"{v}"' if self.field.startswith("tags.") else v

        return f"{self.field}: {shown(self.old)} → {shown(self.new)}"

    def as_dict(self) -> dict[str, Optional[str]]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Step:
    action: Action
    kind: str  # "marketplace subscription" | "endpoint"
    name: str
    detail: str
    changes: tuple[Change, ...] = ()  # the values it changes on a resource that exists
    existing: bool = False  # it acts on a resource that exists (a subscription resumed or retried is changed, not added)

    @property
    def effect(self) -> Effect:
        effect = EFFECTS.get(self.action, Effect.CHANGE)
        return Effect.CHANGE if effect == Effect.ADD and self.existing else effect

    def __str__(self) -> str:
        return f"{self.short}" + (f" ({self.detail})" if self.detail else "")

    @property
    def short(self) -> str:
        return f"{self.action} {self.kind} {self.name}"


@dataclass(frozen=True)
class DeploymentPlan:
    deployment: Deployment
    steps: tuple[Step, ...]
    subscription_name: Optional[str]  # the Marketplace subscription the endpoint relies on
    location: Optional[str]  # the project's region (where the endpoint lives)
    endpoint_tags: dict[str, str] = field(default_factory=dict)
    live_endpoint: Optional[Endpoint] = None
    blocked: Optional[str] = None  # the plan could not be made: why (a check says how to fix it)
    live_deployment: Optional[FoundryDeployment] = None  # foundry: the deployment as it is
    account: Optional[FoundryAccount] = None  # foundry: the resource it is on
    moved: Optional[Endpoint | FoundryDeployment] = None  # the deployment as it still runs on its old target (a MOVE deletes it)

    @property
    def changes(self) -> bool:
        return bool(self.steps)

    @property
    def moved_subscription(self) -> Optional[str]:
        """The old endpoint's Marketplace subscription a move to Foundry deletes too (its unsubscribe step)."""
        if self.moved is None or not self.deployment.foundry:
            return None
        return next((s.name for s in self.steps if s.action == UNSUBSCRIBE), None)


@dataclass(frozen=True)
class Registration:
    subscription: str
    namespace: str  # as Azure spells it

    def __str__(self) -> str:
        return f"register provider {self.namespace} on subscription {self.subscription}"


@dataclass(frozen=True)
class Plan:
    registrations: tuple[Registration, ...]
    deployments: tuple[DeploymentPlan, ...]

    @property
    def changes(self) -> bool:
        return bool(self.registrations) or any(d.changes for d in self.deployments)

    @property
    def complete(self) -> bool:
        """Every deployment could be planned (none blocked by what could not be read)."""
        return not any(d.blocked for d in self.deployments)

    def writes(self) -> int:
        return len(self.registrations) + sum(len(d.steps) for d in self.deployments)

    def counts(self) -> tuple[int, int, int]:
        """(to add, to change, to destroy), as Terraform counts them: a replacement is one add and
        one destroy; a provider registration is an add; Marketplace subscriptions count."""
        effects = [s.effect for d in self.deployments for s in d.steps]
        add = len(self.registrations) + sum(e in (Effect.ADD, Effect.REPLACE) for e in effects)
        return add, sum(e == Effect.CHANGE for e in effects), sum(e in (Effect.DESTROY, Effect.REPLACE) for e in effects)


def desired_tags(d: Deployment) -> dict[str, str]:
    """The spec's tags and provision's marks. The default stack is the absence of a stack tag, so
    endpoints made before stacks existed stay the default stack's without a retag."""
    stack = {} if d.stack == DEFAULT_STACK else {STACK_TAG: d.stack}
    return {**dict(d.tags), MANAGED_TAG: "true", DEPLOYMENT_TAG: d.name, **stack}


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


RESUME_SUBSCRIPTION = "resume the unfinished subscription"


def subscribes(d: Deployment, p: ProjectState) -> bool:
    """Whether the plan has a subscribe step for the deployment (new, resumed or retried)."""
    return bool(_subscription_steps(d, p)[0])


def _subscription_steps(d: Deployment, p: ProjectState) -> tuple[list[Step], Optional[str]]:
    if d.microsoft_sold:
        return [], None
    found: Optional[MarketplaceSubscription] = next((s for s in p.marketplace_subscriptions or () if _same(s.model_id, d.model_id)), None)
    if found is None:
        name = subscription_name(d.model_name, d.stack)
        return [Step(SUBSCRIBE, "marketplace subscription", name, f"accepts the terms of {d.model_name}'s Marketplace offer; pay-as-you-go billing")], name
    state = found.provisioning_state.lower()
    if state in ("creating", "updating"):
        return [Step(SUBSCRIBE, "marketplace subscription", found.name, RESUME_SUBSCRIPTION, existing=True)], found.name
    if state in ("failed", "canceled") or found.status.lower() == "unsubscribed":
        return [Step(SUBSCRIBE, "marketplace subscription", found.name, f"retry ({found.provisioning_state}, {found.status})", existing=True)], found.name
    return [], found.name


def _endpoint_steps(d: Deployment, p: ProjectState, tags: dict[str, str]) -> tuple[list[Step], Optional[Endpoint]]:
    live = next((e for e in p.endpoints or () if _same(e.name, d.name)), None)
    if live is None:
        return [Step(CREATE, "endpoint", d.name, d.model_name)], None
    if not live.owned_by(d.stack, d.name):
        return [Step(ADOPT, "endpoint", d.name, f"exists but is not this spec's ({owner_of(live)}): add its tags", endpoint_changes(d, live, tags), True)], live
    if not _same(live.model_id, d.model_id):
        old = live.model_id.rsplit('/', 1)[-1]
        steps = [Step(REPLACE, "endpoint", d.name, f"model {old} -> {d.model_name}: delete and create", (Change("model", old, d.model_name),), True)]
        return steps + _retired_subscription(d, p, live), live
    unfinished = _unfinished("endpoint", d.name, live.provisioning_state)
    if unfinished:
        return unfinished, live
    changes = endpoint_changes(d, live, tags)
    words = [f"content safety {'enabled' if d.content_safety else 'disabled'}"]
    return _in_place("endpoint", d.name, changes, words), live


def _in_place(kind: str, name: str, changes: tuple[Change, ...], words: list[str]) -> list[Step]:
    """Nothing, a retag (tags only), or an update of `words` (and the tags) in place."""
    if not changes:
        return []
    if all(c.field.startswith("tags.") for c in changes):
        return [Step(RETAG, kind, name, "tags", changes, True)]
    words = words + (["tags"] if any(c.field.startswith("tags.") for c in changes) else [])
    return [Step(UPDATE, kind, name, ", ".join(words), changes, True)]


def _unfinished(kind: str, name: str, state: str) -> list[Step]:
    """Resume an operation that has not ended, or retry one that failed."""
    if state.lower() in ("accepted", "creating", "updating"):
        return [Step(RESUME, kind, name, f"wait for the unfinished operation ({state})", existing=True)]
    if state.lower() in ("failed", "canceled"):
        return [Step(RESUME, kind, name, f"retry ({state})", existing=True)]
    return []


def _safety(value: Optional[bool]) -> Optional[str]:
    return None if value is None else ("Enabled" if value else "Disabled")


def endpoint_changes(d: Deployment, live: Endpoint, tags: Optional[Mapping[str, str]] = None) -> tuple[Change, ...]:
    """What an update in place would change on the live endpoint: content safety (when the spec
    sets it), then every tag added, changed or removed, by name. Audit's drift is the same list."""
    wanted = desired_tags(d) if tags is None else tags
    out = []
    if d.content_safety is not None and live.content_safety is not d.content_safety:
        out.append(Change("content_safety", _safety(live.content_safety), _safety(d.content_safety)))
    for name in sorted(set(wanted) | set(live.tags)):
        if wanted.get(name) != live.tags.get(name):
            out.append(Change(f"tags.{name}", live.tags.get(name), wanted.get(name)))
    return tuple(out)


def _foundry_steps(d: Deployment, a: AccountState, tags: dict[str, str]) -> tuple[list[Step], Optional[FoundryDeployment]]:
    """A Foundry deployment: create, update in place (version, SKU, capacity, content filter, tags),
    resume, replace (another model: delete and create), adopt, or nothing."""
    live = a.deployment(d.name)
    if live is None:
        return [Step(CREATE, "deployment", d.name, f"{d.model_name} on {d.account}")], None
    if not live.owned_by(d.stack, d.name):
        return [Step(ADOPT, "deployment", d.name, f"exists but is not this spec's ({owner_of(live)}): add its tags", foundry_changes(d, live, tags), True)], live
    if not _same(live.model_name, d.model_name):
        return [Step(REPLACE, "deployment", d.name, f"model {live.model_name} -> {d.model_name}: delete and create",
                     (Change("model", live.model_name, d.model_name),), True)], live
    unfinished = _unfinished("deployment", d.name, live.provisioning_state)
    if unfinished:
        return unfinished, live
    changes = foundry_changes(d, live, tags)
    return _in_place("deployment", d.name, changes, [c.field for c in changes if not c.field.startswith("tags.")]), live


def foundry_changes(d: Deployment, live: FoundryDeployment, tags: Optional[Mapping[str, str]] = None) -> tuple[Change, ...]:
    """What an update in place would change on a live Foundry deployment: what the spec sets (a
    version, the SKU, a capacity, a content filter) where it differs, then the tags. Audit's drift too."""
    wanted = desired_tags(d) if tags is None else tags
    out = []
    for name, mine, theirs in (("version", d.version, live.model_version), ("sku", d.sku, live.sku),
                               ("capacity", None if d.capacity is None else str(d.capacity), None if live.capacity is None else str(live.capacity)),
                               ("content_filter", d.content_filter, live.content_filter)):
        if mine is not None and (theirs is None or mine.lower() != theirs.lower()):
            out.append(Change(name, theirs, mine))
    for name in sorted(set(wanted) | set(live.tags)):
        if wanted.get(name) != live.tags.get(name):
            out.append(Change(f"tags.{name}", live.tags.get(name), wanted.get(name)))
    return tuple(out)


def owner_of(e: Endpoint | FoundryDeployment) -> str:
    """Who an endpoint belongs to, in words."""
    if e.stack is None:
        return "not created by provision"
    if e.tags.get(DEPLOYMENT_TAG) != e.name:
        return f"its provision marks are incomplete or do not match (stack '{e.stack}', deployment {e.tags.get(DEPLOYMENT_TAG)!r})"
    return f"made by the spec of stack '{e.stack}'"


def _retired_subscription(d: Deployment, p: ProjectState, old: Endpoint) -> list[Step]:
    """After a model change, the old model's subscription (if this stack made it and no other
    endpoint uses it) is what the replacement leaves behind: unsubscribe it too."""
    if d.microsoft_sold:
        return []
    sub = next((s for s in p.marketplace_subscriptions or () if _same(s.model_id, old.model_id)), None)
    users = [e for e in p.endpoints or () if e.name != old.name and _same(e.model_id, old.model_id)]
    if sub is None or users or not sub.owned_by(d.stack):
        return []
    return [Step(UNSUBSCRIBE, "marketplace subscription", sub.name, f"the old model's ({sub.model_name}); nothing else uses it", existing=True)]


def plan_changes(spec: Spec, live: LiveState) -> Plan:
    registrations: list[Registration] = []
    for sub in sorted(live.subscriptions.values(), key=lambda s: s.id):
        for ns in sorted(sub.providers):
            state = sub.providers[ns]
            if state and state.lower() != "registered":
                registrations.append(Registration(sub.id, NAMESPACES.get(ns, ns)))
    plans = []
    for d in spec.deployments:
        tags = desired_tags(d)
        if d.foundry:
            plans.append(_foundry_plan(d, live, tags))
            continue
        p = live.projects[d.project_key]
        if not p.listed:
            plans.append(DeploymentPlan(d, (), None, None, tags, None, blocked=_blocked(live, "the project", p.workspace is None and Read.PROJECT not in p.failures)))
            continue
        assert p.workspace is not None  # listed
        sub_steps, sub_name = _subscription_steps(d, p)
        ep_steps, live_ep = _endpoint_steps(d, p, tags)
        moving, old = _moving(d, live)
        plans.append(DeploymentPlan(d, tuple(sub_steps + ep_steps + moving), sub_name, p.workspace.location, tags, live_ep, moved=old))
    return Plan(tuple(registrations), tuple(plans))


def _moving(d: Deployment, live: LiveState) -> tuple[list[Step], Optional[Endpoint | FoundryDeployment]]:
    """The steps that move a deployment whose `target` changed: the old one, where it still runs
    (in the other target's home `defaults` names) with this spec's marks, is deleted once the new
    one is proven and the secrets entry points at it (its Marketplace subscription too, when this
    spec made it and nothing else uses it)."""
    old = moved_resource(d, live)
    if old is None:
        return [], None
    where = f"project {d.moved_from}" if d.foundry else f"Foundry resource {d.moved_from}"
    steps = [Step(MOVE, "endpoint" if d.foundry else "deployment", d.name,
                  f"from {where}: prove the new one, switch the secrets entry, wait --grace, then delete the old", existing=True)]
    sub = _moved_subscription(d, live, old)
    if sub is not None:
        steps.append(Step(UNSUBSCRIBE, "marketplace subscription", sub, f"the old endpoint's ({where}); nothing else uses it", existing=True))
    return steps, old


def moved_resource(d: Deployment, live: LiveState) -> Optional[Endpoint | FoundryDeployment]:
    key = d.moved_from_key
    if key is None:
        return None
    if d.foundry:
        p = live.projects.get(key)
        old: Optional[Endpoint | FoundryDeployment] = p.endpoint(d.name) if p is not None else None
    else:
        a = live.accounts.get(key)
        old = a.deployment(d.name) if a is not None else None
    return old if old is not None and old.owned_by(d.stack, d.name) else None


def _moved_subscription(d: Deployment, live: LiveState, old: Endpoint | FoundryDeployment) -> Optional[str]:
    if not isinstance(old, Endpoint) or d.moved_from_key is None:
        return None
    p = live.projects[d.moved_from_key]
    sub = next((s for s in p.marketplace_subscriptions or () if old.uses(s)), None)
    users = [e for e in p.endpoints or () if e.name.lower() != old.name.lower() and sub is not None and e.uses(sub)]
    return sub.name if sub is not None and not users and sub.owned_by(d.stack) else None


def _blocked(live: LiveState, home: str, missing: bool) -> str:
    """Why a deployment cannot be planned: nothing read, or its home missing or unread."""
    if live.identity is None:
        return "nothing could be read from Azure"
    return f"{home} " + ("does not exist" if missing else "could not be read")


def _foundry_plan(d: Deployment, live: LiveState, tags: dict[str, str]) -> DeploymentPlan:
    a = live.accounts[d.account_key]
    if not a.listed:
        return DeploymentPlan(d, (), None, None, tags, None, blocked=_blocked(live, "the Foundry resource", a.account is None and Read.ACCOUNT not in a.failures))
    assert a.account is not None
    steps, current = _foundry_steps(d, a, tags)
    moving, old = _moving(d, live)
    return DeploymentPlan(d, tuple(steps + moving), None, a.account.location, tags, None, live_deployment=current, account=a.account, moved=old)


def secret_values(dp: DeploymentPlan) -> Optional[dict[str, Optional[str]]]:
    """The values (but the key: None) a deployment's secrets entry holds while it keeps its place:
    URL, OpenAI URL and, for Foundry, the deployment name clients pass as `model`."""
    d = dp.deployment
    if d.foundry:
        if dp.account is None or not dp.account.base_url:
            return None
        wanted: dict[str, Optional[str]] = {d.url_var: dp.account.inference_url, d.key_var: None}
        if d.model_var:
            wanted[d.model_var] = d.name
        if d.openai_url_var:
            wanted[d.openai_url_var] = dp.account.openai_url
        return wanted
    e = dp.live_endpoint
    if e is None or not e.uri:
        return None
    wanted = {d.url_var: e.uri, d.key_var: None}
    if d.openai_url_var:
        wanted[d.openai_url_var] = e.uri.rstrip("/") + "/v1"
    return wanted


def stale_secrets(plan: Plan, held: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """deployment -> the variables of its secrets entry that apply will write again although the
    endpoint keeps its URL: missing, or a URL that is not the live endpoint's. (Whether the stored key
    is still one of the endpoint's needs a listKeys, which the plan does not make; audit does.)"""
    out = {}
    for dp in plan.deployments:
        d = dp.deployment
        wanted = secret_values(dp)
        existing = dp.live_deployment if d.foundry else dp.live_endpoint
        if dp.blocked or wanted is None or existing is None or any(s.effect == Effect.REPLACE for s in dp.steps):
            continue
        stale = tuple(v for v, value in wanted.items() if v not in held or (value is not None and held[v] != value))
        if stale:
            out[d.name] = stale
    return out
