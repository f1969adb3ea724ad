"""The status monitors of Microsoft.MachineLearningServices' long-running operations
(mfeOperationsStatus for Azure-AsyncOperation, mfeOperationResults for Location), and the
headers that point a client at them. Polling observes an operation; it ends on the clock."""
from __future__ import annotations

from typing import Any

from . import operations
from .common import arm_base, poll_headers
from .marketplace import render as render_subscription
from .serverless import render as render_endpoint
from .models import ML, MarketplaceSubscription, Operation, ServerlessEndpoint
from .store import State
from .wire import Request, Response, arm_error, operation_failed


def _observed(state: State, sub: str, op_id: str) -> Operation:
    op = state.operations.get(op_id.lower())
    if op is None or op.subscription != sub.lower():
        raise arm_error("NotFound", message=f"Operation '{op_id}' was not found.")
    operations.observe(state, op)
    return op


def operation_status(state: State, req: Request, sub: str, loc: str, op: str) -> Response:
    with state.lock:
        operation = _observed(state, sub, op)
        body: dict[str, Any] = {
            "id": f"/subscriptions/{operation.subscription}/providers/{ML}/locations/{operation.location}/mfeOperationsStatus/{operation.id}",
            "name": operation.id,
            "status": operation.status,
            "startTime": operation.start_time,
        }
        if operation.status != operations.RUNNING:
            body["endTime"] = operation.end_time
        if operation.status == "Failed":
            body["error"] = dict(operation.error or {})
        return Response(200, body, poll_headers(state))


def operation_result(state: State, req: Request, sub: str, loc: str, op: str) -> Response:
    with state.lock:
        operation = _observed(state, sub, op)
        if operation.status == operations.RUNNING:
            return Response(202, None, {**poll_headers(state), "Location": f"{arm_base(req)}{req.path}?api-version={req.api_version}"})
        if operation.status == "Failed":
            err = operation.error or {}
            raise operation_failed(err)
        resource = state.resources.get(operation.resource_id)
        if operation.kind == "delete" or resource is None:
            return Response(204)
        if isinstance(resource, ServerlessEndpoint):
            return Response(200, render_endpoint(req, resource))
        if isinstance(resource, MarketplaceSubscription):
            return Response(200, render_subscription(state, req, resource))
        return Response(204)
