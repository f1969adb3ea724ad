"""Microsoft.Resources/deployments at resource-group scope: validate, create, what-if, get, list,
cancel, delete, export and the deployment's operations.

The template is checked and planned by `templates` (a bad one is a 400 InvalidTemplate or
InvalidTemplateDeployment naming what and where); the resources are deployed by
`deployment_run` on a thread of the deployment's own. Deployments live beside the state's
resources and are forgotten with them (`/_emulator/reset`); they are not written to the state file.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from typing import Any, Callable, Optional

from . import rbac
from .common import arm_base, paged, poll_headers
from .deployment_run import Deployment, DeploymentOperation, duration, now_iso, run, what_if
from .routes import RG, SUB
from .store import State
from .versions import DEPLOYMENTS as DEPLOYMENTS_VERSIONS
from .template_expr import TemplateError, read_json
from .templates import Context, Plan
from .wire import (Request, Response, arm_error, deployment_active, deployment_filter_not_supported, deployment_not_cancellable,
                   deployment_not_found, deployment_operation_not_found, invalid_deployment_request, invalid_template,
                   invalid_template_deployment, resource_group_not_found)

_DEPS = RG + r"/providers/microsoft\.resources/deployments"
_ONE = _DEPS + r"/(?P<name>[^/]+)"
_LEGACY = RG + r"/deployments/(?P<name>[^/]+)"  # where the SDKs and az read a deployment's operations
_TYPE = "Microsoft.Resources/deployments"


class _Book:
    """This state's deployments and what-if results (kept on the State, so a reset or the deletion of
    their resource group forgets them with everything else)."""

    def __init__(self, state: State) -> None:
        self.deployments: dict[tuple[str, str, str], Deployment] = state.deployments
        self.results: dict[str, Optional[dict[str, Any]]] = state.operation_results


def _book(state: State) -> _Book:
    return _Book(state)


def _key(sub: str, rg: str, name: str) -> tuple[str, str, str]:
    return sub.lower(), rg.lower(), name.lower()


def _scope(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def _context(state: State, sub: str, rg: str, name: str) -> Context:
    with state.lock:
        group = state.world.resource_groups.get((sub.lower(), rg.lower()))
        if group is None:
            raise resource_group_not_found(rg)
        subscription = state.world.subscriptions.get(sub.lower())
        return Context(sub.lower(), getattr(subscription, "name", sub), state.world.tenant_id, group.name, group.location, name)


def _plan(state: State, req: Request, sub: str, rg: str, name: str, action: str) -> tuple[Plan, dict[str, Any]]:
    """The request's template planned (or the 400 that says why not), after the caller's RBAC check."""
    ctx = _context(state, sub, rg, name)
    with state.lock:
        rbac.require(state.world, req.principal, [(f"{_TYPE}/{action}", _scope(sub, ctx.resource_group))])
    try:
        body = read_json(req.body.decode("utf-8-sig"))
    except (ValueError, TemplateError) as err:
        raise invalid_deployment_request(f"The request content is not valid JSON: {err}") from None
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise invalid_deployment_request("The request content must be an object with 'properties' (template, parameters, mode).")
    for linked in ("templateLink", "parametersLink"):
        if props.get(linked):
            raise invalid_deployment_request(f"'{linked}' is not supported by the local Azure emulator: send the template and parameters inline.")
    if str(props.get("mode", "Incremental")).lower() != "incremental":
        raise invalid_deployment_request(f"Deployment mode '{props.get('mode')}' is not supported by the local Azure emulator; only 'Incremental' is.")
    if "template" not in props:
        raise invalid_deployment_request("The deployment has no 'template'.")
    try:
        return Plan(props["template"], props.get("parameters") or {}, ctx), body
    except TemplateError as err:
        if err.code == "InvalidTemplateDeployment":
            raise invalid_template_deployment(name, err.message, err.path) from None
        raise invalid_template(err.message, err.path) from None


def _hash(template: Any) -> str:
    return str(int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:15], 16))


def _parameters(plan: Plan) -> dict[str, Any]:
    """The deployment's parameters as ARM shows them (secure ones without their value)."""
    return {k: ({"type": p["type"]} if p["type"].startswith("Secure") else dict(p)) for k, p in plan.parameters.items()}


def _properties(plan: Plan, state_name: str) -> dict[str, Any]:
    deployed = [r for r in plan.resources if not r.existing]
    providers: dict[str, dict[str, list[str]]] = {}
    for r in deployed:
        ns, _, rtype = r.type.partition("/")
        providers.setdefault(ns, {}).setdefault(rtype, [])
    return {
        "templateHash": _hash(plan.template),
        "parameters": _parameters(plan),
        "mode": "Incremental",
        "provisioningState": state_name,
        "providers": [{"namespace": ns, "resourceTypes": [{"resourceType": t, "locations": [plan.ctx.location]} for t in types]} for ns, types in providers.items()],
        "dependencies": [
            {"id": r.id, "resourceType": r.type, "resourceName": r.name,
             "dependsOn": [{"id": d.id, "resourceType": d.type, "resourceName": d.name} for d in plan.resources if d.key in r.depends_on]}
            for r in deployed if r.depends_on
        ],
        "validatedResources": [{"id": r.id} for r in deployed],
    }


def render(dep: Deployment) -> dict[str, Any]:
    props = _properties(dep.plan, dep.state)
    props.pop("validatedResources")
    props.update({"timestamp": dep.timestamp, "duration": duration((dep.ended or time.monotonic()) - dep.started),
                  "correlationId": dep.correlation_id, "outputResources": [{"id": i} for i in dep.output_resources]})
    if dep.outputs is not None:
        props["outputs"] = dep.outputs
    if dep.error is not None:
        props["error"] = dep.error
    return {"id": dep.id, "name": dep.name, "type": _TYPE, "tags": dict(dep.tags), "properties": props}


def _find(state: State, sub: str, rg: str, name: str) -> Deployment:
    dep = _book(state).deployments.get(_key(sub, rg, name))
    if dep is None:
        raise deployment_not_found(name)
    return dep


def _read(state: State, req: Request, sub: str, rg: str) -> None:
    _context(state, sub, rg, "")
    rbac.require(state.world, req.principal, [(f"{_TYPE}/read", _scope(sub, rg))])


# --- handlers ------------------------------------------------------------------------------

def create(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    plan, body = _plan(state, req, sub, rg, name, "write")
    with state.lock:
        book = _book(state)
        old = book.deployments.get(_key(sub, rg, name))
        if old is not None and old.running:
            raise deployment_active(name, "update")
        dep = Deployment(name, sub.lower(), plan.ctx.resource_group, plan, req.principal, _hash(plan.template),
                         tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()})
        book.deployments[_key(sub, rg, name)] = dep
        answer = render(dep)
    threading.Thread(target=run, args=(state, dep), name=f"deployment-{name}", daemon=True).start()
    status = f"{arm_base(req)}{dep.id}/operationStatuses/{dep.status_id}?api-version={req.api_version}"
    return Response(201 if old is None else 200, answer, {"Azure-AsyncOperation": status, **poll_headers(state)})


def get(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    with state.lock:
        _read(state, req, sub, rg)
        return Response(200, render(_find(state, sub, rg, name)))


def exists(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    with state.lock:
        _read(state, req, sub, rg)
        return Response(204 if _book(state).deployments.get(_key(sub, rg, name)) else 404)


def list_all(state: State, req: Request, sub: str, rg: str) -> Response:
    wanted = _state_filter(req.query.get("$filter", ""))
    with state.lock:
        _read(state, req, sub, rg)
        deps = [d for (s, g, _), d in _book(state).deployments.items() if (s, g) == (sub.lower(), rg.lower())]
        items = [render(d) for d in deps if wanted is None or d.state.lower() == wanted]
        return Response(200, paged(items, req))


def _state_filter(text: str) -> Optional[str]:
    """`provisioningState eq 'Failed'`, the one $filter deployment lists take."""
    if not text:
        return None
    parts = text.split()
    if len(parts) == 3 and parts[0].lower() == "provisioningstate" and parts[1].lower() == "eq":
        return parts[2].strip("'").lower()
    raise deployment_filter_not_supported(text)


def status(state: State, req: Request, sub: str, rg: str, name: str, op: str) -> Response:
    with state.lock:
        _read(state, req, sub, rg)
        dep = _find(state, sub, rg, name)
        body: dict[str, Any] = {"status": dep.state}
        if dep.error is not None:
            body["error"] = dep.error
        return Response(200, body, poll_headers(state) if dep.running else {})


def delete(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    """Deletes the deployment's record (not its resources), as ARM does."""
    with state.lock:
        _context(state, sub, rg, name)
        rbac.require(state.world, req.principal, [(f"{_TYPE}/delete", _scope(sub, rg))])
        book = _book(state)
        dep = book.deployments.get(_key(sub, rg, name))
        if dep is None:
            return Response(204)
        if dep.running:
            raise deployment_active(name, "delete")
        del book.deployments[_key(sub, rg, name)]
        token = uuid.uuid4().hex
        book.results[token] = None
    return Response(202, None, {"Location": f"{arm_base(req)}/subscriptions/{sub}/operationresults/{token}?api-version={req.api_version}", **poll_headers(state)})


def cancel(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    with state.lock:
        _context(state, sub, rg, name)
        rbac.require(state.world, req.principal, [(f"{_TYPE}/cancel/action", _scope(sub, rg))])
        dep = _find(state, sub, rg, name)
        if not dep.running:
            raise deployment_not_cancellable(name, dep.state)
        dep.cancel = True
    return Response(204)


def validate(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    plan, _ = _plan(state, req, sub, rg, name, "validate/action")
    props = {**_properties(plan, "Succeeded"), "timestamp": now_iso(), "duration": "PT0S", "correlationId": str(uuid.uuid4())}
    rid = f"{_scope(sub, plan.ctx.resource_group)}/providers/{_TYPE}/{name}"
    return Response(200, {"id": rid, "name": name, "type": _TYPE, "properties": props})


def what_if_start(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    plan, _ = _plan(state, req, sub, rg, name, "whatIf/action")
    result = what_if(state, plan, req.principal)  # nested reads: outside the lock
    token = uuid.uuid4().hex
    with state.lock:
        _book(state).results[token] = result
    return Response(202, None, {"Location": f"{arm_base(req)}/subscriptions/{sub}/operationresults/{token}?api-version={req.api_version}", **poll_headers(state)})


def operation_result(state: State, req: Request, sub: str, token: str) -> Response:
    with state.lock:
        results = _book(state).results
        if token not in results:
            raise arm_error("NotFound", message=f"The operation result '{token}' could not be found.")
        body = results[token]
    return Response(204) if body is None else Response(200, body)


def export_template(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    with state.lock:
        _read(state, req, sub, rg)
        return Response(200, {"template": _find(state, sub, rg, name).plan.template})


def list_operations(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    with state.lock:
        _read(state, req, sub, rg)
        dep = _find(state, sub, rg, name)
        return Response(200, {"value": [_operation(dep, op) for op in dep.operations]})


def get_operation(state: State, req: Request, sub: str, rg: str, name: str, op: str) -> Response:
    with state.lock:
        _read(state, req, sub, rg)
        dep = _find(state, sub, rg, name)
        found = next((o for o in dep.operations if o.operation_id.lower() == op.lower()), None)
        if found is None:
            raise deployment_operation_not_found(op, name)
        return Response(200, _operation(dep, found))


def _operation(dep: Deployment, op: DeploymentOperation) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningOperation": op.provisioning_operation,
        "provisioningState": op.state,
        "timestamp": op.timestamp,
        "duration": duration((op.ended or time.monotonic()) - op.started),
        "trackingId": str(uuid.uuid5(uuid.NAMESPACE_URL, dep.id + op.operation_id)),
        "serviceRequestId": str(uuid.uuid5(uuid.NAMESPACE_DNS, dep.id + op.operation_id)),
        "statusCode": op.status_code or None,
        "statusMessage": op.status_message,
    }
    if op.target is not None:
        t = op.target
        props["targetResource"] = {"id": t.id, "resourceType": t.type, "resourceName": t.name, "apiVersion": t.api_version}
    return {"id": f"{dep.id}/operations/{op.operation_id}", "operationId": op.operation_id, "properties": props}


# (methods, path, api-version family, handler) for the one URL table; family "deployments"
# answers DEPLOYMENTS_VERSIONS.
ROUTES: list[tuple[str, str, str, Callable[..., Response]]] = [
    ("GET", _DEPS, "deployments", list_all),
    ("GET", _ONE, "deployments", get),
    ("HEAD", _ONE, "deployments", exists),
    ("PUT", _ONE, "deployments", create),
    ("DELETE", _ONE, "deployments", delete),
    ("POST", _ONE + r"/validate", "deployments", validate),
    ("POST", _ONE + r"/whatif", "deployments", what_if_start),
    ("POST", _ONE + r"/cancel", "deployments", cancel),
    ("POST", _ONE + r"/exporttemplate", "deployments", export_template),
    ("GET", _ONE + r"/operationstatuses/(?P<op>[^/]+)", "deployments", status),
    ("GET", _ONE + r"/operations", "deployments", list_operations),
    ("GET", _ONE + r"/operations/(?P<op>[^/]+)", "deployments", get_operation),
    ("GET", _LEGACY + r"/operations", "deployments", list_operations),
    ("GET", _LEGACY + r"/operations/(?P<op>[^/]+)", "deployments", get_operation),
]
