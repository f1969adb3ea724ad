"""Running a template deployment: its resources as nested ARM requests, made as the caller.

Each resource is PUT through `state.arm_call` (the front door applies RBAC as the caller's
principal, as ARM runs a deployment's operations as its caller) and, when the resource
provider answers with a long-running operation, awaited until it ends. This runs on the
deployment's own thread, never holding `state.lock`, so a deployment moves on the clock
whether or not anyone polls it. What-if reads the same resources to say what would change.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from .store import State
from .template_expr import TemplateError
from .templates import Plan, Planned
from .wire import Request, Response, deployment_failed, operation_error

TERMINAL = ("succeeded", "failed", "canceled")
POLL_SECONDS = 0.05  # between polls of a nested operation (the emulator's operations are fast)
TIMEOUT_SECONDS = 600.0  # a nested operation still running after this fails the deployment

CANCELED = operation_error("DeploymentCanceled", "The deployment was canceled.")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def duration(seconds: float) -> str:
    return f"PT{seconds:.7f}S"


@dataclass
class DeploymentOperation:
    """One line of GET .../deployments/{name}/operations."""

    operation_id: str
    provisioning_operation: str  # Create | Read | EvaluateDeploymentOutput
    target: Optional[Planned]
    state: str = "Running"
    status_code: str = ""
    status_message: Any = None
    started: float = field(default_factory=time.monotonic)
    ended: Optional[float] = None
    timestamp: str = field(default_factory=now_iso)


@dataclass
class Deployment:
    """A Microsoft.Resources/deployments record at resource-group scope."""

    name: str
    subscription: str
    resource_group: str
    plan: Plan
    principal: Any  # world Principal: the caller, whom the resources are deployed as
    template_hash: str
    tags: dict[str, str] = field(default_factory=dict)
    state: str = "Accepted"  # Accepted -> Running -> Succeeded | Failed | Canceled
    status_id: str = field(default_factory=lambda: uuid.uuid4().hex.upper()[:16])
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    ended: Optional[float] = None
    timestamp: str = field(default_factory=now_iso)
    outputs: Optional[dict[str, Any]] = None
    output_resources: list[str] = field(default_factory=list)
    error: Optional[dict[str, Any]] = None
    operations: list[DeploymentOperation] = field(default_factory=list)
    cancel: bool = False

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/Microsoft.Resources/deployments/{self.name}"

    @property
    def running(self) -> bool:
        return self.state in ("Accepted", "Running")


class Caseless(Mapping[str, str]):
    """Request headers, read case-insensitively as the server's are."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = {k.lower(): v for k, v in values.items()}

    def __getitem__(self, key: str) -> str:
        return self._values[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def nested(state: State, principal: Any, method: str, path: str, api_version: str, body: Any = None) -> Response:
    """One ARM request made as `principal` through the front door (no token, RBAC as the caller)."""
    raw = b"" if body is None else json.dumps(body).encode("utf-8")
    req = Request(method=method, host="management.azure.com", path=path, query={"api-version": api_version},
                  headers=Caseless({"Content-Type": "application/json", "Accept": "application/json"}), body=raw, principal=principal)
    return state.arm_call(req)


def _follow(state: State, principal: Any, url: str) -> Response:
    """GET an absolute polling URL (Azure-AsyncOperation or Location) through the front door."""
    parts = urlsplit(url)
    query = {k.lower(): v for k, v in parse_qsl(parts.query)}
    req = Request(method="GET", host="management.azure.com", path=unquote(parts.path).rstrip("/"), query=query,
                  headers=Caseless({"Accept": "application/json"}), principal=principal)
    return state.arm_call(req)


def body_of(response: Response) -> Any:
    if isinstance(response.body, (bytes, str)):
        try:
            return json.loads(response.body or b"null")
        except ValueError:
            return None
    return response.body


def error_of(response: Response) -> dict[str, Any]:
    body = body_of(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return {k: v for k, v in error.items() if k in ("code", "message", "target", "details")}
    return operation_error(f"HttpStatus{response.status}", f"The resource operation answered HTTP {response.status}.")


def header(response: Response, name: str) -> Optional[str]:
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), None)


def await_operation(state: State, dep: Deployment, r: Planned, first: Response) -> Optional[dict[str, Any]]:
    """Wait for a resource's PUT to finish; the error if it failed, else None."""
    status_url = header(first, "Azure-AsyncOperation")
    location = header(first, "Location")
    body = body_of(first)
    provisioning = str(((body or {}).get("properties") or {}).get("provisioningState", "Succeeded")) if isinstance(body, dict) else "Succeeded"
    if first.status not in (201, 202) and not status_url and provisioning.lower() in TERMINAL:
        return None if provisioning.lower() == "succeeded" else operation_error("ResourceDeploymentFailure", f"The resource '{r.id}' ended in provisioning state '{provisioning}'.")
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline and not dep.cancel:
        if status_url:
            poll = _follow(state, dep.principal, status_url)
            status = str((body_of(poll) or {}).get("status", "")) if poll.status == 200 else ""
            if poll.status >= 400:
                return error_of(poll)
            if status.lower() in TERMINAL:
                err = (body_of(poll) or {}).get("error")
                return None if status.lower() == "succeeded" else (err or operation_error("ResourceDeploymentFailure", f"The operation on '{r.id}' ended '{status}'."))
        elif location:
            poll = _follow(state, dep.principal, location)
            if poll.status >= 400:
                return error_of(poll)
            if poll.status != 202:
                return None
        else:
            poll = nested(state, dep.principal, "GET", r.id, r.api_version)
            if poll.status >= 400:
                return error_of(poll)
            state_now = str(((body_of(poll) or {}).get("properties") or {}).get("provisioningState", "Succeeded"))
            if state_now.lower() in TERMINAL:
                return None if state_now.lower() == "succeeded" else operation_error("ResourceDeploymentFailure", f"The resource '{r.id}' ended in provisioning state '{state_now}'.")
        time.sleep(POLL_SECONDS)
    if dep.cancel:
        return dict(CANCELED)
    return operation_error("ResourceDeploymentTimeout", f"The operation on '{r.id}' did not finish within {TIMEOUT_SECONDS:.0f} seconds.")


def reader(state: State, principal: Any) -> tuple[Any, Any]:
    """reference() and listKeys() answered by reading the deployed resources as the caller."""

    def fetch(resource_id: str, api: str, full: bool) -> Any:
        got = nested(state, principal, "GET", resource_id, api)
        if got.status != 200:
            raise TemplateError(f"The template function 'reference' failed for '{resource_id}': {error_of(got).get('message')}")
        body = body_of(got)
        if full:
            return {"apiVersion": api, **body} if isinstance(body, dict) else body
        return (body or {}).get("properties", {}) if isinstance(body, dict) else body

    def list_keys(resource_id: str, api: str) -> Any:
        got = nested(state, principal, "POST", resource_id + "/listKeys", api)
        if got.status != 200:
            raise TemplateError(f"The template function 'listKeys' failed for '{resource_id}': {error_of(got).get('message')}")
        return body_of(got)

    return fetch, list_keys


def run(state: State, dep: Deployment) -> None:
    """The deployment's thread: each resource in order, then the outputs. Whatever goes wrong
    inside ends the deployment Failed: a deployment never stays Running."""
    op = DeploymentOperation(uuid.uuid4().hex.upper()[:16], "Create", None)
    try:
        _run(state, dep)
    except Exception as exc:  # the emulator's own fault: the deployment fails, loudly, instead of hanging
        _finish(state, dep, dep.operations[-1] if dep.operations else op,
                operation_error("InternalServerError", f"azure-emulator internal error: {type(exc).__name__}: {exc}"))


def _run(state: State, dep: Deployment) -> None:
    with state.lock:
        dep.state = "Running"
    fetch, list_keys = reader(state, dep.principal)
    for r in dep.plan.resources:
        if r.existing:
            continue
        op = DeploymentOperation(uuid.uuid4().hex.upper()[:16], "Create", r)
        with state.lock:
            dep.operations.append(op)
        error = _deploy_one(state, dep, r, op, fetch, list_keys)
        if error is not None:
            _finish(state, dep, op, error)
            return
    op = DeploymentOperation(uuid.uuid4().hex.upper()[:16], "EvaluateDeploymentOutput", None)
    with state.lock:
        dep.operations.append(op)
    try:
        outputs = dep.plan.outputs(fetch, list_keys)
    except TemplateError as err:
        _finish(state, dep, op, operation_error(err.code, err.message, err.path))
        return
    with state.lock:
        dep.outputs = outputs
        _close(op, "Succeeded", "OK", None)
        dep.state, dep.ended = "Succeeded", time.monotonic()


def _deploy_one(state: State, dep: Deployment, r: Planned, op: DeploymentOperation, fetch: Any, list_keys: Any) -> Optional[dict[str, Any]]:
    if dep.cancel:
        return dict(CANCELED)
    try:
        body = dep.plan.body(r, fetch, list_keys)
    except TemplateError as err:
        return operation_error("InvalidTemplate", err.message, err.path)
    first = nested(state, dep.principal, "PUT", r.id, r.api_version, body)
    if first.status >= 400:
        error = error_of(first)
        with state.lock:
            op.status_code = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}.get(first.status, str(first.status))
        return error
    failure = await_operation(state, dep, r, first)
    with state.lock:
        if failure is None:
            _close(op, "Succeeded", "Created" if first.status == 201 else "OK", None)
            dep.output_resources.append(r.id)
    return failure


def _close(op: DeploymentOperation, state: str, code: str, message: Any) -> None:
    op.state, op.ended = state, time.monotonic()
    op.status_code = op.status_code or code
    op.status_message = message


def _finish(state: State, dep: Deployment, op: DeploymentOperation, error: dict[str, Any]) -> None:
    with state.lock:
        canceled = dep.cancel
        _close(op, "Canceled" if canceled else "Failed", "Conflict", {"status": "Failed", "error": error})
        dep.error = dict(CANCELED) if canceled else deployment_failed([{**error, "target": error.get("target") or (op.target.id if op.target else None)}])
        dep.state, dep.ended = ("Canceled" if canceled else "Failed"), time.monotonic()


# --- what-if -------------------------------------------------------------------------------

def what_if(state: State, plan: Plan, principal: Any) -> dict[str, Any]:
    """What deploying the plan would change: Create, Modify (with the property changes) or NoChange."""
    changes: list[dict[str, Any]] = []
    for r in plan.resources:
        if r.existing:
            continue
        desired = plan.body(r)
        current = nested(state, principal, "GET", r.id, r.api_version)
        after = {"id": r.id, "name": r.name.rsplit("/", 1)[-1], "type": r.type, "apiVersion": r.api_version, **desired}
        if current.status == 404:
            changes.append({"resourceId": r.id, "changeType": "Create", "before": None, "after": after, "delta": None})
            continue
        if current.status >= 400:
            return {"status": "Failed", "error": error_of(current)}
        before = body_of(current) or {}
        delta = list(_delta(desired, before, ""))
        changes.append({"resourceId": r.id, "changeType": "Modify" if delta else "NoChange", "before": before, "after": after if delta else before,
                        "delta": delta or None})
    for r in plan.skipped:
        changes.append({"resourceId": r.id, "changeType": "Ignore", "before": None, "after": None, "delta": None})
    return {"status": "Succeeded", "properties": {"changes": changes}}


def _delta(desired: Any, current: Any, path: str) -> Iterator[dict[str, Any]]:
    """The properties the template sets that differ from the resource (what the template does not
    set is left as it is, as an incremental deployment leaves it)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        lower = {k.lower(): k for k in current}
        for key, value in desired.items():
            sub = f"{path}.{key}" if path else key
            if key.lower() not in lower:
                yield {"path": sub, "propertyChangeType": "Create", "before": None, "after": value}
            else:
                yield from _delta(value, current[lower[key.lower()]], sub)
    elif isinstance(desired, str) and desired.startswith("[") and desired.endswith("]"):
        return  # decided only at deployment (reference/listKeys): not compared
    elif desired != current and not (isinstance(desired, str) and isinstance(current, str) and desired.lower() == current.lower() and path.lower().endswith("location")):
        yield {"path": path, "propertyChangeType": "Modify", "before": current, "after": desired}
