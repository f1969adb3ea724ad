"""Pre-flight checks against the model catalog and the region's endpoint names: pure functions of
the spec, what was read (the registry's answers, the region's endpoints) and the plan.

- model: the registry has the model (did-you-mean from its real names otherwise), spelled as the
  registry spells it, and it is not deprecated or retired (the fix names the replacement);
- offer: the model is offered as a serverless API in the hub's region (per the packaged catalog,
  since no API says so), and whether it is sold through the Marketplace;
- name: no endpoint the caller can see elsewhere in the region already has the endpoint's name
  (names are part of a URL unique in the region).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from .catalog import REGISTRY_DISCOVERY, Catalog, Stage, did_you_mean, lifecycle_of, split_model_id, suggestions
from .findings import Check, Finding, _cannot_read
from .live import Endpoint, LiveState, ModelState, ProjectState
from .plan import CREATE, REPLACE, SUBSCRIBE, Action
from .regions import display_region
from .spec import Deployment, Spec

URL_FORM = "https://<name>.<region>.models.ai.azure.com"


def _regions(regions: tuple[str, ...] | list[str]) -> str:
    return ", ".join(display_region(r) for r in regions)


def model_finding(d: Deployment, m: Optional[ModelState], actions: set[Action], catalog: Catalog, today: dt.date) -> Optional[Finding]:
    """Whether the registry has the model, and where it is in its lifecycle; None when not read."""
    if m is None:
        return None
    registry, name = split_model_id(d.model_id)
    writes = bool(actions & WRITES)
    if m.failure is not None:
        if m.failure.code == "RegistryUnknown":  # a cloud whose registry host is not known: say so, never block
            return Finding(Check.MODEL, d.name, True, f"{name} was not checked: {m.failure}", "set REGISTRY_DISCOVERY_ENDPOINT_URL to this cloud's registry discovery host", warning=True)
        if not writes:  # nothing to make for it: a live endpoint keeps serving whatever the registry says today
            return Finding(Check.MODEL, d.name, True, f"could not read {name} from the model registry {registry} ({m.failure}); nothing is to be made for it", warning=True)
        return _cannot_read(Check.MODEL, d.name, f"could not read {name} from the model registry {registry}", m.failure,
                            f"run again; if it persists, check that this machine reaches {REGISTRY_DISCOVERY} and the registry's host (proxy, firewall)")
    if not m.read:
        return None
    if m.found is None:
        names = m.names or ()
        current = [n for n in names if (k := catalog.known(n)) is None or k.lifecycle.stage(today) not in (Stage.DEPRECATED, Stage.RETIRED)]
        options = suggestions(name, current) or suggestions(name, names)  # current models first: a retired suggestion is a second trip
        fix = f"set `model: {options[0]}`" if options else f"set `model` to a model the registry has; current ones ({catalog.per}): {', '.join(catalog.current(today))}"
        return Finding(Check.MODEL, d.name, False, f"model '{name}' is not in the {registry} registry{did_you_mean(options)}", fix)
    lifecycle = _lifecycle_finding(d, m, actions, catalog, today)
    if m.found.name == name or not lifecycle.ok:
        return lifecycle  # a retired or deprecated model: its fix names the replacement, whatever the spelling
    # Only the letter case differs. Whether Azure minds is not documented: a new endpoint gets the
    # registry's spelling; a live one is left alone (the plan compares model ids case-insensitively).
    spelled = f"the {registry} registry spells the model '{m.found.name}', not '{name}'"
    if actions & {CREATE, REPLACE}:
        return Finding(Check.MODEL, d.name, False, spelled, f"set `model: {m.found.name}`")
    return Finding(Check.MODEL, d.name, True, spelled, f"set `model: {m.found.name}`", warning=True)


WRITES = {CREATE, REPLACE, SUBSCRIBE}  # what needs the model to be deployable today (a purchase too)


def _lifecycle_finding(d: Deployment, m: ModelState, actions: set[Action], catalog: Catalog, today: dt.date) -> Finding:
    assert m.found is not None
    name = m.found.name
    lifecycle, source = lifecycle_of(name, m.found, catalog)
    stage = lifecycle.stage(today)
    known = catalog.known(name)
    replacement = known.replacement if known is not None else None
    move = f"set `model: {replacement}` (its replacement, {catalog.per})" if replacement else f"choose a current model ({catalog.per}): {', '.join(catalog.current(today, name))}"
    if not actions & {CREATE}:  # an endpoint exists: moving it to another model replaces it
        move += " and run `provision apply --allow-replace` (new URL and keys)"
    creates = bool(actions & WRITES)
    if stage == Stage.RETIRED:
        return Finding(Check.MODEL, d.name, False, f"{name} was retired on {lifecycle.retired} ({source}): Azure no longer deploys it and its endpoints answer 404", move)
    if stage == Stage.DEPRECATED:
        until = f"; it retires on {lifecycle.retired}" if lifecycle.retired else ""
        if creates:
            return Finding(Check.MODEL, d.name, False, f"{name} is deprecated since {lifecycle.deprecated} ({source}): Azure makes no new deployments of it{until}", move)
        return Finding(Check.MODEL, d.name, True, f"{name} is deprecated since {lifecycle.deprecated} ({source}): the endpoint serves until it retires{until.replace('; it retires on', ' on')}; {move}", warning=True)
    if stage == Stage.LEGACY:
        dates = ", ".join(f"{what} on {when}" for what, when in (("deprecated", lifecycle.deprecated), ("retired", lifecycle.retired)) if when)
        return Finding(Check.MODEL, d.name, True, f"{name} is legacy since {lifecycle.legacy} ({source}): {dates or 'to be retired'}; plan the move: {move}", warning=True)
    return Finding(Check.MODEL, d.name, True, f"{name} (version {m.found.version or '?'}) is in the {m.found.registry} registry")


def offer_finding(d: Deployment, p: ProjectState, actions: set[Action], catalog: Catalog, today: dt.date) -> Optional[Finding]:
    """Whether the hub's region offers the model as a serverless API; only when an endpoint is to
    be made (a live one is where it is). None when the hub was not read."""
    if p.hub is None or not actions & {CREATE, REPLACE}:
        return None
    region, name = p.hub.location, d.model_name
    known = catalog.known(name)
    if known is None:
        return Finding(Check.OFFER, d.name, True, f"where {name} is offered is not known (the catalog of {catalog.as_of} does not list it): Azure decides when the endpoint is created", warning=True)
    sold = "sold through Azure Marketplace: apply subscribes the project to its offer" if known.seller == "marketplace" else "sold by Azure: no Marketplace subscription"
    if not known.regions:
        return Finding(Check.OFFER, d.name, False, f"{name} is not offered as a serverless API in hub-based projects ({catalog.per}): {known.note}",
                       f"choose a model a hub project can deploy: {', '.join(catalog.current(today))}")
    if region in known.regions:
        return Finding(Check.OFFER, d.name, True, f"{name} is offered in {display_region(region)} ({catalog.per}); {sold}")
    message = f"{name} is not offered as a serverless API in {display_region(region)} ({catalog.per}); it is in: {_regions(known.regions)}"
    allowed_there = [r for r in known.regions if r in d.allowed_regions]
    if allowed_there:
        fix = f"point `project` at a project whose hub is in {_regions(allowed_there)}"
    else:
        fix = (f"none of allowed_regions ({_regions(d.allowed_regions)}) offers it: choose a project in one of the regions above "
               "and add that region to `allowed_regions` if policy permits, or choose a model offered in your region")
    return Finding(Check.OFFER, d.name, False, message, fix)


def name_finding(d: Deployment, p: ProjectState, live: LiveState) -> Optional[Finding]:
    """Whether another endpoint the caller can see in the region already has this name."""
    if p.hub is None or p.endpoints is None or p.endpoint(d.name) is not None:
        return None
    region = p.hub.location
    scan = live.names.get(region)
    if scan is None:
        return None
    others: list[Endpoint] = list(scan.endpoints)
    others += [e for q in live.projects.values() if q is not p and q.hub is not None and q.hub.location == region for e in q.endpoints or ()]
    taken = next((e for e in others if e.name.lower() == d.name.lower() and e.location == region), None)
    if taken is not None:
        return Finding(Check.NAME, d.name, False,
                       f"endpoint name '{d.name}' is already used in {display_region(region)} by {_where(taken)}: endpoint names are unique per region",
                       f"choose another `name` for the deployment (it becomes part of the URL, {URL_FORM})")
    seen = f"among the {scan.projects} other project{'s' if scan.projects != 1 else ''} in {display_region(region)} the caller can see"
    if scan.unread:
        return Finding(Check.NAME, d.name, True, f"name '{d.name}' is free {seen}, but {len(scan.unread)} could not be looked at "
                       f"({'; '.join(scan.unread[:2])}{'; …' if len(scan.unread) > 2 else ''}); Azure refuses a taken name when the endpoint is created", warning=True)
    return Finding(Check.NAME, d.name, True, f"name '{d.name}' is free {seen} (a name taken in another tenant shows only when the endpoint is created)")


def _where(e: Endpoint) -> str:
    """'project P (resource group RG, subscription S)' from an endpoint's id."""
    parts = e.id.split("/")
    lowered = [x.lower() for x in parts]

    def after(word: str) -> str:
        return parts[lowered.index(word) + 1] if word in lowered and lowered.index(word) + 1 < len(parts) else "?"

    return f"project {after('workspaces')} (resource group {after('resourcegroups')}, subscription {after('subscriptions')})"


OFFLINE_UNKNOWN_LISTED = 10  # unknown models warned about one by one; beyond, one line counts them


def offline_findings(spec: Spec, catalog: Catalog, today: dt.date) -> list[Finding]:
    """What `validate` can say about the models without Azure: warnings only (the registry, read by
    `plan`, has the last word), from the packaged catalog. Each model is weighed once; past a few
    unknown ones, one warning counts the rest (a spec of generated names must not drown the output)."""
    out: list[Finding] = []
    current = catalog.current(today)
    unknown: list[str] = []  # deployments whose model the catalog does not know, beyond those listed
    weighed: dict[str, list[tuple[str, str]]] = {}  # model name -> (message, fix) warnings
    listed_unknown = 0
    for d in spec.deployments:
        registry, name = (catalog.registry, d.model_id) if d.foundry else split_model_id(d.model_id)
        if registry.lower() != catalog.registry:
            continue
        if name not in weighed:
            if catalog.known(name) is None:
                if listed_unknown >= OFFLINE_UNKNOWN_LISTED:
                    unknown.append(d.name)
                    continue
                listed_unknown += 1
            weighed[name] = _offline(name, catalog, today, current)
        out += [Finding(Check.MODEL, d.name, True, message, fix, warning=True) for message, fix in weighed[name]]
    if unknown:
        shown = ", ".join(unknown[:3]) + (", …" if len(unknown) > 3 else "")
        out.append(Finding(Check.MODEL, f"{len(unknown)} more deployments", True,
                           f"their models are not in the catalog of {catalog.as_of} either ({shown}); `provision plan` asks the registry", warning=True))
    return out


def _offline(name: str, catalog: Catalog, today: dt.date, current: list[str]) -> list[tuple[str, str]]:
    known = catalog.known(name)
    if known is None:
        options = suggestions(name, current)
        return [(f"model '{name}' is not in the catalog of {catalog.as_of}{did_you_mean(options)} (`provision plan` asks the registry)",
                 f"set `model: {options[0]}`" if options else "")]
    found = []
    if known.name != name:
        found.append((f"the catalog of {catalog.as_of} spells the model '{known.name}', not '{name}'", f"set `model: {known.name}`"))
    stage = known.lifecycle.stage(today)
    if stage in (Stage.DEPRECATED, Stage.RETIRED, Stage.LEGACY):
        when = {Stage.RETIRED: known.lifecycle.retired, Stage.DEPRECATED: known.lifecycle.deprecated, Stage.LEGACY: known.lifecycle.legacy}[stage]
        fix = f"set `model: {known.replacement}` (its replacement)" if known.replacement else f"choose a current model: {', '.join(catalog.current(today, known.name))}"
        found.append((f"{known.name} is {stage} since {when} ({catalog.per})", fix))
    return found
