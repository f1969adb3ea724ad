"""The one-way flow, as library calls the CLI makes: spec -> live -> plan -> checks, then apply ->
secrets. Each stage is its own module; this only strings them together."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Optional

from .apply import ApplyResult, Progress, apply_plan, finish_moves, prove
from .checks import Check, Finding, failed, role_names_finding, run_checks
from .destroy import DELETE, GONE, DestroyItem, DestroyResult, destroy_checks, plan_destroy, plan_orphans, run_destroy
from .errors import AzureError, Problem, SpecError, explain
from .azureapi import AzureApi
from .live import account_id, project_id
from .live import Identity, Keys, LiveState, RoleAssignment
from .plan import Plan, plan_changes
from .refresh import read_live
from .render import identity_dict
from .secret import Secret
from .secrets import SecretEntry, forget_entries, hold_secrets, origin, publish_to_github, read_origins, read_secrets, refuse_foreign, spec_directory
from .spec import Deployment, Spec
from .workers import worker_pool


@dataclass
class Preflight:
    spec: Spec
    live: LiveState
    plan: Plan
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not failed(self.findings)


def secrets_finding(spec: Spec) -> Finding:
    """The secrets file can be merged and written: checked before Azure is touched (an unreadable
    file, a link, a place outside the spec's directory is a usage error, raised here; an unwritable
    place is a failed check)."""
    read_secrets(spec.secrets, spec_directory(spec))
    directory = os.path.dirname(os.path.abspath(spec.secrets.path))
    existing = directory
    while not os.path.isdir(existing):
        if os.path.lexists(existing):  # a file where a directory of the path should be
            raise SpecError([Problem(spec.secrets.path, None, "", f"{existing} is not a directory, so the secrets file cannot be written there; "
                                     "remove it or point `secrets.path` elsewhere")])
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK) or (os.path.exists(spec.secrets.path) and not os.access(spec.secrets.path, os.R_OK)):
        return Finding(Check.SECRETS, spec.secrets.path, False, f"cannot write the secrets file {spec.secrets.path} (no write access to {existing})",
                       "fix the directory's permissions, or point `secrets.path` elsewhere")
    return Finding(Check.SECRETS, spec.secrets.path, True, f"{spec.secrets.format} file, readable and writable")


def preflight(spec: Spec, gateway: AzureApi, parallel: int, allow_replace: bool = False, adopt: bool = False,
              replace_foreign: bool = False) -> Preflight:
    """Read-only: what is live, what would change, and whether it may."""
    local = secrets_finding(spec)
    live = read_live(spec, gateway, parallel, catalog=True, names=True)
    if not replace_foreign:
        refuse_foreign_entries(spec, spec.deployments, origins_of(spec.deployments, gateway, live))
    plan = plan_changes(spec, live)
    return Preflight(spec, live, plan, run_checks(spec, live, plan, allow_replace, adopt) + [local])


def origins_of(deployments: Iterable[Deployment], gateway: AzureApi, live: LiveState) -> dict[str, str]:
    """variable -> the origin this run writes it with (cloud, tenant, subscription); {} without an identity."""
    if live.identity is None:
        return {}
    return {v: origin(gateway.cloud.name, live.identity.tenant_id, d.subscription) for d in deployments for v in d.secret_vars}


def refuse_foreign_entries(spec: Spec, deployments: Iterable[Deployment], mine: Mapping[str, str]) -> None:
    """Exit 2, before Azure is changed, if the run would overwrite or delete an entry another
    cloud, tenant or subscription wrote (a staging run into production's file, say)."""
    if mine:
        refuse_foreign(spec.secrets, mine, read_origins(spec.secrets, spec_directory(spec)), "this run would replace or remove",
                       "write this run's keys to another file (PROVISION_SECRETS_FILE=…)")


@dataclass(frozen=True)
class HeldRole:
    role: str  # its name, or its id when the name could not be read
    scope: str
    through: Optional[str]  # the group's object id, None when assigned to the caller itself

    def as_dict(self) -> dict[str, Optional[str]]:
        return {"role": self.role, "scope": self.scope, "through": self.through}


@dataclass
class WhoamiReport:
    identity: Optional[Identity]
    roles: list[HeldRole]  # at, above or below the spec's resource groups, by scope
    findings: list[Finding]  # identity, role and permissions

    def as_dict(self) -> dict[str, object]:
        return {"identity": identity_dict(self.identity), "assignments": [r.as_dict() for r in self.roles], "checks": [f.as_dict() for f in self.findings]}


def whoami_report(spec: Spec, gateway: AzureApi, parallel: int) -> WhoamiReport:
    """Who the credential is, the roles it holds around the spec's resource groups (by name), and
    the identity, role and permission checks of every deployment. Read-only."""
    pre = preflight(spec, gateway, parallel)
    findings = [f for f in pre.findings if f.check in (Check.IDENTITY, Check.ROLE, Check.PERMISSIONS)]
    assignments = sorted({a for p in pre.live.projects.values() for a in (p.assignments or ())}, key=lambda a: (a.scope.lower(), a.role_definition_id))
    names: dict[str, str] = {}
    for sub in sorted({a.role_definition_id.split("/providers/")[0] for a in assignments}):
        subscription = sub.rsplit("/", 1)[-1]
        try:
            names.update(gateway.role_names(subscription, [a.role_definition_id for a in assignments if a.role_definition_id.startswith(sub + "/providers/")]))
        except AzureError as exc:
            findings.append(role_names_finding(subscription, exc))
    return WhoamiReport(pre.live.identity, [_held(a, names, pre.live.identity) for a in assignments], findings)


def _held(a: RoleAssignment, names: Mapping[str, str], identity: Optional[Identity]) -> HeldRole:
    mine = identity is not None and a.principal_id.lower() == identity.object_id.lower()
    return HeldRole(names.get(a.role_definition_id, a.role_definition_id.rsplit("/", 1)[-1]), a.scope, None if mine else a.principal_id)


def apply_and_store(pre: Preflight, gateway: AzureApi, parallel: int, progress: Progress, environ: Optional[Mapping[str, str]] = None,
                    grace: float = 5.0) -> ApplyResult:
    """Apply a checked plan, then write every ready deployment's URL and key (one atomic write).
    A deployment whose target changed is proven with a chat call before its entry switches to it;
    its old one is deleted `grace` seconds after the write."""
    assert pre.ok, "apply_and_store needs a preflight whose checks passed"
    result = apply_plan(pre.plan, gateway, parallel, progress)
    if result.secrets:
        with hold_secrets(pre.spec.secrets, spec_directory(pre.spec), waiting=lambda m: progress(pre.spec.secrets.path, m)) as secrets:
            # The keys are read here, once, while no other run (a `keys rotate`) can change the file.
            result.secrets, unread = current_keys(pre.spec, gateway, result.secrets, secrets.read(), parallel)
            unread.update(_prove_moves(gateway, result))
            result.secrets = [e for e in result.secrets if e.deployment not in unread]
            result.moves = [m for m in result.moves if m.deployment.name not in unread]
            for r in result.deployments:
                if r.name in unread:
                    r.ok, r.error = False, unread[r.name]
            if result.secrets:
                written = [d for d in pre.spec.deployments if d.name in {e.deployment for e in result.secrets}]
                # a deployment moved off Foundry no longer has a deployment name for clients to pass
                gone = tuple(f"{m.deployment.url_var.removesuffix('_URL')}_MODEL" for m in result.moves
                             if not m.deployment.foundry and m.deployment.url_var.endswith("_URL"))
                secrets.write(result.secrets, remove=gone, origins=origins_of(written, gateway, pre.live))
        publish_to_github(result.secrets, os.environ if environ is None else environ, sys.stderr)
    failed = finish_moves(gateway, result.moves, grace, progress)
    moved_from = {m.deployment.name: m.deployment.moved_from for m in result.moves}
    for r in result.deployments:
        if r.name in failed:
            r.ok, r.error = False, failed[r.name]
        elif r.name in moved_from:
            r.done.append(f"moved from {moved_from[r.name]}: the old one is deleted")
    return result


def _prove_moves(gateway: AzureApi, result: ApplyResult) -> dict[str, str]:
    """{deployment: why} for each moved deployment whose new one does not answer with the key its
    entry would hold (its entry then stays as it was: clients keep the old one)."""
    failed = {}
    for m in result.moves:
        d = m.deployment
        entry = next((e for e in result.secrets if e.deployment == d.name), None)
        why = prove(gateway, entry, d.name if d.foundry else None) if entry is not None else None
        if why:
            failed[d.name] = why
    return failed


def current_keys(spec: Spec, gateway: AzureApi, entries: list[SecretEntry], held: Mapping[str, str],
                 parallel: int) -> tuple[list[SecretEntry], dict[str, str]]:
    """Each entry with the key to write now, read once per endpoint (once per Foundry resource, whose
    deployments share its keys) while the file is held: the key the file holds while it is still
    one of the endpoint's (apply never moves clients off a working key), else the primary. An
    endpoint whose keys cannot be read gets no entry (what the file holds stays) and its deployment
    fails with the reason: (entries, {deployment: error})."""

    def source(d: Deployment) -> tuple[str, str]:
        if d.foundry:
            return account_id(d.subscription, d.resource_group, d.account), ""
        return project_id(d.subscription, d.resource_group, d.project), d.name

    def read(where: tuple[str, str]) -> Keys | AzureError:
        try:
            return gateway.list_keys(*where) if where[1] else gateway.account_keys(where[0])
        except AzureError as exc:
            return exc

    deployments = {e.deployment: spec.deployment(e.deployment) for e in entries}
    sources = list(dict.fromkeys(source(d) for d in deployments.values() if d is not None))
    with worker_pool(parallel, "keys") as pool:
        read_keys = dict(zip(sources, pool.map(read, sources)))

    def now(e: SecretEntry) -> tuple[Optional[SecretEntry], str]:
        d = deployments[e.deployment]
        assert d is not None
        keys = read_keys[source(d)]
        if isinstance(keys, AzureError):
            return None, f"could not read the {'Foundry resource' if d.foundry else 'endpoint'}'s keys ({explain(keys)}); the secrets file keeps what it had: run apply again"
        valid = {k.reveal() for k in (keys.primary, keys.secondary) if k}
        if held.get(e.key_var) in valid:
            return replace(e, key=Secret(held[e.key_var])), ""
        if not keys.primary:
            return None, f"endpoint {d.name} returned no key; run apply again"
        return replace(e, key=keys.primary), ""

    found = [now(e) for e in entries]
    return [e for e, _ in found if e is not None], {e.deployment: why for e, (kept, why) in zip(entries, found) if kept is None}


@dataclass
class DestroyPreflight:
    spec: Spec
    items: list[DestroyItem]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not failed(self.findings)

    @property
    def deletions(self) -> int:
        return sum((i.endpoint_action == DELETE) + (i.subscription_action == DELETE) for i in self.items)


def destroy_preflight(spec: Spec, gateway: AzureApi, parallel: int, only: tuple[str, ...], keep_subscription: bool, include_unmanaged: bool,
                      orphans: bool = False, replace_foreign: bool = False) -> DestroyPreflight:
    """Read-only: what destroy would delete, and whether it may. Everything local (the secrets
    file it will edit) is checked before Azure is read, so no delete happens that cannot be followed
    by forgetting its entries."""
    local = secrets_finding(spec)
    live = read_live(spec, gateway, parallel)
    items = plan_orphans(spec, live) if orphans else plan_destroy(spec, live, only, keep_subscription, include_unmanaged)
    if not replace_foreign:
        chosen = [i.deployment for i in items if not i.orphan]
        refuse_foreign_entries(spec, chosen, origins_of(chosen, gateway, live))
    looked_at = list(spec.deployments) if orphans else [i.deployment for i in items]
    return DestroyPreflight(spec, items, destroy_checks(items, live, looked_at) + [local])


def destroy_and_forget(pre: DestroyPreflight, gateway: AzureApi, parallel: int, progress: Progress) -> list[DestroyResult]:
    """Delete in dependency order, then drop the secrets entries of every deployment now gone."""
    assert pre.ok, "destroy_and_forget needs a preflight whose checks passed"
    results = run_destroy(pre.items, gateway, parallel, progress) if pre.deletions else []
    done = {r.name for r in results if r.ok}
    gone = [i.deployment for i in pre.items if not i.orphan
            and ((i.endpoint_action == GONE and i.project_exists) or (i.endpoint_action == DELETE and i.deployment.name in done))]
    forget_entries(pre.spec.secrets, [v for d in gone for v in d.secret_vars], spec_directory(pre.spec))
    return results
