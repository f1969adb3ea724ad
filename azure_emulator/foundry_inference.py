"""The inference endpoints of a Foundry resource, on its custom subdomain's hosts
({subdomain}.services.ai.azure.com, .openai.azure.com, .cognitiveservices.azure.com):

* /models/chat/completions (the Azure AI model inference API): the deployment is the body's `model`;
* /openai/v1/chat/completions (OpenAI's v1 API): the same;
* /openai/deployments/{name}/chat/completions (Azure OpenAI's): the deployment is in the path.

A caller shows one of the account's keys (`api-key`, or `Authorization: Bearer <key>`) or an Entra
token for Cognitive Services whose principal holds the route's data action on the account. What
the model answers is inference.answer's (the chat model, content filter and rate limits).
"""
from __future__ import annotations

import json
from typing import Any, Optional

from . import foundry, identity, inference, operations, rbac
from .routes import Table
from .store import State
from .wire import ArmError, Request, Response, foundry_error, inference_error
from .worldmodel import FoundryAccount

# Entra tokens the data plane takes: for Cognitive Services, or for Azure AI (Foundry's own audience).
AUDIENCES = frozenset({"https://cognitiveservices.azure.com", "https://cognitiveservices.azure.com/", "https://ai.azure.com", "https://ai.azure.com/"})
MAAS_ACTION = f"{foundry.CS}/accounts/MaaS/chat/completions/action"
OPENAI_ACTION = f"{foundry.CS}/accounts/OpenAI/deployments/chat/completions/action"
_NOT_DEPLOYED = ("The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a "
                 "moment and try again.")


def handle(state: State, req: Request, table: Table) -> Response:
    with state.lock:
        account = foundry.account_for_host(state, req.host)
    if account is None:
        return foundry_error(404, "ResourceNotFound", f"No Foundry resource has the custom subdomain of {req.host}.")
    route, params, known = table.match(req.method, req.path)
    if route is None:
        return foundry_error(405, "405", "Method not allowed.") if known else foundry_error(404, "404", "Resource not found")
    refused = _refusal(state, req, account, route.action)
    if refused is not None:
        return refused
    answer: Response = route.handler(state, req, account, **params)
    return answer


def _refusal(state: State, req: Request, account: FoundryAccount, action: str) -> Optional[Response]:
    """Why the caller may not call the route (None: it may)."""
    with state.lock:
        keys = {} if account.disable_local_auth else dict(foundry.keys(state, account))
    if keys and inference.authorized(req, keys):
        return None
    bearer = req.header("Authorization").strip()
    if bearer.lower().startswith("bearer ") and identity.decode_claims(bearer[7:].strip()) is not None:
        try:
            principal = identity.authenticate_arm(state, req, audiences=AUDIENCES)
        except ArmError as err:
            return foundry_error(401, "PermissionDenied", err.message)
        if not rbac.allowed_data(state.world, principal.object_id, action, account.id):
            return foundry_error(401, "PermissionDenied", f"The principal `{principal.object_id}` lacks the required data action `{action}` to "
                                 f"perform `{req.method} {req.path}` operation.")
        return None
    if account.disable_local_auth and req.header("api-key"):
        return foundry_error(403, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.")
    return foundry_error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
                         "active subscription and use a correct regional API endpoint for your resource.")


def _body(req: Request) -> Any:
    try:
        return json.loads(req.body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def models_chat(state: State, req: Request, account: FoundryAccount) -> Response:
    """The model inference API: the deployment named by `model`."""
    body = _body(req)
    name = body.get("model") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        message = "No model specified in request. Please provide a model name in the request body or as a x-ms-model-mesh-model-name header."
        return foundry_error(400, "no_model_name", message, details=True)
    return _chat(state, req, account, name, body, foundry_error(404, "unknown_model", f"Unknown model: {name}", details=True))


def v1_chat(state: State, req: Request, account: FoundryAccount) -> Response:
    """OpenAI's v1 API: the deployment named by `model`."""
    body = _body(req)
    name = body.get("model") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        return inference_error(400, "missing_required_parameter", "Missing required parameter: 'model'.", param="model")
    return _chat(state, req, account, name, body, foundry_error(404, "DeploymentNotFound", _NOT_DEPLOYED))


def deployment_chat(state: State, req: Request, account: FoundryAccount, name: str) -> Response:
    """Azure OpenAI's deployment route: the deployment named in the path."""
    return _chat(state, req, account, name, _body(req), foundry_error(404, "DeploymentNotFound", _NOT_DEPLOYED))


def _chat(state: State, req: Request, account: FoundryAccount, name: str, body: Any, missing: Response) -> Response:
    """The deployment's answer; `missing` when no deployment of that exact name is ready to serve."""
    with state.lock:
        operations.observe_resource(state, f"{account.id}/deployments/{name}")
        d = foundry.deployment(state, account, name)
        ready = d is not None and d.name == name and d.provisioning_state == "Succeeded"
        model, usage_key = (d.model_name, d.id) if d is not None else ("", "")
    if not ready:
        return missing
    if body is None:
        return inference_error(400, "invalid_request_error", "The request body is not valid JSON.")
    return inference.answer(state, req, body, False, model, True, usage_key)
