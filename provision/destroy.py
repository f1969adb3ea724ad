"""Teardown: a pure plan of what to delete, then the deletes in dependency order.

Only what the spec names and provision made: an endpoint needs the `provision:managed` tag, a
Marketplace subscription the `-provision` name (subscriptions cannot carry tags), unless the caller
says --include-unmanaged. The endpoint goes first (and is waited for); then its Marketplace
subscription, unless another endpoint in the project still uses it or --keep-subscription (deleting
a subscription first leaves its endpoints unhealthy). Already gone is done.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .apply import Progress
from .access import allowed
from .checks import Check, Finding, identity_findings, unread_finding
from .findings import _cannot_read
from .errors import AzureError, Phase, explain
from .azureapi import AzureApi
from .foundrychecks import CS
from .live import account_id, project_id
from .live import AccountState, Endpoint, FoundryDeployment, LiveState, MarketplaceSubscription, ProjectState, Read, subscription_name, subscription_of
from .names import TextEnum
from .plan import owner_of
from .spec import Deployment, Spec
from .workers import run_all, worker_pool


class Disposal(TextEnum):
    """What destroy does with an endpoint or a subscription."""

    DELETE = "delete"
    GONE = "gone"
    KEEP = "keep"
    REFUSE = "refuse"
    UNREAD = "unread"  # it could not be read: nothing is claimed about it, nothing is deleted


DELETE, GONE, KEEP, REFUSE, UNREAD = Disposal


@dataclass(frozen=True)
class DestroyItem:
    deployment: Deployment
    endpoint: Optional[Endpoint | FoundryDeployment]  # the serverless endpoint, or the Foundry deployment
    endpoint_action: Disposal  # delete | gone | refuse | unread
    subscription: Optional[MarketplaceSubscription]
    subscription_action: Disposal  # delete | keep | gone | unread
    reason: str = ""  # why a subscription is kept, or an endpoint refused
    project_exists: bool = True  # a mistyped project deletes nothing and forgets no secrets entry
    orphan: bool = False  # made by this stack, no longer in the spec (`destroy --orphans`); `deployment` stands in for it

    def lines(self) -> list[str]:
        d = self.deployment
        what, home = ("deployment", d.account) if d.foundry else ("endpoint", d.project)
        out = []
        if self.orphan and self.endpoint is None:
            pass  # a subscription left behind on its own
        elif self.endpoint_action == DELETE:
            out.append(f"  - delete {what} {d.name} ({home})")
        elif not self.project_exists:
            where = f"Foundry resource {d.account}" if d.foundry else f"project {d.project}"
            out.append(f"  = {what} {d.name}: {where} does not exist in {d.resource_group}; nothing to delete, its secrets entries are kept")
        elif self.endpoint_action == UNREAD:
            out.append(f"  ? {what} {d.name} ({home}): could not be read; nothing is deleted")
        elif self.endpoint_action == GONE:
            out.append(f"  = {what} {d.name} ({home}): already gone")
        else:
            out.append(f"  ! {what} {d.name} ({home}): refused: {self.reason}")
        if self.subscription is not None:
            name = self.subscription.name
            if self.subscription_action == DELETE:
                out.append(f"  - delete marketplace subscription {name} ({d.project})")
            elif self.subscription_action == KEEP:
                out.append(f"  = keep marketplace subscription {name} ({d.project}): {self.reason}")
        elif self.subscription_action == UNREAD:
            out.append(f"  ? marketplace subscription of {d.name} ({d.project}): could not be read; nothing is deleted")
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.deployment.name,
            "target": self.deployment.target,
            "project": self.deployment.project or None,
            "account": self.deployment.account or None,
            "endpoint": {"action": self.endpoint_action, "exists": None if self.endpoint_action == UNREAD else self.endpoint is not None},
            "subscription": {"name": self.subscription.name if self.subscription else None, "action": self.subscription_action},
            "reason": self.reason,
            "project_exists": self.project_exists,
        }


def plan_destroy(spec: Spec, live: LiveState, only: tuple[str, ...] = (), keep_subscription: bool = False, include_unmanaged: bool = False) -> list[DestroyItem]:
    chosen = [d for d in spec.deployments if not only or d.name.lower() in {o.lower() for o in only}]
    leaving = {(d.project_key, d.name.lower()) for d in chosen}
    items = []
    for d in chosen:
        if d.foundry:
            items.append(_foundry_item(d, live.accounts[d.account_key], include_unmanaged))
            continue
        p = live.projects[d.project_key]
        endpoint = p.endpoint(d.name)
        action, reason = _disposal(d, p.endpoints is not None, endpoint, include_unmanaged)
        sub = None if d.microsoft_sold else subscription_of(d.model_id, endpoint, p.marketplace_subscriptions or ())
        sub_action = UNREAD if p.marketplace_subscriptions is None and not d.microsoft_sold else GONE
        if sub is not None and action == UNREAD:
            sub_action, reason = KEEP, "the project's endpoints could not be read, so whether one still uses it is unknown"
        elif sub is not None:
            users = [e.name for e in p.endpoints or () if (d.project_key, e.name.lower()) not in leaving and e.uses(sub)]
            if action == REFUSE:
                sub_action = KEEP
            elif keep_subscription:
                sub_action, reason = KEEP, "--keep-subscription"
            elif users:
                sub_action, reason = KEEP, f"endpoint {', '.join(sorted(users))} still uses it"
            elif not sub.owned_by(d.stack) and not include_unmanaged:
                sub_action, reason = KEEP, f"not made by this spec (provision names its own {subscription_name(sub.model_name, d.stack)})"
            else:
                sub_action = DELETE
        items.append(DestroyItem(d, endpoint, action, sub, sub_action, reason, project_exists=p.workspace is not None))
    return items


def _disposal(d: Deployment, listed: bool, live: Optional[Endpoint | FoundryDeployment], include_unmanaged: bool) -> tuple[Disposal, str]:
    """What destroy does with the deployment's endpoint (or Foundry deployment), and why."""
    if not listed:
        return UNREAD, ""
    if live is None:
        return GONE, ""
    if not live.owned_by(d.stack, d.name) and not include_unmanaged:
        return REFUSE, f"it is not this spec's ({owner_of(live)}); pass --include-unmanaged to delete it anyway"
    return DELETE, ""


def _foundry_item(d: Deployment, a: AccountState, include_unmanaged: bool) -> DestroyItem:
    """A Foundry deployment: deleted when it is this spec's. Azure bought a partner model's offer
    itself on the first deployment; there is no subscription resource of ours to delete."""
    live = a.deployment(d.name)
    action, reason = _disposal(d, a.deployments is not None, live, include_unmanaged)
    return DestroyItem(d, live, action, None, GONE, reason, project_exists=a.account is not None or Read.ACCOUNT in a.failures)


def _stand_in(d: Deployment, name: str, model_id: str) -> Deployment:
    """A deployment of the spec's project standing for a resource the spec no longer names."""
    return dataclasses.replace(d, name=name, model_id=model_id, tags={}, url_var="", key_var="", openai_url_var=None, line=None)


def plan_orphans(spec: Spec, live: LiveState) -> list[DestroyItem]:
    """What this spec's stack made in the spec's projects and the spec no longer names: its
    endpoints (each with its subscription when nothing else uses it), then subscriptions with no
    endpoint at all. Exact ownership marks only; a project whose endpoints were not read is skipped
    (destroy_checks reports it)."""
    items: list[DestroyItem] = []
    done: set[tuple[str, ...]] = set()
    for d in spec.deployments:
        if d.foundry:
            items += _foundry_orphans(spec, d, live.accounts[d.account_key], done)
            continue
        p = live.projects[d.project_key]
        if d.project_key in done or p.endpoints is None or p.marketplace_subscriptions is None and not d.microsoft_sold:
            continue
        done.add(d.project_key)
        here = [x for x in spec.deployments if x.project_key == d.project_key]
        named, wanted = {x.name.lower() for x in here}, {x.model_id.lower() for x in here}
        orphans = [e for e in p.endpoints if e.name.lower() not in named and e.owned_by(spec.stack)]
        staying = [e for e in p.endpoints if e not in orphans]
        subs = [s for s in p.marketplace_subscriptions or () if s.owned_by(spec.stack) and s.model_id.lower() not in wanted and not any(e.uses(s) for e in staying)]
        for e in orphans:
            sub = next((s for s in subs if e.uses(s)), None)
            items.append(DestroyItem(_stand_in(d, e.name, e.model_id), e, DELETE, sub, DELETE if sub else GONE, orphan=True))
        for s in subs:
            if not any(e.uses(s) for e in orphans):
                items.append(DestroyItem(_stand_in(d, s.name, s.model_id), None, GONE, s, DELETE, orphan=True))
    return items


def _foundry_orphans(spec: Spec, d: Deployment, a: AccountState, done: set[tuple[str, ...]]) -> list[DestroyItem]:
    """The deployments this stack made on the resource that the spec no longer names (once per resource)."""
    key = ("foundry", *d.account_key)
    if key in done or a.deployments is None:
        return []
    done.add(key)
    named = {x.name.lower() for x in spec.deployments if x.foundry and x.account_key == d.account_key}
    return [DestroyItem(_stand_in(d, x.name, x.model_name), x, DELETE, None, GONE, orphan=True)
            for x in a.deployments if x.name.lower() not in named and x.owned_by(spec.stack)]


def _home_findings(d: Deployment, live: LiveState) -> list[Finding]:
    if not d.foundry:
        return _project_findings(d, live.projects[d.project_key])
    a = live.accounts[d.account_key]
    for what, words in ((Read.ACCOUNT, f"could not read Foundry resource {d.account}"), (Read.DEPLOYMENTS, f"could not list the deployments of Foundry resource {d.account}")):
        if what in a.failures:
            return [_cannot_read(Check.ACCOUNT, d.name, words, a.failures[what], "check `account` in the spec, and the caller's access")]
    if a.account is None:
        return [Finding(Check.ACCOUNT, d.name, True, f"Foundry resource {d.account} does not exist: nothing to delete")]
    return []


def _project_findings(d: Deployment, p: ProjectState) -> list[Finding]:
    findings = [unread_finding(d, p, what) for what in sorted(p.failures) if what in (Read.PROJECT, Read.ENDPOINTS, Read.MARKETPLACE)]
    if p.workspace is None and Read.PROJECT not in p.failures:
        findings.append(Finding(Check.PROJECT, d.name, True, f"project {d.project} does not exist: nothing to delete"))
    return findings


def destroy_checks(items: list[DestroyItem], live: LiveState, deployments: Optional[list[Deployment]] = None) -> list[Finding]:
    """What may stop the deletes. `deployments`: those whose projects destroy looked at (default:
    the items'; `--orphans` looks at every project of the spec, also those that give no item)."""
    findings = identity_findings(live)
    if live.identity is None:
        return findings
    for d in deployments or ():
        findings += _home_findings(d, live)
    for item in items:
        d = item.deployment
        p: ProjectState | AccountState = live.accounts[d.account_key] if d.foundry else live.projects[d.project_key]
        if deployments is None:
            findings += _home_findings(d, live)
        if item.endpoint_action == REFUSE:
            assert item.endpoint is not None
            what, home = (f"deployment {d.name} on {d.account}", d.account) if d.foundry else (f"endpoint {d.name} in {d.project}", d.project)
            findings.append(Finding(Check.OWNERSHIP, d.name, False, f"{what} is not this spec's: {owner_of(item.endpoint)}",
                                    "pass --include-unmanaged to delete it anyway, or remove the deployment from the spec"))
        needed = []
        if item.endpoint_action == DELETE:
            needed.append(f"{CS}/deployments/delete" if d.foundry else "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/delete")
        if item.subscription_action == DELETE:
            needed.append("Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions/delete")
        if p.permissions is None and (needed or UNREAD in (item.endpoint_action, item.subscription_action)):
            findings.append(_cannot_read(Check.PERMISSIONS, d.name, f"could not read the caller's permissions on {d.account or d.project}", p.failures.get(Read.PERMISSIONS),
                                         "grant the caller Microsoft.Authorization/*/read (every built-in role has it)"))
        elif needed and p.permissions is not None:
            missing = [a for a in needed if not allowed(p.permissions, a)]
            if missing:
                findings.append(Finding(Check.PERMISSIONS, d.name, False, f"the caller may not {', '.join(missing)}", f"ask for '{d.required_role}' on resource group {d.resource_group}"))
            else:
                findings.append(Finding(Check.PERMISSIONS, d.name, True, "the caller may delete what the plan deletes"))
    return findings


@dataclass
class DestroyResult:
    name: str
    ok: bool
    done: list[str] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "done": self.done, "error": self.error, "seconds": round(self.seconds, 2)}


def _destroy_one(gateway: AzureApi, item: DestroyItem, progress: Progress, lock: Optional[threading.Lock] = None) -> DestroyResult:
    d = item.deployment
    result = DestroyResult(d.name, ok=False)
    started = time.monotonic()
    if d.foundry:
        try:
            with lock or threading.Lock():  # one write at a time on a Foundry resource
                _delete(progress, result, d.name, f"deployment {d.name}",
                        lambda: gateway.delete_foundry_deployment(account_id(d.subscription, d.resource_group, d.account), d.name))
            result.ok = True
        except AzureError as exc:
            result.error = explain(exc, Phase.DESTROY)
        result.seconds = time.monotonic() - started
        return result
    project = project_id(d.subscription, d.resource_group, d.project)
    try:
        if item.endpoint_action == DELETE:
            _delete(progress, result, d.name, f"endpoint {d.name}", lambda: gateway.delete_endpoint(project, d.name))
        users = _users_now(gateway, project, item) if item.subscription_action == DELETE else []
        if users and item.subscription is not None:  # someone deployed on it since the plan was made: keep it
            result.done.append(f"kept marketplace subscription {item.subscription.name} (endpoint {', '.join(users)} uses it now)")
        elif item.subscription_action == DELETE and item.subscription is not None:
            name = item.subscription.name
            _delete(progress, result, d.name, f"marketplace subscription {name}", lambda: gateway.delete_marketplace_subscription(project, name))
        result.ok = True
    except AzureError as exc:
        result.error = explain(exc, Phase.DESTROY)
    result.seconds = time.monotonic() - started
    return result


def _delete(progress: Progress, result: DestroyResult, subject: str, what: str, delete: Callable[[], None]) -> None:
    progress(subject, f"deleting {what} ...")
    delete()
    result.done.append(f"deleted {what}")
    progress(subject, f"{what} deleted")


def _users_now(gateway: AzureApi, project: str, item: DestroyItem) -> list[str]:
    """Endpoints that use the subscription, read again right before it is deleted."""
    sub = item.subscription
    assert sub is not None
    return sorted(e.name for e in gateway.list_endpoints(project)
                  if e.name.lower() != item.deployment.name.lower() and e.provisioning_state.lower() != "deleting" and e.uses(sub))


def run_destroy(items: list[DestroyItem], gateway: AzureApi, parallel: int, progress: Progress) -> list[DestroyResult]:
    work = [i for i in items if i.endpoint_action == DELETE or i.subscription_action == DELETE]
    done = {i.deployment.name: DestroyResult(i.deployment.name, ok=True) for i in items if i not in work}
    locks = {i.deployment.account_key: threading.Lock() for i in work if i.deployment.foundry}
    pool = worker_pool(max(1, parallel), "destroy")
    for r in run_all(pool, lambda i: _destroy_one(gateway, i, progress, locks.get(i.deployment.account_key) if i.deployment.foundry else None), work):
        done[r.name] = r
    pool.shutdown()
    return [done[i.deployment.name] for i in items]
