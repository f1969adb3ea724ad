"""The pre-flight checks of a deployment of target foundry (a model deployment on a Foundry
resource): the resource, its region, the model in the resource's own model list (version, SKU,
capacity), the Marketplace offer of a partner model, the role and the permissions, conflicts.
Pure, like checks.py; each failing finding carries its fix."""
from __future__ import annotations

import datetime as dt
import difflib
from typing import Optional

from .access import MARKETPLACE_ACTIONS, missing_actions, role_finding, subscription_permissions
from .catalog import Catalog
from .findings import Check, Finding, _cannot_read
from .live import FOUNDRY_FORMAT, AccountModel, AccountState, LiveState, Read
from .plan import ADOPT, CREATE, MOVE, REPLACE, RESUME, RETAG, UPDATE, Action, owner_of
from .regions import display_region
from .spec import Deployment

CS = "Microsoft.CognitiveServices/accounts"
WRITES = {CREATE, UPDATE, RETAG, RESUME, ADOPT, REPLACE}
RETIRING = ("deprecating", "deprecated")


def foundry_findings(d: Deployment, a: AccountState, live: LiveState, actions: set[Action], allow_replace: bool, adopt: bool,
                     catalog: Catalog, today: dt.date) -> list[Finding]:
    found = account_findings(d, a)
    if a.account is None:
        if Read.ACCOUNT in a.failures:  # refused, perhaps: say what the caller lacks, as far as it can be read
            found += [role_finding(d, a, live), permission_finding(d, a, actions, live)]
        return found
    model = model_finding(d, a, actions, catalog, today)
    found += [f for f in (model, offer_finding(d, actions)) if f is not None]
    found.append(role_finding(d, a, live))
    found.append(permission_finding(d, a, actions, live))
    if Read.DEPLOYMENTS in a.failures:
        found.append(_cannot_read(Check.ACCOUNT, d.name, f"could not list the deployments of Foundry resource {d.account}", a.failures[Read.DEPLOYMENTS],
                                  f"ask for '{d.required_role}' on resource group {d.resource_group}"))
    found += conflict_findings(d, a, actions, allow_replace, adopt)
    return found


def account_findings(d: Deployment, a: AccountState) -> list[Finding]:
    if a.account is None:
        if Read.ACCOUNT in a.failures:
            return [_cannot_read(Check.ACCOUNT, d.name, f"could not read Foundry resource {d.account}", a.failures[Read.ACCOUNT],
                                 "check `subscription`, `resource_group` and `account` in the spec, and the caller's access")]
        return [Finding(Check.ACCOUNT, d.name, False, f"Foundry resource {d.account} does not exist in resource group {d.resource_group} of subscription {d.subscription}",
                        f"create it (az cognitiveservices account create -n {d.account} -g {d.resource_group} --kind AIServices --sku S0 "
                        f"--custom-domain {d.account} -l <region>), or fix `account` in the spec")]
    acct = a.account
    if acct.kind.lower() != "aiservices":
        return [Finding(Check.ACCOUNT, d.name, False, f"{d.account} is a '{acct.kind}' resource, not a Foundry (AIServices) resource",
                        "point `account` at a Foundry resource (Microsoft.CognitiveServices account of kind AIServices)")]
    if not acct.base_url:
        return [Finding(Check.ACCOUNT, d.name, False, f"Foundry resource {d.account} has no custom subdomain, so clients cannot reach its deployments by name",
                        f"az cognitiveservices account update -n {d.account} -g {d.resource_group} --custom-domain {d.account}")]
    allowed_list = ", ".join(display_region(r) for r in d.allowed_regions)
    region = Finding(Check.REGION, d.name, True, f"Foundry resource {d.account} is in {display_region(acct.location)} (allowed: {allowed_list})")
    if acct.location not in d.allowed_regions:
        region = Finding(Check.REGION, d.name, False, f"Foundry resource {d.account} is in {display_region(acct.location)}, which is not allowed (allowed: {allowed_list})",
                         "use a Foundry resource in an allowed region, or add the region to `allowed_regions` if policy permits")
    return [Finding(Check.ACCOUNT, d.name, True, f"Foundry resource {d.account} ({acct.base_url})"), region]


def _versions(a: AccountState, name: str) -> list[AccountModel]:
    return [m for m in a.models or () if m.format == FOUNDRY_FORMAT and m.name.lower() == name.lower()]


def chosen_version(d: Deployment, entries: list[AccountModel]) -> Optional[AccountModel]:
    """The entry a deployment gets: the version the spec names, else the resource's default (or only) one."""
    if d.version is not None:
        return next((m for m in entries if m.version.lower() == d.version.lower()), None)
    return next((m for m in entries if m.default), entries[0] if len(entries) == 1 else None)


def model_finding(d: Deployment, a: AccountState, actions: set[Action], catalog: Catalog, today: dt.date) -> Optional[Finding]:
    """The model, its version, SKU and capacity, as the resource's own model list has them; only
    where something is to be made or changed (a deployment that exists keeps what it has)."""
    if not actions & {CREATE, REPLACE, UPDATE}:
        return None
    if a.models is None:
        if Read.ACCOUNT_MODELS in a.failures:
            return _cannot_read(Check.MODEL, d.name, f"could not read the model list of Foundry resource {d.account}", a.failures[Read.ACCOUNT_MODELS],
                                f"ask for '{d.required_role}' on resource group {d.resource_group}")
        return None
    entries = _versions(a, d.model_name)
    if not entries:
        names = sorted({m.name for m in a.models if m.format == FOUNDRY_FORMAT}, key=str.lower)
        known = catalog.known(d.model_name)
        if known is not None and known.lifecycle.stage(today) == "retired":
            why = f"{d.model_name} is retired"
        else:
            why = f"Foundry resource {d.account} offers no Mistral model named {d.model_name}"
        hint = difflib.get_close_matches(d.model_name, names, n=1, cutoff=0.6) or difflib.get_close_matches(d.model_name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
        fix = f"set `model: {next((n for n in names if n.lower() == hint[0].lower()), hint[0])}`" if hint else f"choose one of: {', '.join(names) or '(none)'}"
        return Finding(Check.MODEL, d.name, False, why, fix)
    entry = chosen_version(d, entries)
    versions = ", ".join(sorted(m.version for m in entries))
    if entry is None:
        what = f"version {d.version}" if d.version is not None else "a default version"
        return Finding(Check.MODEL, d.name, False, f"{d.model_name} on {d.account} has no {what} (versions: {versions})", f"set `version` to one of: {versions}")
    if entry.lifecycle.lower() in RETIRING:
        newer = [m.version for m in entries if m.lifecycle.lower() not in RETIRING]
        return Finding(Check.MODEL, d.name, False, f"{d.model_name} version {entry.version} is {entry.lifecycle}: it takes no new deployments",
                       f"set `version: {newer[-1]}`" if newer else "choose another model")
    if d.sku not in entry.skus:
        return Finding(Check.MODEL, d.name, False, f"{d.model_name} version {entry.version} is not offered with SKU {d.sku} on {d.account} (offered: {', '.join(entry.skus) or 'none'})",
                       f"set `sku: {entry.skus[0]}`" if entry.skus else "choose a Foundry resource in a region that offers the model")
    if d.capacity is not None and entry.max_capacity is not None and d.capacity > entry.max_capacity:
        return Finding(Check.MODEL, d.name, False, f"capacity {d.capacity} is more than {d.model_name} takes with {d.sku} (at most {entry.max_capacity})",
                       f"set `capacity: {entry.max_capacity}`, or leave it out (Azure's default)")
    return Finding(Check.MODEL, d.name, True, f"{d.model_name} version {entry.version} with {d.sku} is offered on {d.account}")


def offer_finding(d: Deployment, actions: set[Action]) -> Optional[Finding]:
    if not actions & {CREATE, REPLACE}:
        return None
    if d.microsoft_sold:
        return Finding(Check.OFFER, d.name, True, f"{d.model_name} is sold by Azure: no Marketplace purchase")
    return Finding(Check.OFFER, d.name, True, f"{d.model_name} is sold through Azure Marketplace: Azure buys its offer on the first deployment "
                   "(a refused purchase shows only when the deployment ends; apply reports it and leaves nothing behind)")


def _needed(d: Deployment, actions: set[Action]) -> list[tuple[str, str]]:
    needed = [(f"{CS}/deployments/read", "read the deployment"), (f"{CS}/listKeys/action", "read the resource's keys")]
    if actions & WRITES:
        needed.append((f"{CS}/deployments/write", "create or update the deployment"))
    if REPLACE in actions:
        needed.append((f"{CS}/deployments/delete", "replace the deployment"))
    if actions & {CREATE, REPLACE} and not d.microsoft_sold:
        needed += [(action, "buy the model's Marketplace offer") for action in MARKETPLACE_ACTIONS]
    return needed


def permission_finding(d: Deployment, a: AccountState, actions: set[Action], live: LiveState) -> Finding:
    if a.permissions is None:
        return _cannot_read(Check.PERMISSIONS, d.name, f"could not read the caller's permissions on Foundry resource {d.account}", a.failures.get(Read.PERMISSIONS),
                            "grant the caller Microsoft.Authorization/*/read (every built-in role has it)")
    needed = _needed(d, actions)
    buying = any(action in MARKETPLACE_ACTIONS for action, _ in needed)
    wide, failure = subscription_permissions(d, a, live) if buying else (None, None)
    if failure is not None:
        return _cannot_read(Check.PERMISSIONS, d.name, "could not read the caller's roles over the subscription (where Marketplace terms are signed)", failure,
                            "grant the caller Microsoft.Authorization/roleDefinitions/read (every built-in role has it)")

    missing = missing_actions(needed, a.permissions, wide)
    if not missing:
        return Finding(Check.PERMISSIONS, d.name, True, "the caller may " + ", ".join(dict.fromkeys(why for _, why in needed)))
    market = [action for action, _ in missing if action in MARKETPLACE_ACTIONS]
    if market and len(market) == len(missing):
        return Finding(Check.PERMISSIONS, d.name, False, f"deploying {d.model_name} buys its Marketplace offer, which needs rights the caller lacks: {', '.join(market)}",
                       f"ask for Owner or Contributor at /subscriptions/{d.subscription}, or a custom role with those actions there; "
                       "or let an admin run `provision apply` once")
    return Finding(Check.PERMISSIONS, d.name, False, "the caller may not " + "; ".join(f"{why} ({action})" for action, why in missing),
                   f"ask for '{d.required_role}' on Foundry resource {d.account} (Azure AI Developer covers hub projects, not Foundry resources)"
                   + (" and Marketplace rights at the subscription" if market else ""))


def conflict_findings(d: Deployment, a: AccountState, actions: set[Action], allow_replace: bool, adopt: bool) -> list[Finding]:
    found = []
    live = a.deployment(d.name)
    if REPLACE in actions and not allow_replace and live is not None:
        found.append(Finding(Check.CONFLICT, d.name, False, f"deployment {d.name} on {d.account} serves {live.model_name}; changing the model deletes and recreates it",
                             "re-run with --allow-replace"))
    if MOVE in actions and not allow_replace:
        found.append(Finding(Check.CONFLICT, d.name, False, f"{d.name} moves to target {d.target}: the new deployment is made and proven, the secrets entry "
                             f"switched (new URL and key), and after --grace the old one on {d.moved_from} is deleted",
                             "re-run with --allow-replace"))
    if ADOPT in actions and not adopt:
        whose = owner_of(live) if live is not None else "not this spec's"
        found.append(Finding(Check.CONFLICT, d.name, False, f"deployment {d.name} exists on {d.account} but is not this spec's: {whose}",
                             "re-run with --adopt to manage it, or choose another `name`"))
    return found
