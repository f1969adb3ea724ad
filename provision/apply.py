"""Execute a plan: register providers, then every deployment concurrently (bounded): its Marketplace
subscription before its endpoint, each write followed by ARM's operation polling (which sleeps what
Retry-After says), then its keys. Idempotent by construction: the plan holds only what differs,
and a re-PUT of an unfinished resource joins its running operation.

Returns what happened per deployment; writing the secrets is the caller's next step."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .errors import AzureError, Phase, ProvisionError, explain
from .azureapi import AzureApi
from .live import account_id, project_id
from .live import subscription_name
from .live import FoundryDeployment
from .plan import ADOPT, CREATE, MOVE, REPLACE, RESUME, RESUME_SUBSCRIPTION, RETAG, SUBSCRIBE, UNSUBSCRIBE, UPDATE, DeploymentPlan, Plan, Registration
from .secret import Secret
from .secrets import SecretEntry
from .workers import run_all, worker_pool

Progress = Callable[[str, str], None]  # (subject, message)
REGISTRATION_TIMEOUT = 600.0


@dataclass
class DeploymentResult:
    name: str
    ok: bool
    done: list[str] = field(default_factory=list)  # steps completed, in order
    url: Optional[str] = None
    error: Optional[str] = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "done": self.done, "url": self.url, "error": self.error, "seconds": round(self.seconds, 2)}


@dataclass
class ApplyResult:
    deployments: list[DeploymentResult]
    secrets: list[SecretEntry]
    # the ready deployments whose target changed: once the secrets file points at them (and clients
    # had `grace` to pick it up), their old ones go (finish_moves)
    moves: list[DeploymentPlan] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.deployments)


def _register(gateway: AzureApi, r: Registration, progress: Progress) -> Optional[str]:
    progress(r.subscription, f"register provider {r.namespace} ...")
    try:
        state = gateway.register_provider(r.subscription, r.namespace)
        deadline = time.monotonic() + REGISTRATION_TIMEOUT
        while state.lower() != "registered":
            if time.monotonic() > deadline:
                error = f"{r.namespace} is still {state} after {REGISTRATION_TIMEOUT:.0f} s; run apply again later"
                progress(r.subscription, f"register provider {r.namespace} failed: {error}")
                return error
            time.sleep(2)
            state = gateway.provider_state(r.subscription, r.namespace)
    except AzureError as exc:
        error = explain(exc, Phase.REGISTER)
        progress(r.subscription, f"register provider {r.namespace} failed: {error}")
        return error
    progress(r.subscription, f"register provider {r.namespace} done")
    return None


def _deploy(gateway: AzureApi, dp: DeploymentPlan, progress: Progress) -> tuple[DeploymentResult, Optional[SecretEntry]]:
    d = dp.deployment
    result = DeploymentResult(d.name, ok=False)
    started = time.monotonic()
    project = project_id(d.subscription, d.resource_group, d.project)
    endpoint = dp.live_endpoint
    phase = Phase.DEPLOY
    subscribed: Optional[str] = None  # the Marketplace subscription this run made (or tried to)
    step_name, t0 = f"read endpoint {d.name}", time.monotonic()
    try:
        for step in dp.steps:
            if step.action == MOVE:
                continue  # after the secrets file points at this one (finish_moves)
            phase = Phase.SUBSCRIBE if step.action == SUBSCRIBE else Phase.DEPLOY
            progress(d.name, f"{step.short} ...")
            step_name, t0 = step.short, time.monotonic()
            if step.action == SUBSCRIBE:
                # Undone if the deployment then fails: only this spec's own subscription (its exact
                # name), made or retried by this run; never one another run is still creating
                # (resumed, or its PUT refused with 409), nor one under another name.
                ours = step.name == subscription_name(d.model_name, d.stack) and step.detail != RESUME_SUBSCRIPTION
                try:
                    status = gateway.create_marketplace_subscription(project, step.name, d.model_id)
                except AzureError as exc:
                    subscribed = step.name if ours and exc.status != 409 else None
                    raise
                subscribed = step.name if ours else None
                if status.lower() != "succeeded":
                    raise ProvisionError(f"Marketplace subscription {step.name} ended {status}; run apply again")
                endpoint = None  # a resubscribed project's endpoint comes back Online: read it again
            elif step.action == UNSUBSCRIBE:  # the old model's, after a replacement
                gateway.delete_marketplace_subscription(project, step.name)
            elif step.action == RETAG:
                gateway.patch_endpoint_tags(project, d.name, dp.endpoint_tags)
                endpoint = gateway.get_endpoint(project, d.name)
            elif step.action in (CREATE, UPDATE, RESUME, ADOPT, REPLACE):
                if step.action == REPLACE:
                    gateway.delete_endpoint(project, d.name)
                assert dp.location is not None
                safety = d.content_safety
                if safety is None and endpoint is not None and step.action != REPLACE:
                    safety = endpoint.content_safety  # keep what is live when the spec leaves it to Azure
                endpoint = gateway.put_endpoint(project, d.name, d.model_id, dp.location, dp.endpoint_tags, safety)
            result.done.append(step.short)
            progress(d.name, f"{step.short} done ({time.monotonic() - t0:.1f} s)")
        phase = Phase.KEYS
        step_name, t0 = f"check endpoint {d.name}", time.monotonic()
        if endpoint is None:
            endpoint = gateway.get_endpoint(project, d.name)
        if endpoint is None or endpoint.provisioning_state.lower() != "succeeded" or not endpoint.uri:
            state = endpoint.provisioning_state if endpoint else "missing"
            raise ProvisionError(f"endpoint {d.name} is {state}, not Succeeded; run apply again")
        if endpoint.endpoint_state.lower() != "online":
            # Ready means it serves: provisioned and Online (a Suspended endpoint answers 503).
            raise ProvisionError(f"endpoint {d.name} is provisioned but {endpoint.endpoint_state}, not Online, so it cannot serve; "
                                 "`provision audit` says why (usually its Marketplace subscription) and how to fix it")
        # Its key is read once, later, while the secrets file is held (workflow.current_keys): a key
        # read now could be regenerated by a `keys rotate` before it is written.
        result.ok, result.url = True, endpoint.uri
        entry = SecretEntry(d.name, d.url_var, endpoint.uri, d.key_var, Secret(""), d.openai_url_var)
        return result, entry
    except AzureError as exc:
        result.error = explain(exc, phase)
    except ProvisionError as exc:
        result.error = str(exc)
    finally:
        result.seconds = time.monotonic() - started
    progress(d.name, f"{step_name} failed ({time.monotonic() - t0:.1f} s): {result.error}")
    if subscribed is not None:
        progress(d.name, f"undo marketplace subscription {subscribed} ...")
        undone = _undo_subscription(gateway, project, subscribed, d.name)
        progress(d.name, f"undo marketplace subscription {subscribed}: {undone}")
        result.error = f"{result.error}; {undone}"
        result.seconds = time.monotonic() - started
    return result, None


def _undo_subscription(gateway: AzureApi, project: str, name: str, deployment: str) -> str:
    """A subscription this run made for an endpoint that then was not made is a billing relationship
    with nothing behind it (or a Failed purchase): delete it again, unless an endpoint relies on it
    (read again now: an endpoint whose creation was accepted keeps it)."""
    try:
        subscription = next((s for s in gateway.list_marketplace_subscriptions(project) if s.name.lower() == name.lower()), None)
        if subscription is None:
            return f"no Marketplace subscription {name} was left behind"
        users = sorted(e.name for e in gateway.list_endpoints(project) if e.uses(subscription))
        if users:
            return f"the Marketplace subscription {name} stays: endpoint {', '.join(users)} relies on it"
        gateway.delete_marketplace_subscription(project, name)
    except AzureError as exc:
        return (f"the Marketplace subscription {name} it made could not be removed ({explain(exc)}): "
                f"`provision destroy --only {deployment}` removes it")
    return f"the Marketplace subscription {name} it made was removed again, so no billing relationship is left behind"


def _deploy_foundry(gateway: AzureApi, dp: DeploymentPlan, progress: Progress, lock: threading.Lock) -> tuple[DeploymentResult, Optional[SecretEntry]]:
    """A deployment on a Foundry resource. Its writes hold the resource's lock: Azure refuses
    concurrent writes on one resource, so they go one at a time there (other resources in parallel)."""
    d = dp.deployment
    assert dp.account is not None
    result = DeploymentResult(d.name, ok=False)
    started = step_started = time.monotonic()
    account = account_id(d.subscription, d.resource_group, d.account)
    deployment = dp.live_deployment
    step_name = f"read deployment {d.name}"
    created = False  # this run made it (a failure then removes it again: nothing half-made stays)
    try:
        for step in dp.steps:
            if step.action in (MOVE, UNSUBSCRIBE):
                continue  # the old one's: after the secrets file points at this one (finish_moves)
            progress(d.name, f"{step.short} ...")
            step_name, step_started = step.short, time.monotonic()
            with lock:
                if step.action == REPLACE:
                    gateway.delete_foundry_deployment(account, d.name)
                created = step.action in (CREATE, REPLACE)
                deployment = gateway.put_foundry_deployment(account, d.name, d.model_name, d.version, d.sku, d.capacity, d.content_filter, dp.endpoint_tags)
            result.done.append(step.short)
            progress(d.name, f"{step.short} done ({time.monotonic() - step_started:.1f} s)")
        step_name = f"check deployment {d.name}"
        if deployment is None:
            deployment = gateway.get_foundry_deployment(account, d.name)
        if deployment is None or deployment.provisioning_state.lower() != "succeeded":
            raise ProvisionError(f"deployment {d.name} is {deployment.provisioning_state if deployment else 'missing'}, not Succeeded; run apply again")
        result.ok, result.url = True, dp.account.inference_url
        return result, SecretEntry(d.name, d.url_var, dp.account.inference_url, d.key_var, Secret(""), d.openai_url_var, dp.account.openai_url, d.model_var, d.name)
    except AzureError as exc:
        result.error = explain(exc, Phase.DEPLOY)
    except ProvisionError as exc:
        result.error = str(exc)
    finally:
        result.seconds = time.monotonic() - started
    progress(d.name, f"{step_name} failed ({time.monotonic() - step_started:.1f} s): {result.error}")
    if created:
        result.error = f"{result.error}; {_undo_deployment(gateway, account, d.name, lock)}"
    return result, None


def _undo_deployment(gateway: AzureApi, account: str, name: str, lock: threading.Lock) -> str:
    """A deployment this run made that did not succeed (a refused Marketplace purchase, say) is removed."""
    try:
        with lock:
            if gateway.get_foundry_deployment(account, name) is None:
                return f"no deployment {name} was left behind"
            gateway.delete_foundry_deployment(account, name)
    except AzureError as exc:
        return f"the failed deployment {name} could not be removed ({explain(exc)}): `provision destroy --only {name}` removes it"
    return f"the failed deployment {name} was removed again, so nothing is left behind"


def apply_plan(plan: Plan, gateway: AzureApi, parallel: int, progress: Progress) -> ApplyResult:
    results: list[DeploymentResult] = []
    entries: list[SecretEntry] = []
    blocked_subs: dict[str, str] = {}
    for r in plan.registrations:
        error = _register(gateway, r, progress)
        if error:
            blocked_subs[r.subscription.lower()] = error
    runnable = []
    for dp in plan.deployments:
        reason = blocked_subs.get(dp.deployment.subscription.lower()) or dp.blocked
        if reason:
            results.append(DeploymentResult(dp.deployment.name, ok=False, error=reason))
        else:
            runnable.append(dp)
    locks = {dp.deployment.account_key: threading.Lock() for dp in runnable if dp.deployment.foundry}

    def deploy(dp: DeploymentPlan) -> tuple[DeploymentResult, Optional[SecretEntry]]:
        if dp.deployment.foundry:
            return _deploy_foundry(gateway, dp, progress, locks[dp.deployment.account_key])
        return _deploy(gateway, dp, progress)

    pool = worker_pool(max(1, parallel), "deploy")
    # interrupted: run_all does not wait for operations still polling; the next apply resumes them
    for result, entry in run_all(pool, deploy, runnable):
        results.append(result)
        if entry is not None:
            entries.append(entry)
    pool.shutdown()
    order = {dp.deployment.name: i for i, dp in enumerate(plan.deployments)}
    results.sort(key=lambda r: order.get(r.name, 0))
    ready = {r.name for r in results if r.ok}
    moves = [dp for dp in plan.deployments if dp.moved is not None and dp.deployment.name in ready]
    return ApplyResult(results, entries, moves)


def prove(gateway: AzureApi, entry: SecretEntry, model: Optional[str]) -> Optional[str]:
    """One chat call to the new deployment with the key the entry will hold: None, or why it failed."""
    result = gateway.chat(entry.url, entry.key, model=model)
    return None if result.ok else f"the new deployment failed its chat call ({result.error}); the secrets file and the old deployment stay as they were"


def finish_moves(gateway: AzureApi, moves: list[DeploymentPlan], grace: float, progress: Progress) -> dict[str, str]:
    """Delete each moved deployment's old one (and its Marketplace subscription), after `grace`
    seconds for clients to re-read the secrets file. {deployment: why} for those that failed."""
    if not moves:
        return {}
    if grace > 0:
        progress("secrets", f"waiting {grace:g} s for clients to pick up the new entries before the old deployments go")
        time.sleep(grace)
    failed = {}
    for m in moves:
        d, old = m.deployment, m.moved
        assert old is not None  # a move's plan holds the old one
        home = d.moved_from or ""
        try:
            if isinstance(old, FoundryDeployment):
                progress(d.name, f"deleting the old deployment {d.name} on {home} ...")
                gateway.delete_foundry_deployment(account_id(d.subscription, d.resource_group, home), old.name)
            else:
                project = project_id(d.subscription, d.resource_group, home)
                progress(d.name, f"deleting the old endpoint {d.name} in {home} ...")
                gateway.delete_endpoint(project, old.name)
                if m.moved_subscription is not None:
                    gateway.delete_marketplace_subscription(project, m.moved_subscription)
            progress(d.name, f"moved: the old one on {home} is deleted")
        except AzureError as exc:
            failed[d.name] = f"moved, but the old one on {home} could not be deleted ({explain(exc)}): run `provision apply --allow-replace` again"
    return failed
