"""Audit: what is live against the spec and the ownership marks, as findings. Read-only.

`collect` reads (through the gateway); `audit_findings` is pure. Kinds of finding:
missing, unhealthy, drift, policy, subscription, orphan, unmanaged, secrets, probe, read.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from .checks import HUB_GONE, identity_findings, unread_finding
from .errors import AzureError, explain
from .azureapi import AzureApi
from .live import project_id
from .catalog import Stage, lifecycle_of, packaged
from .catalog import today as catalog_today
from .live import AccountState, ChatResult, Endpoint, FoundryDeployment, Keys, LiveState, MarketplaceSubscription, ProjectState, Read, SaasResource, subscription_of
from .names import TextEnum
from .plan import endpoint_changes, foundry_changes, moved_resource, owner_of
from .refresh import read_live
from .regions import display_region
from .secrets import read_secrets
from .spec import Deployment, Spec
from .workers import worker_pool


class Kind(TextEnum):
    """The kinds of audit finding, in the order a report lists them."""

    READ = "read"
    MISSING = "missing"
    LIFECYCLE = "lifecycle"
    UNHEALTHY = "unhealthy"
    SUBSCRIPTION = "subscription"
    POLICY = "policy"
    DRIFT = "drift"
    SECRETS = "secrets"
    PROBE = "probe"
    ORPHAN = "orphan"
    UNMANAGED = "unmanaged"
    OTHER_STACK = "other-stack"


@dataclass(frozen=True)
class AuditFinding:
    kind: Kind
    subject: str  # a deployment of the spec, or a resource outside it
    message: str
    remedy: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message, "remedy": self.remedy}


@dataclass
class AuditData:
    live: LiveState
    secrets: dict[str, str]
    keys: dict[str, Optional[Keys]] = field(default_factory=dict)  # deployment name -> its endpoint's keys
    extra_projects: list[ProjectState] = field(default_factory=list)  # --all: the other projects of the spec's resource groups
    saas: dict[tuple[str, str], list[SaasResource]] = field(default_factory=dict)  # --all: (subscription, resource group) -> SaaS resources
    probes: dict[str, ChatResult] = field(default_factory=dict)
    read_errors: list[str] = field(default_factory=list)
    everything: bool = False
    today: dt.date = field(default_factory=catalog_today)


def collect(spec: Spec, gateway: AzureApi, parallel: int, everything: bool, probe: bool) -> AuditData:
    live = read_live(spec, gateway, parallel, catalog=True, endpoint_models=True)
    data = AuditData(live, read_secrets(spec.secrets), everything=everything)
    if live.identity is None:
        return data

    def keys_of(d: Deployment) -> None:
        if d.foundry:
            a = live.accounts[d.account_key]
            if a.account is None:
                return
            try:
                data.keys[d.name] = gateway.account_keys(a.id)
            except AzureError as exc:
                data.read_errors.append(f"keys of {d.name} (Foundry resource {d.account}): {explain(exc)}")
            return
        p = live.projects[d.project_key]
        e = p.endpoint(d.name)
        if e is None or e.provisioning_state.lower() != "succeeded":
            return
        try:
            data.keys[d.name] = gateway.list_keys(p.id, e.name)
        except AzureError as exc:
            data.read_errors.append(f"keys of {d.name}: {explain(exc)}")

    def group(sub: str, rg: str) -> None:
        try:
            workspaces = gateway.list_workspaces(sub, rg)
            data.saas[(sub.lower(), rg.lower())] = gateway.list_saas_resources(sub, rg)
        except AzureError as exc:
            data.read_errors.append(f"resource group {rg}: {explain(exc)}")
            return
        known = {(p.subscription.lower(), p.resource_group.lower(), p.name.lower()) for p in live.projects.values()}
        for p in live.projects.values():  # the SaaS resources are weighed against every project's subscriptions
            if (p.subscription.lower(), p.resource_group.lower()) == (sub.lower(), rg.lower()):
                _list_subscriptions(gateway, p)
        for w in workspaces:
            if w.kind.lower() != "project" or (sub.lower(), rg.lower(), w.name.lower()) in known:
                continue
            extra = ProjectState(sub, rg, w.name, workspace=w)
            pid = project_id(sub, rg, w.name)
            try:
                extra.endpoints = tuple(gateway.list_endpoints(pid))
                extra.marketplace_subscriptions = tuple(gateway.list_marketplace_subscriptions(pid))
            except AzureError as exc:
                data.read_errors.append(f"project {w.name}: {explain(exc)}")
            data.extra_projects.append(extra)

    with worker_pool(max(1, parallel), "audit") as pool:
        futures = [pool.submit(keys_of, d) for d in spec.deployments]
        if everything:
            groups = sorted({(d.subscription, d.resource_group) for d in spec.deployments})
            futures += [pool.submit(group, s, rg) for s, rg in groups]
        for f in futures:
            f.result()
    if probe:
        from .probe import probe_one

        with worker_pool(max(1, parallel), "probe") as pool:
            for d, result in zip(spec.deployments, pool.map(lambda d: probe_one(d, data.secrets, gateway), spec.deployments)):
                data.probes[d.name] = result
    data.extra_projects.sort(key=lambda p: p.name.lower())
    return data


def _list_subscriptions(gateway: AzureApi, p: ProjectState) -> None:
    """The Marketplace subscriptions of a spec's project whose deployments are all sold by Microsoft
    (refresh does not list them); a failure is recorded like refresh's."""
    if p.workspace is None or p.marketplace_subscriptions is not None or Read.MARKETPLACE in p.failures:
        return
    try:
        p.marketplace_subscriptions = tuple(gateway.list_marketplace_subscriptions(p.id))
    except AzureError as exc:
        p.failures[Read.MARKETPLACE] = exc


def _deployment_findings(d: Deployment, p: ProjectState, data: AuditData) -> list[AuditFinding]:
    out: list[AuditFinding] = []
    if p.workspace is None:
        if Read.PROJECT in p.failures:
            return []  # a `read` finding says why
        return [AuditFinding(Kind.MISSING, d.name, f"project {d.project} does not exist in resource group {d.resource_group}", "fix `project` in the spec, or create the project")]
    if p.hub is None and p.workspace.hub_id and Read.HUB not in p.failures:
        out.append(AuditFinding(Kind.MISSING, d.name, f"the hub of project {d.project} ({p.workspace.hub_id}) does not exist", HUB_GONE))
    if p.hub is not None and p.hub.location not in d.allowed_regions:
        out.append(AuditFinding(Kind.POLICY, d.name, f"hub {p.hub.name} is in {display_region(p.hub.location)}, which allowed_regions no longer allows",
                                "move the deployment to a project in an allowed region (provision destroy, then apply)"))
    e = p.endpoint(d.name)
    if p.endpoints is None:
        pass  # could not be listed: a `read` finding says why; nothing is claimed about the endpoint
    elif e is None:
        out.append(AuditFinding(Kind.MISSING, d.name, f"endpoint {d.name} does not exist in {d.project}", "run `provision apply`"))
    else:
        if e.provisioning_state.lower() != "succeeded":
            out.append(AuditFinding(Kind.UNHEALTHY, d.name, f"endpoint {d.name} is {e.provisioning_state}", "run `provision apply` to retry it"))
        elif e.endpoint_state.lower() != "online":
            out.append(AuditFinding(Kind.UNHEALTHY, d.name, f"endpoint {d.name} is {e.endpoint_state}, not Online", _offline_remedy(d, p, e)))
        if e.model_id.lower() != d.model_id.lower():
            out.append(AuditFinding(Kind.DRIFT, d.name, f"model is {e.model_id.rsplit('/', 1)[-1]}, the spec says {d.model_name}", "`provision apply --allow-replace` (new URL and keys)"))
        if not e.owned_by(d.stack, d.name):
            out.append(AuditFinding(Kind.DRIFT, d.name, f"endpoint {d.name} is not this spec's: {owner_of(e)}", "`provision apply --adopt` to manage it"))
        # what an update in place would change, one finding (its values, old -> new, come with it)
        changed = endpoint_changes(d, e) if e.owned_by(d.stack, d.name) else tuple(c for c in endpoint_changes(d, e) if c.field == "content_safety")
        if changed:
            out.append(AuditFinding(Kind.DRIFT, d.name, f"endpoint {d.name} differs from the spec in {', '.join(c.field for c in changed)}", "run `provision apply`"))
        if e.location and e.location not in d.allowed_regions:
            out.append(AuditFinding(Kind.DRIFT, d.name, f"endpoint region {display_region(e.location)} is not in allowed_regions", "move it to an allowed region"))
        out += _subscription_findings(d, p, e)
        out += _lifecycle_findings(d, e, data)
        out += _secret_findings(d, e, data)
    return out + _probe_findings(d, data)


def _probe_findings(d: Deployment, data: AuditData) -> list[AuditFinding]:
    probe = data.probes.get(d.name)
    if probe is None or probe.ok:
        return []
    from .probe import ProbeResult

    remedy = ProbeResult(d.name, data.secrets.get(d.url_var, ""), probe).remedy
    return [AuditFinding(Kind.PROBE, d.name, f"chat call failed: {probe.error}", remedy)]


SUSPENDED_REMEDY = ("a suspended subscription is a billing matter provision cannot fix: resolve it in the Azure portal "
                    "(Marketplace > SaaS subscriptions: payment method, or the EA's Marketplace policy); the endpoint comes back when it is Subscribed")


def _offline_remedy(d: Deployment, p: ProjectState, e: Endpoint) -> str:
    """What brings an endpoint that is not Online back, as far as its subscription tells."""
    if d.microsoft_sold or p.marketplace_subscriptions is None:
        return "`provision audit` after a while; if it stays so, recreate it: `provision destroy --only " + d.name + "`, then `provision apply`"
    sub = subscription_of(d.model_id, e, p.marketplace_subscriptions or ())
    if sub is None or sub.status.lower() == "unsubscribed":
        return "its Marketplace subscription is gone: run `provision apply`, which subscribes the project again (the endpoint comes back Online)"
    if sub.status.lower() == "suspended":
        return SUSPENDED_REMEDY
    return f"its Marketplace subscription {sub.name} is {sub.status}: run `provision audit` again once it is Subscribed"


def _subscription_findings(d: Deployment, p: ProjectState, e: Endpoint) -> list[AuditFinding]:
    if d.microsoft_sold or p.marketplace_subscriptions is None:
        return []
    sub = subscription_of(d.model_id, e, p.marketplace_subscriptions or ())
    if sub is None or sub.status.lower() == "unsubscribed":
        what = f"Marketplace subscription {sub.name} is Unsubscribed" if sub else f"endpoint {d.name} has no Marketplace subscription to {d.model_name}'s offer"
        return [AuditFinding(Kind.SUBSCRIPTION, d.name, f"{what}: it cannot serve", "run `provision apply` to subscribe again")]
    if sub.status.lower() == "suspended":
        return [AuditFinding(Kind.SUBSCRIPTION, d.name, f"Marketplace subscription {sub.name} is Suspended", SUSPENDED_REMEDY)]
    if sub.status.lower() != "subscribed":
        return [AuditFinding(Kind.SUBSCRIPTION, d.name, f"Marketplace subscription {sub.name} is {sub.status}", "run `provision audit` again once Azure has finished with it")]
    return []


def _lifecycle_findings(d: Deployment, e: Endpoint | FoundryDeployment, data: AuditData) -> list[AuditFinding]:
    """A live endpoint of a legacy, deprecated or retired model: when it stops, and what replaces it."""
    catalog = packaged()
    model_id = e.model_name if isinstance(e, FoundryDeployment) else e.model_id
    m = data.live.models.get(model_id.lower())
    name = model_id.rsplit("/", 1)[-1]
    lifecycle, source = lifecycle_of(name, m.found if m is not None else None, catalog)
    stage = lifecycle.stage(data.today)
    if stage == Stage.CURRENT:
        return []
    known = catalog.known(name)
    replacement = known.replacement if known is not None else None
    move = (f"set `model: {replacement}` (its replacement, {catalog.per}) and run `provision apply --allow-replace` (new URL and keys)"
            if replacement else f"move to a current model ({catalog.per}: {', '.join(catalog.current(data.today, name))}) with `provision apply --allow-replace`")
    if stage == Stage.RETIRED:
        return [AuditFinding(Kind.LIFECYCLE, d.name, f"endpoint {e.name} serves {name}, retired on {lifecycle.retired} ({source}): it answers 404", move)]
    dates = ", ".join(f"{what} {when}" for what, when in (("deprecated", lifecycle.deprecated), ("retires", lifecycle.retired)) if when)
    return [AuditFinding(Kind.LIFECYCLE, d.name, f"endpoint {e.name} serves {name}, {stage} ({dates}; {source})", move)]


def _secret_findings(d: Deployment, e: Endpoint, data: AuditData) -> list[AuditFinding]:
    out = []  # the values are compared, never shown
    url, key = data.secrets.get(d.url_var), data.secrets.get(d.key_var)
    if url is None or key is None:
        missing = [v for v, val in ((d.url_var, url), (d.key_var, key)) if val is None]
        return [AuditFinding(Kind.SECRETS, d.name, f"the secrets file has no {' or '.join(missing)}", "run `provision apply` to write it")]
    if e.uri and url != e.uri:
        out.append(AuditFinding(Kind.SECRETS, d.name, f"{d.url_var} is stale (the endpoint's URL is {e.uri})", "run `provision apply` to rewrite it"))
    if d.openai_url_var and e.uri and data.secrets.get(d.openai_url_var) != e.uri.rstrip("/") + "/v1":
        out.append(AuditFinding(Kind.SECRETS, d.name, f"{d.openai_url_var} is missing or stale (should be {e.uri.rstrip('/')}/v1)", "run `provision apply` to rewrite it"))
    keys = data.keys.get(d.name)
    if keys is not None and key not in (keys.primary.reveal(), keys.secondary.reveal()):
        out.append(AuditFinding(Kind.SECRETS, d.name, f"{d.key_var} is no longer a valid key of the endpoint", "run `provision apply` to write the current key"))
    return out


def _foundry_findings(d: Deployment, a: AccountState, data: AuditData) -> list[AuditFinding]:
    """A deployment on a Foundry resource: as for an endpoint, what is missing, unhealthy, drifted,
    retiring or stale in the secrets file (its entry: the resource's URL and key, the deployment name)."""
    out: list[AuditFinding] = []
    if a.account is None:
        if Read.ACCOUNT in a.failures:
            return []  # a `read` finding says why
        return [AuditFinding(Kind.MISSING, d.name, f"Foundry resource {d.account} does not exist in resource group {d.resource_group}", "fix `account` in the spec, or create the resource")]
    if a.account.location not in d.allowed_regions:
        out.append(AuditFinding(Kind.POLICY, d.name, f"Foundry resource {d.account} is in {display_region(a.account.location)}, which allowed_regions no longer allows",
                                "move the deployment to a Foundry resource in an allowed region (set `account`, then `provision apply --allow-replace`)"))
    f = a.deployment(d.name)
    if a.deployments is None:
        pass
    elif f is None:
        out.append(AuditFinding(Kind.MISSING, d.name, f"deployment {d.name} does not exist on {d.account}", "run `provision apply`"))
    else:
        if f.provisioning_state.lower() != "succeeded":
            out.append(AuditFinding(Kind.UNHEALTHY, d.name, f"deployment {d.name} is {f.provisioning_state}", "run `provision apply` to retry it"))
        if f.model_name.lower() != d.model_name.lower():
            out.append(AuditFinding(Kind.DRIFT, d.name, f"model is {f.model_name}, the spec says {d.model_name}", "`provision apply --allow-replace`"))
        if not f.owned_by(d.stack, d.name):
            out.append(AuditFinding(Kind.DRIFT, d.name, f"deployment {d.name} is not this spec's: {owner_of(f)}", "`provision apply --adopt` to manage it"))
        changed = foundry_changes(d, f) if f.owned_by(d.stack, d.name) else ()
        if changed:
            out.append(AuditFinding(Kind.DRIFT, d.name, f"deployment {d.name} differs from the spec in {', '.join(c.field for c in changed)}", "run `provision apply`"))
        out += _lifecycle_findings(d, f, data)
        out += _foundry_secret_findings(d, a, data)
    return out + _probe_findings(d, data)


def _foundry_secret_findings(d: Deployment, a: AccountState, data: AuditData) -> list[AuditFinding]:
    assert a.account is not None
    wanted = {d.url_var: a.account.inference_url, **({d.model_var: d.name} if d.model_var else {}),
              **({d.openai_url_var: a.account.openai_url} if d.openai_url_var else {})}
    key = data.secrets.get(d.key_var)
    missing = [v for v in (*wanted, d.key_var) if data.secrets.get(v) is None]
    if missing:
        return [AuditFinding(Kind.SECRETS, d.name, f"the secrets file has no {' or '.join(missing)}", "run `provision apply` to write it")]
    out = [AuditFinding(Kind.SECRETS, d.name, f"{v} is stale (should be {value})", "run `provision apply` to rewrite it") for v, value in wanted.items() if data.secrets.get(v) != value]
    keys = data.keys.get(d.name)
    if keys is not None and key not in (keys.primary.reveal(), keys.secondary.reveal()):
        out.append(AuditFinding(Kind.SECRETS, d.name, f"{d.key_var} is no longer a valid key of Foundry resource {d.account}", "run `provision apply` to write the current key"))
    return out


def _unfinished_move(d: Deployment, live: LiveState) -> list[AuditFinding]:
    """A deployment whose target changed still runs on its old one (this spec's marks on it)."""
    if moved_resource(d, live) is None:
        return []
    return [AuditFinding(Kind.DRIFT, d.name, f"{d.name} still runs on its old target ({d.moved_from}): its move to {d.target} is not done",
                         "`provision apply --allow-replace` (it makes and proves the new one, switches the secrets entry, then deletes the old)")]


def _foundry_orphans(spec: Spec, live: LiveState) -> list[AuditFinding]:
    out = []
    for key, a in sorted(live.accounts.items()):
        named = {d.name.lower() for d in spec.deployments if (d.foundry and d.account_key == key) or (not d.foundry and d.moved_from_key == key)}
        for f in a.deployments or ():
            if f.name.lower() not in named and f.owned_by(spec.stack):
                out.append(AuditFinding(Kind.ORPHAN, f.name, f"deployment {f.name} on {a.name} was made by this spec (stack '{spec.stack}') but the spec no longer names it",
                                        "`provision destroy --orphans` deletes it (or add it back to the spec)"))
    return out


def _orphan_findings(spec: Spec, projects: list[ProjectState], everything: bool) -> list[AuditFinding]:
    named = {(d.project_key, d.name.lower()) for d in spec.deployments}
    named |= {(key, d.name.lower()) for d in spec.deployments if d.foundry and (key := d.moved_from_key) is not None}  # a move's old endpoint
    wanted_models = {(d.project_key, d.model_id.lower()) for d in spec.deployments}  # their subscriptions are not orphans
    out = []
    for p in projects:
        key = (p.subscription.lower(), p.resource_group.lower(), p.name.lower())
        for e in p.endpoints or ():
            if (key, e.name.lower()) in named:
                continue
            if e.owned_by(spec.stack):
                out.append(AuditFinding(Kind.ORPHAN, e.name, f"endpoint {e.name} in {p.name} was made by this spec (stack '{spec.stack}') but the spec no longer names it",
                                        "`provision destroy --orphans` deletes it (or add it back to the spec)"))
            elif e.stack is not None and everything:
                out.append(AuditFinding(Kind.OTHER_STACK, e.name, f"endpoint {e.name} in {p.name} is another spec's: {owner_of(e)}", "leave it to that spec"))
            elif everything:
                out.append(AuditFinding(Kind.UNMANAGED, e.name, f"endpoint {e.name} in {p.name} ({e.model_id.rsplit('/', 1)[-1]}) is not in the spec and not managed by provision", "add it to the spec (apply --adopt), or delete it"))
        if p.endpoints is None:
            continue  # with the endpoints unread, no subscription can be called unused
        for s in p.marketplace_subscriptions or ():
            used = any(e.uses(s) for e in p.endpoints)
            ours = s.owned_by(spec.stack)
            wanted = next((d for d in spec.deployments if d.project_key == key and d.model_id.lower() == s.model_id.lower()), None)
            if wanted is not None and not used:  # one an endpoint relies on is that endpoint's finding (subscription)
                out.append(_left_behind(s, p, wanted, ours))
                continue
            if used or wanted is not None or not (ours or everything):
                continue
            who = "made by this spec" if ours else "not this spec's"
            message = f"Marketplace subscription {s.name} in {p.name} ({who}) has no endpoint: a billing relationship left behind"
            fix = "`provision destroy --orphans` deletes it" if ours else f"it is not this spec's to delete: `az resource delete --ids {s.id}` (or the portal) if nobody needs it"
            out.append(AuditFinding(Kind.ORPHAN, s.name, message, fix))
    return out


def _left_behind(s: MarketplaceSubscription, p: ProjectState, d: Deployment, ours: bool) -> AuditFinding:
    """A subscription to a spec deployment's model that failed, or that no endpoint uses (an apply
    that failed before the endpoint was made): billing with nothing behind it, or a refused purchase."""
    state = "Failed (a refused purchase)" if s.provisioning_state.lower() == "failed" else f"{s.status}, with no endpoint"
    message = f"Marketplace subscription {s.name} in {p.name} (for {d.name}'s model {d.model_name}) is {state}: nothing uses it"
    if ours:
        fix = f"`provision destroy --only {d.name}` removes it; `provision apply` makes the deployment again once the cause is fixed"
    else:
        fix = f"it is not this spec's to delete: `az resource delete --ids {s.id}` (or the portal) if nobody needs it"
    return AuditFinding(Kind.SUBSCRIPTION, d.name, message, fix)


def _saas_findings(data: AuditData) -> list[AuditFinding]:
    """SaaS resources (billing) beyond the Marketplace subscriptions of their resource group. Only
    when every project's subscriptions there were read: an unread list is not an empty one."""
    out = []
    projects = list(data.live.projects.values()) + data.extra_projects
    for (sub, rg), resources in sorted(data.saas.items()):
        here = [p for p in projects if p.subscription.lower() == sub and p.resource_group.lower() == rg]
        unread = sorted(p.name for p in here if p.marketplace_subscriptions is None)
        if unread:
            out.append(AuditFinding(Kind.READ, rg, f"the SaaS resources of {rg} were not weighed against its Marketplace subscriptions: "
                                    f"those of {', '.join(unread)} could not be read", "fix what the other `read` findings say, then `provision audit --all` again"))
            continue
        offers: dict[str, int] = {}
        for p in here:
            for s in p.marketplace_subscriptions or ():
                offers[s.offer_id.lower()] = offers.get(s.offer_id.lower(), 0) + 1
        by_offer: dict[str, list[SaasResource]] = {}
        for r in resources:
            if r.status.lower() in ("subscribed", "suspended", "pendingfulfillmentstart"):
                by_offer.setdefault(r.offer_id.lower(), []).append(r)
        for offer, found in sorted(by_offer.items()):
            if len(found) > offers.get(offer, 0):
                names = ", ".join(sorted(r.name for r in found))
                out.append(AuditFinding(Kind.ORPHAN, names, f"{len(found)} SaaS resource(s) of offer {offer} in {rg} but {offers.get(offer, 0)} Marketplace subscription(s) to it: billing with no deployment behind it",
                                        "cancel the extra SaaS subscription in the Azure portal (Resource group > SaaS)"))
    return out


def audit_findings(spec: Spec, data: AuditData) -> list[AuditFinding]:
    live = data.live
    if live.identity is None:
        return [AuditFinding(Kind.READ, f.subject, f.message, f.remedy) for f in identity_findings(live)]
    out: list[AuditFinding] = [AuditFinding(Kind.READ, "audit", e, "") for e in data.read_errors]
    for d in spec.deployments:
        if d.foundry:
            a = live.accounts[d.account_key]
            for what in sorted(a.failures):
                if what in (Read.ACCOUNT, Read.DEPLOYMENTS):
                    out.append(AuditFinding(Kind.READ, d.name, f"could not read the {what} {d.account}", explain(a.failures[what])))
            out += _foundry_findings(d, a, data) + _unfinished_move(d, live)
            continue
        p = live.projects[d.project_key]
        for what in sorted(p.failures):
            if what in (Read.PROJECT, Read.ENDPOINTS, Read.MARKETPLACE, Read.HUB):
                unread = unread_finding(d, p, what)
                out.append(AuditFinding(Kind.READ, d.name, unread.message, unread.remedy))
        out += _deployment_findings(d, p, data) + _unfinished_move(d, live)
    unique = {id(p): p for p in live.projects.values()}
    out += _orphan_findings(spec, list(unique.values()), data.everything)
    out += _foundry_orphans(spec, live)
    if data.everything:
        out += _orphan_findings(spec, data.extra_projects, True)
        out += _saas_findings(data)
    order = list(Kind)
    return sorted(dict.fromkeys(out), key=lambda f: (order.index(f.kind), f.subject, f.message))
