"""The inference endpoint of each deployed serverless endpoint: the seed's Chat API.

Deterministic, no model: the answer echoes the last user message, with honest token counts
(a word-and-punctuation tokenizer) and `max_tokens` honoured (finish_reason "length").
"""
from __future__ import annotations

import json
import math
import re
import time
import uuid
from typing import Any, Iterator, Optional

from .store import State
from .wire import Request, Response, inference_error

_TOKEN = re.compile(r"\w+|[^\w\s]")
ROLES = ("system", "user", "assistant", "tool")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def find_endpoint(state: State, host: str) -> Optional[dict[str, Any]]:
    m = re.match(r"^([a-z0-9-]+?)(-serverless)?\.([a-z0-9]+)\.(models|inference)\.ai\.azure\.com$", host)
    if not m:
        return None
    name, region = m.group(1), m.group(3)
    for record in state.resources.values():
        if record["kind"] == "serverlessEndpoints" and record["name"].lower() == name and record["location"] == region:
            return record
    return None


def handle(state: State, req: Request) -> Response:
    with state.lock:
        record = find_endpoint(state, req.host)
        if record is not None:
            from .mls import advance

            advance(state, record["id"])
            record = find_endpoint(state, req.host)
        snapshot = dict(record) if record else None
        keys = dict(record["keys"]) if record else {}
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
    if not _authorized(req, keys):
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
    problem = _validate(body)
    if problem:
        param, message = problem
        return inference_error(400, "invalid_request_error", message, param=param)
    prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
    prompt_tokens = count_tokens(prompt)
    if state.config.content_filter_trigger and state.config.content_filter_trigger in prompt and snapshot["contentSafety"] == "Enabled":
        return inference_error(
            400,
            "content_filter",
            "The response was filtered due to the prompt triggering Microsoft's content management policy. Please modify your prompt and retry.",
            param="prompt",
        )
    max_tokens = int(body.get("max_tokens", 8192))
    user = next((str(m.get("content", "")) for m in reversed(body["messages"]) if m.get("role") == "user"), "")
    reply = f"This is {model_name} on the local Azure emulator. You said: {user}"
    spans = list(_TOKEN.finditer(reply))
    finish = "stop"
    if len(spans) > max_tokens:
        spans, finish = spans[:max_tokens], "length"
    # each streamed piece is a token with the whitespace before it, so the pieces join to the text
    tokens = [reply[(spans[i - 1].end() if i else 0) : m.end()] for i, m in enumerate(spans)]
    text = "".join(tokens)
    completion_tokens = len(tokens)
    limited = _rate_limit(state, snapshot["id"], prompt_tokens + completion_tokens)
    if limited is not None:
        return limited
    created = int(time.time())
    cid = uuid.uuid4().hex
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
    if body.get("stream"):
        return Response(200, None, {"Cache-Control": "no-cache"}, stream=_stream(cid, created, model_name, tokens, finish, usage), content_type="text/event-stream")
    return Response(
        200,
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "tool_calls": None}, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        },
    )


def _authorized(req: Request, keys: dict[str, str]) -> bool:
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


def _validate(body: Any) -> Optional[tuple[str, str]]:
    if not isinstance(body, dict):
        return "body", "The request body must be a JSON object."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages", "'messages' is required and must be a non-empty array."
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return f"messages[{i}]", "Each message must be an object with 'role' and 'content'."
        if m.get("role") not in ROLES:
            return f"messages[{i}].role", f"'role' must be one of {', '.join(ROLES[:3])}."
        if not isinstance(m.get("content"), str):
            return f"messages[{i}].content", "'content' is required for all messages and must be a string."
    checks = [
        ("stream", lambda v: isinstance(v, bool), "must be a boolean"),
        ("ignore_eos", lambda v: isinstance(v, bool), "must be a boolean"),
        ("safe_prompt", lambda v: isinstance(v, bool), "must be a boolean"),
        ("max_tokens", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "must be a positive integer"),
        ("temperature", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 2, "must be a number between 0 and 2"),
        ("top_p", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1, "must be a number greater than 0 and at most 1"),
    ]
    for key, ok, what in checks:
        if key in body and body[key] is not None and not ok(body[key]):
            return key, f"'{key}' {what}."
    return None


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


def _stream(cid: str, created: int, model: str, tokens: list[str], finish: str, usage: dict[str, int]) -> Iterator[bytes]:
    def event(delta: dict[str, Any], reason: Optional[str], with_usage: bool = False) -> bytes:
        chunk: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}],
        }
        if with_usage:
            chunk["usage"] = usage
        return f"data: {json.dumps(chunk)}\n\n".encode()

    yield event({"role": "assistant", "content": ""}, None)
    for i, tok in enumerate(tokens):
        yield event({"content": tok}, None)
    yield event({}, finish, with_usage=True)
    yield b"data: [DONE]\n\n"
