"""Pre-flight checks: a pure function of the spec, what is live and the plan. Every check runs;
each finding says what it saw and, when it fails, how to fix it (the role to ask for at which
scope, the region to use, the command to run). `apply` writes nothing unless all pass."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional

from .errors import REMEDIES, UNKNOWN_REMEDY, AzureError, explain
from .access import MARKETPLACE_ACTIONS, allowed as allowed, missing_actions, role_covers as role_covers, role_finding, subscription_permissions
from .foundrychecks import foundry_findings
from .live import NAMESPACES, AccountState, LiveState, Permission, ProjectState, Read
from .findings import Check as Check, Finding as Finding, _cannot_read
from .plan import ADOPT, CREATE, MOVE, REPLACE, RESUME, RETAG, SUBSCRIBE, UNSUBSCRIBE, UPDATE, Action, Plan, owner_of
from .catalog import Catalog, packaged
from .catalog import today as catalog_today
from .modelchecks import model_finding, name_finding, offer_finding
from .regions import display_region
from .spec import Deployment, Spec


def unread_finding(d: Deployment, p: ProjectState, what: Read) -> Finding:
    """A read of the deployment's project that failed, in the words checks, destroy and audit share."""
    if what == Read.PROJECT:
        return _cannot_read(Check.PROJECT, d.name, f"could not read project {d.project}", p.failures.get(what),
                            "check `subscription`, `resource_group` and `project` in the spec, and the caller's access")
    if what == Read.HUB:
        hub = p.workspace.hub_id if p.workspace is not None else None
        return _cannot_read(Check.PROJECT, d.name, f"could not read the hub of project {d.project} ({hub})", p.failures.get(what), "give the caller read access to the hub")
    if what == Read.PERMISSIONS:
        return _cannot_read(Check.PERMISSIONS, d.name, f"could not read the caller's permissions on {d.project}", p.failures.get(what),
                            "grant the caller Microsoft.Authorization/*/read (every built-in role has it)")
    return _cannot_read(Check.PROJECT, d.name, f"could not read the {what} of {d.project}", p.failures.get(what), f"ask for '{d.required_role}' on resource group {d.resource_group}")


def identity_findings(live: LiveState) -> list[Finding]:
    if live.identity is None:
        error = live.identity_error
        code = error.code if error is not None else "CredentialUnavailable"
        message = explain(error, with_remedy=False) if error is not None else "no credential"
        return [Finding(Check.IDENTITY, "caller", False, message, REMEDIES.get(code, UNKNOWN_REMEDY))]
    i = live.identity
    return [Finding(Check.IDENTITY, "caller", True, f"{i.kind} {i.name} (object id {i.object_id}, tenant {i.tenant_id})")]


def role_names_finding(subscription: str, failure: AzureError) -> Finding:
    """whoami could not name the caller's roles (it shows their ids instead)."""
    return _cannot_read(Check.ROLE, "caller", f"could not read the names of the caller's roles in subscription {subscription}", failure,
                        "grant the caller Microsoft.Authorization/roleDefinitions/read (every built-in role has it); meanwhile the roles are shown by id")


SE = "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints"
MS = "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions"


def _needed_actions(actions: set[Action]) -> list[tuple[str, str]]:
    """(action, why) pairs that the planned steps need on the project."""
    needed = [(f"{SE}/read", "read the endpoint"), (f"{SE}/listKeys/action", "read its keys")]
    if actions & {CREATE, UPDATE, RETAG, RESUME, ADOPT, REPLACE}:
        needed.append((f"{SE}/write", "create or update the endpoint"))
    if REPLACE in actions:
        needed.append((f"{SE}/delete", "replace the endpoint"))
    if UNSUBSCRIBE in actions:
        needed.append((f"{MS}/delete", "unsubscribe from the old model's offer"))
    if SUBSCRIBE in actions:
        needed.append((f"{MS}/write", "subscribe the project"))
        needed += [(a, "subscribe to the Marketplace offer") for a in MARKETPLACE_ACTIONS]
    return needed


def permission_finding(d: Deployment, p: ProjectState, actions: set[Action], live: Optional[LiveState] = None) -> Finding:
    if p.permissions is None:
        return unread_finding(d, p, Read.PERMISSIONS)
    wide, failure = subscription_permissions(d, p, live) if live is not None and SUBSCRIBE in actions else (None, None)
    if failure is not None:
        return _cannot_read(Check.PERMISSIONS, d.name, "could not read the caller's roles over the subscription (where Marketplace terms are signed)", failure,
                            "grant the caller Microsoft.Authorization/roleDefinitions/read (every built-in role has it)")

    missing = missing_actions(_needed_actions(actions), p.permissions, wide)
    if not missing:
        return Finding(Check.PERMISSIONS, d.name, True, "the caller may " + ", ".join(dict.fromkeys(why for _, why in _needed_actions(actions))))
    market = [a for a, _ in missing if a in MARKETPLACE_ACTIONS]
    if market and len(market) == len(missing):
        return Finding(
            Check.PERMISSIONS, d.name, False,
            f"subscribing project {d.project} to the Marketplace offer of {d.model_name} needs Marketplace rights the caller lacks: {', '.join(market)}",
            f"ask for Owner or Contributor at /subscriptions/{d.subscription}, or a custom role with those actions there (Azure AI Developer alone does not include them); "
            "or let an admin run `provision apply` once: later runs only need the endpoint rights",
        )
    return Finding(
        Check.PERMISSIONS, d.name, False,
        "the caller may not " + "; ".join(f"{why} ({a})" for a, why in missing),
        f"ask for '{d.required_role}' on resource group {d.resource_group}" + (" and Marketplace rights at the subscription" if market else ""),
    )


HUB_GONE = "a project whose hub is gone cannot serve endpoints: point `project` at a project of an existing hub, or create the project again in one"


def project_findings(d: Deployment, p: ProjectState) -> list[Finding]:
    if p.workspace is None:
        if Read.PROJECT in p.failures:
            return [unread_finding(d, p, Read.PROJECT)]
        return [Finding(Check.PROJECT, d.name, False, f"project {d.project} does not exist in resource group {d.resource_group} of subscription {d.subscription}", "create the AI Studio project in a hub, or fix `project` in the spec")]
    w = p.workspace
    if w.kind.lower() != "project" or not w.hub_id:
        return [Finding(Check.PROJECT, d.name, False, f"workspace {d.project} is a '{w.kind}' workspace, not a hub-based project", "point `project` at an AI Studio project (a workspace of kind Project in a hub)")]
    if Read.HUB in p.failures:
        return [unread_finding(d, p, Read.HUB)]
    if p.hub is None:
        return [Finding(Check.PROJECT, d.name, False, f"the hub of project {d.project} ({w.hub_id}) does not exist", HUB_GONE)]
    findings = [Finding(Check.PROJECT, d.name, True, f"project {d.project} in hub {p.hub.name}")]
    region = p.hub.location
    allowed_list = ", ".join(display_region(r) for r in d.allowed_regions)
    if region in d.allowed_regions:
        findings.append(Finding(Check.REGION, d.name, True, f"hub {p.hub.name} is in {display_region(region)} (allowed: {allowed_list})"))
    else:
        findings.append(Finding(Check.REGION, d.name, False, f"hub {p.hub.name} is in {display_region(region)}, which is not allowed (allowed: {allowed_list})", "use a project whose hub is in an allowed region, or add the region to `allowed_regions` if policy permits"))
    return findings


def conflict_findings(d: Deployment, p: ProjectState, plan_actions: set[Action], allow_replace: bool, adopt: bool) -> list[Finding]:
    findings = []
    for other in p.endpoints or ():
        if other.name.lower() != d.name.lower() and other.model_id.lower() == d.model_id.lower() and other.provisioning_state.lower() != "deleting":
            findings.append(Finding(
                Check.CONFLICT, d.name, False,
                f"endpoint '{other.name}' already serves {d.model_name} in project {d.project} (Azure allows one deployment per model per project)",
                f"name the deployment '{other.name}' to manage that endpoint, or remove it first (`provision destroy` if provision made it)",
            ))
    if REPLACE in plan_actions and not allow_replace:
        findings.append(Finding(Check.CONFLICT, d.name, False, f"endpoint {d.name} serves another model; changing the model deletes and recreates it (new URL and keys)", "re-run with --allow-replace"))
    if MOVE in plan_actions and not allow_replace:
        findings.append(Finding(Check.CONFLICT, d.name, False, f"{d.name} moves to target {d.target}: the new deployment is made and proven, the secrets entry "
                             f"switched (new URL and key), and after --grace the old one on {d.moved_from} is deleted",
                             "re-run with --allow-replace"))
    if ADOPT in plan_actions and not adopt:
        live = p.endpoint(d.name)
        whose = owner_of(live) if live is not None else "not this spec's"
        findings.append(Finding(Check.CONFLICT, d.name, False, f"endpoint {d.name} exists but is not this spec's: {whose}", "re-run with --adopt to manage it, or choose another `name`"))
    return findings


def provider_findings(plan: Plan, live: LiveState) -> list[Finding]:
    findings = []
    registering = {(r.subscription.lower(), r.namespace.lower()) for r in plan.registrations}
    for sub in sorted(live.subscriptions.values(), key=lambda s: s.id):
        for ns, state in sorted(sub.providers.items()):
            if not state:
                findings.append(_cannot_read(Check.PROVIDERS, sub.id, f"could not read provider {NAMESPACES.get(ns, ns)}", sub.failures.get((Read.PROVIDER, ns)), "check the subscription id and the caller's access"))
            elif (sub.id.lower(), ns) not in registering:
                findings.append(Finding(Check.PROVIDERS, sub.id, True, f"{NAMESPACES.get(ns, ns)} is {state}"))
    for r in plan.registrations:
        perms = _subscription_permissions(live, r.subscription)
        if perms is not None and allowed(perms, f"{r.namespace}/register/action"):
            findings.append(Finding(Check.PROVIDERS, r.subscription, True, f"{r.namespace} is not registered; the caller may register it (apply will)"))
        else:
            findings.append(Finding(Check.PROVIDERS, r.subscription, False, f"{r.namespace} is not registered on subscription {r.subscription}, and the caller may not register it", f"ask an owner to run: az provider register --namespace {r.namespace} --subscription {r.subscription}"))
    return findings


def _subscription_permissions(live: LiveState, subscription: str) -> Optional[tuple[Permission, ...]]:
    """Effective permissions read on a project or Foundry resource of the subscription (they include the subscription's)."""
    homes: list[ProjectState | AccountState] = [*live.projects.values(), *live.accounts.values()]
    for p in homes:
        if p.subscription.lower() == subscription.lower() and p.permissions is not None:
            return p.permissions
    return None


def run_checks(spec: Spec, live: LiveState, plan: Plan, allow_replace: bool = False, adopt: bool = False,
               catalog: Optional[Catalog] = None, today: Optional[dt.date] = None) -> list[Finding]:
    """Every check, for every deployment. The model checks use the registry's answers in `live`
    (none when refresh did not read the catalog) and the packaged catalog, as of `today`."""
    catalog, today = catalog or packaged(), today or catalog_today()
    findings = identity_findings(live)
    if live.identity is None:
        return findings
    for dp in plan.deployments:
        d = dp.deployment
        actions = {s.action for s in dp.steps}
        if d.foundry:
            findings += foundry_findings(d, live.accounts[d.account_key], live, actions, allow_replace, adopt, catalog, today)
            continue
        p = live.projects[d.project_key]
        findings += project_findings(d, p)
        model = model_finding(d, live.models.get(d.model_id.lower()), actions, catalog, today)
        # where a model that cannot be deployed is offered is beside the point: its own finding says what to do
        offer = offer_finding(d, p, actions, catalog, today) if model is None or model.ok else None
        findings += [f for f in (model, offer, name_finding(d, p, live)) if f is not None]
        findings.append(role_finding(d, p, live))
        findings.append(permission_finding(d, p, actions, live))
        if p.workspace is not None:
            findings += [unread_finding(d, p, what) for what in (Read.ENDPOINTS, Read.MARKETPLACE) if what in p.failures]
            findings += conflict_findings(d, p, actions, allow_replace, adopt)
    findings += provider_findings(plan, live)
    return findings


def failed(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if not f.ok]
