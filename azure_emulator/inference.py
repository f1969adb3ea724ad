"""The inference endpoint of each deployed serverless endpoint: routing, keys, health and limits.

What the model answers is chat.py's (a pure function of the request); this module finds the
deployment, checks the key and the endpoint's state, applies the content filter and the
per-deployment rate limits, and writes the answer as JSON or as server-sent events.
"""
from __future__ import annotations

import json
import math
import re
import time
import uuid
from typing import Any, Iterator, Optional

from . import chat
from .chat import count_tokens  # noqa: F401  (kept importable from here)
from . import operations
from .models import ServerlessEndpoint, to_record
from .store import State
from .wire import Request, Response, inference_detail_error, inference_error


def find_endpoint(state: State, host: str) -> Optional[ServerlessEndpoint]:
    m = re.match(r"^([a-z0-9-]+?)(-serverless)?\.([a-z0-9]+)\.(models|inference)\.ai\.azure\.com$", host)
    if not m:
        return None
    name, region = m.group(1), m.group(3)
    for resource in state.resources.values():
        if isinstance(resource, ServerlessEndpoint) and resource.name.lower() == name and resource.location == region:
            return resource
    return None


def handle(state: State, req: Request) -> Response:
    with state.lock:
        record = find_endpoint(state, req.host)
        if record is not None:
            operations.observe_resource(state, record.id)
            record = find_endpoint(state, req.host)
        snapshot = to_record(record) if record else None  # a copy: read without the lock below
        keys = dict(record.keys) if record else {}
    if snapshot is None:
        return inference_error(404, "EndpointNotFound", f"No serverless endpoint is deployed at https://{req.host}.")
    model = state.world.model(snapshot["modelId"])
    if model is not None and model.status() == "retired":
        # Azure: once a model is retired, its deployments answer 404. The code and message are ours.
        return inference_error(
            404,
            "ModelRetired",
            f"The model {model.id} of this deployment was retired on {model.lifecycle.retired}; the deployment no longer serves requests. "
            "Deploy a model Azure offers today.",
        )
    path = req.path.rstrip("/") or "/"
    known = {"/v1/chat/completions", "/chat/completions", "/models/chat/completions", "/info", "/models/info"}
    if path not in known:
        return inference_error(404, "NotFound", f"Route {req.method} {path} is not served by this endpoint. Use /v1/chat/completions, /chat/completions or /info.")
    if not authorized(req, keys):
        return inference_error(401, "Unauthorized", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription.")
    if snapshot["provisioningState"] != "Succeeded" or snapshot["endpointState"] != "Online":
        return inference_error(
            503,
            "EndpointUnhealthy",
            f"The endpoint is not healthy (provisioningState {snapshot['provisioningState']}, endpointState {snapshot['endpointState']}). "
            "If its Marketplace subscription was deleted, subscribe the project to the model's offer again.",
        )
    model_name = model.display_name if model else snapshot["modelId"].rsplit("/", 1)[-1]
    if path.endswith("/info"):
        if req.method != "GET":
            return inference_error(405, "MethodNotAllowed", "Use GET /info.")
        return Response(200, {"model_name": model_name, "model_type": "chat-completions", "model_provider_name": "MistralAI" if not (model and model.microsoft) else "Microsoft"})
    if req.method != "POST":
        return inference_error(405, "MethodNotAllowed", "Use POST for chat completions.")
    try:
        body = json.loads(req.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return inference_error(400, "invalid_request_error", "The request body is not valid JSON.")
    # /v1/chat/completions is Mistral's own route; the others are the Azure AI model inference API.
    return answer(state, req, body, path == "/v1/chat/completions", model_name, snapshot["contentSafety"] == "Enabled", snapshot["id"])


def answer(state: State, req: Request, body: Any, native: bool, model_name: str, filtered: bool, usage_key: str) -> Response:
    """The chat model's answer to a request body (JSON or server-sent events), after the content
    filter (when `filtered`) and the deployment's rate limits (counted under `usage_key`): what
    every inference route, serverless or Foundry, answers with."""
    try:
        chat_request = chat.parse(body, native=native, extra_parameters=req.header("extra-parameters") or None)
        if filtered and state.config.content_filter_trigger and state.config.content_filter_trigger in chat.prompt_text(chat_request):
            return inference_error(
                400,
                "content_filter",
                "The response was filtered due to the prompt triggering Microsoft's content management policy. Please modify your prompt and retry.",
                param="prompt",
            )
        cid, created = uuid.uuid4().hex, int(time.time())
        completion = chat.complete(chat_request, model_name, cid, created)
        events = chat.chunks(chat_request, model_name, cid, created) if chat_request.stream else []
    except chat.ChatError as err:
        return _refusal(err)
    limited = _rate_limit(state, usage_key, completion["usage"]["total_tokens"])
    if limited is not None:
        return limited
    if chat_request.stream:
        return Response(200, None, {"Cache-Control": "no-cache"}, stream=_sse(events), content_type="text/event-stream")
    return Response(200, completion)


def _refusal(err: chat.ChatError) -> Response:
    if err.detail is not None:
        # the gateway's and Mistral's server's own body: {"detail": ...}, not the error envelope
        return inference_detail_error(err.status, err.detail)
    return inference_error(err.status, "invalid_request_error", err.message, param=err.param)


def authorized(req: Request, keys: dict[str, str]) -> bool:
    """Whether the request carries one of the keys, as `api-key` or as `Authorization: Bearer <key>`."""
    valid = {k for k in keys.values() if k}
    candidates = [req.header("api-key"), req.header("Authorization")]
    for value in candidates:
        if not value:
            continue
        value = value.strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if value in valid:
            return True
    return False


def _rate_limit(state: State, endpoint_id: str, tokens: int) -> Optional[Response]:
    """Per deployment: 1,000 requests and 200,000 tokens in any 60 s window."""
    now = time.monotonic()
    with state.lock:
        window = [(t, n) for t, n in state.inference_usage.get(endpoint_id, []) if now - t < 60]
        used_tokens = sum(n for _, n in window)
        if len(window) >= state.config.inference_rpm or used_tokens + tokens > state.config.inference_tpm:
            wait = max(1, math.ceil(60 - (now - window[0][0]))) if window else 1
            state.inference_usage[endpoint_id] = window
            kind = "requests" if len(window) >= state.config.inference_rpm else "tokens"
            return inference_error(
                429,
                "429",
                f"Rate limit is exceeded ({kind} per minute of this deployment). Try again in {wait} seconds.",
                headers={
                    "Retry-After": str(wait),
                    "x-ratelimit-remaining-requests": str(max(0, state.config.inference_rpm - len(window))),
                    "x-ratelimit-remaining-tokens": str(max(0, state.config.inference_tpm - used_tokens)),
                },
            )
        window.append((now, tokens))
        state.inference_usage[endpoint_id] = window
    return None


def _sse(events: list[dict[str, Any]]) -> Iterator[bytes]:
    for event in events:
        yield f"data: {json.dumps(event)}\n\n".encode()
    yield b"data: [DONE]\n\n"
