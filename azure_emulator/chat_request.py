"""The chat model's requests: `parse` checks a chat-completions body as a serverless Mistral
deployment does (messages, content parts, response_format, tools, the extra-parameters header)
and returns a `ChatRequest`, or raises `ChatError` naming the parameter."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from .chat_schema import SchemaError, Tool, declared_tools, instance, response_format, tool_choice

TOKEN = re.compile(r"\w+|[^\w\s]")
ROLES = ("system", "user", "assistant", "tool")
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# What the Azure AI model inference route (/chat/completions, /models/chat/completions) knows.
# Others are "extra parameters", handled as the `extra-parameters` header says.
GATEWAY_PARAMS = frozenset({
    "messages", "model", "frequency_penalty", "presence_penalty", "temperature", "top_p", "max_tokens",
    "stop", "stream", "response_format", "tools", "tool_choice", "seed",
    "max_completion_tokens",  # ours: OpenAI-era clients send it instead of max_tokens
})
# What Mistral's own chat API accepts (mistralai's request model); the /v1 route and passed-through
# extras reach it, and it refuses anything else with pydantic's 422 `extra_forbidden`.
MODEL_PARAMS = frozenset({
    "messages", "model", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "metadata",
    "response_format", "tools", "tool_choice", "presence_penalty", "frequency_penalty", "min_tokens",
    "repetition_penalty", "top_k", "logprobs", "top_logprobs", "prompt_logprobs", "top_prompt_logprobs", "n",
    "prediction", "parallel_tool_calls", "reasoning_effort", "prompt_mode", "guardrails", "safe_prompt",
    "safe_mode", "ignore_eos",
})
EXTRA_MODES = ("error", "drop", "pass-through")
DEFAULT_MAXTOKENS = 8192


class ChatError(Exception):
    """A refused request. With `detail`, Azure's gateway/pydantic body `{"detail": ...}`; otherwise the
    inference error envelope with `param`."""

    def __init__(self, status: int, message: str, param: Optional[str] = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.detail = detail


@dataclass(frozen=True)
class Turn:
    role: str
    text: str  # the text parts joined; "" when there are none
    calls: tuple[tuple[str, str, str], ...] = ()  # an assistant's tool calls: (id, name, arguments)
    call_id: str = ""  # a tool message's tool_call_id
    name: str = ""


@dataclass(frozen=True)
class ChatRequest:
    turns: tuple[Turn, ...]
    stream: bool = False
    max_tokens: int = DEFAULT_MAXTOKENS
    stop: tuple[str, ...] = ()
    n: int = 1
    format: str = "text"  # text | json_object | json_schema
    schema: Optional[dict[str, Any]] = None
    tools: tuple[Tool, ...] = ()
    tool_choice: str = "none"  # none | auto | required (Mistral's "any" is read as required) | function
    forced: str = ""  # the function named by tool_choice
    fingerprint: str = ""  # a digest of the whole body: seeds the tool-call ids


def count_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def invalid(param: str, message: str) -> ChatError:
    return ChatError(400, message, param=param)


def _forbidden(body: dict[str, Any], names: list[str]) -> ChatError:
    """Mistral's own server (FastAPI/pydantic) refusing fields it does not declare."""
    detail = [{"type": "extra_forbidden", "loc": ["body", n], "msg": "Extra inputs are not permitted", "input": body[n]} for n in names]
    return ChatError(422, "Extra inputs are not permitted", param=names[0], detail=detail)


def _apply_extra_parameters(body: dict[str, Any], native: bool, mode: Optional[str]) -> dict[str, Any]:
    """The `extra-parameters` header on the gateway routes; the /v1 route is Mistral's own."""
    if native:
        unknown = [k for k in body if k not in MODEL_PARAMS]
        if unknown:
            raise _forbidden(body, unknown)
        return body
    chosen = (mode or "error").strip().lower()
    if chosen not in EXTRA_MODES:
        message = f"Unexpected EXTRA_PARAMETERS option {mode}, expected options are {list(EXTRA_MODES)}"
        raise ChatError(400, message, param="extra-parameters", detail=message)
    extras = [k for k in body if k not in GATEWAY_PARAMS]
    if not extras:
        return body
    if chosen == "error":
        message = (
            f"Extra parameters {extras} are not allowed when extra-parameters is not set or set to be 'error'. "
            "Set extra-parameters to 'pass-through' to pass to the model."
        )
        raise ChatError(400, message, param=extras[0], detail=message)
    if chosen == "drop":
        return {k: v for k, v in body.items() if k not in extras}
    unknown = [k for k in extras if k not in MODEL_PARAMS]
    if unknown:
        raise _forbidden(body, unknown)
    return body


# Lenient scalars, as Azure's pydantic front end is: "True"/"false" for booleans (Microsoft's
# webrequests sample sends "stream": "True"), numeric strings and integral floats for numbers.
def _flag(body: dict[str, Any], key: str) -> Optional[bool]:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid(key, f"'{key}' must be a boolean.")


def _number(body: dict[str, Any], key: str, low: float, high: float, what: str, integer: bool = False) -> Optional[float]:
    value = body.get(key)
    if value is None:
        return None
    number: Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or number != number or not low <= number <= high or (integer and not number.is_integer()):
        raise invalid(key, f"'{key}' {what}.")
    return number


def _text_of(content: Any, where: str, images: bool) -> str:
    """A message's content, a string or a list of parts, as text (images carry none)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        raise invalid(where, "'content' must be a string or a non-empty array of content parts.")
    texts: list[str] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "text":
            raise invalid(f"{where}[{j}].text", "A text part needs 'text', a string.")
        elif kind == "image_url" and images:
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str) or not url:
                raise invalid(f"{where}[{j}].image_url", "An image_url part needs 'image_url', a URL string or {\"url\": ...}.")
        else:
            allowed = "'text' or 'image_url'" if images else "'text'"
            raise invalid(f"{where}[{j}].type", f"Content part type must be {allowed}; got {kind!r}.")
    return " ".join(texts)


def _calls(raw: Any, where: str) -> tuple[tuple[str, str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid(where, "'tool_calls' must be an array.")
    calls = []
    for k, call in enumerate(raw):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(f"{where}[{k}].function", "Each tool call needs 'function' with 'name' and 'arguments'.")
        arguments = function.get("arguments", "")
        arguments = arguments if isinstance(arguments, str) else json.dumps(arguments)
        calls.append((str(call.get("id") or ""), function["name"], arguments))
    return tuple(calls)


def _turn(i: int, m: Any) -> Turn:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise invalid(where, "Each message must be an object with 'role' and 'content'.")
    role = m.get("role")
    if role not in ROLES:
        raise invalid(f"{where}.role", f"'role' must be one of {', '.join(ROLES)}; got {role!r}.")
    calls = _calls(m.get("tool_calls"), f"{where}.tool_calls") if role == "assistant" else ()
    content = m.get("content")
    if content is None and not calls:
        raise invalid(f"{where}.content", "'content' is required (a string or an array of text parts), except on an assistant message with 'tool_calls'.")
    empty = content is None or (content == [] and bool(calls))  # an assistant's tool calls may stand alone
    text = "" if empty else _text_of(content, f"{where}.content", images=role == "user")
    return Turn(str(role), text, calls, str(m.get("tool_call_id") or ""), str(m.get("name") or ""))


def _turns(body: dict[str, Any]) -> tuple[Turn, ...]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages", "'messages' is required and must be a non-empty array.")
    turns = tuple(_turn(i, m) for i, m in enumerate(messages))
    last = messages[-1]
    if turns[-1].role == "assistant" and not (isinstance(last, dict) and last.get("prefix") is True):
        raise invalid("messages", "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant.")
    return turns


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    raw = body.get("stop")
    stops = [raw] if isinstance(raw, str) else raw
    if raw is None:
        return ()
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise invalid("stop", "'stop' must be a non-empty string or an array of non-empty strings.")
    return tuple(stops)


def parse(body: Any, native: bool = False, extra_parameters: Optional[str] = None) -> ChatRequest:
    """The request as the model reads it. `native` is Mistral's own /v1 route."""
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object.")
    body = _apply_extra_parameters(body, native, extra_parameters)
    turns = _turns(body)
    for key in ("ignore_eos", "safe_prompt", "safe_mode", "parallel_tool_calls", "logprobs"):
        _flag(body, key)
    _number(body, "temperature", 0, 2, "must be a number between 0 and 2")
    _number(body, "top_p", 0, 1, "must be a number between 0 and 1")
    limits = [_number(body, k, 1, 10**9, "must be a positive integer", integer=True) for k in ("max_tokens", "max_completion_tokens")]
    n = _number(body, "n", 1, 128, "must be an integer from 1 to 128", integer=True)
    try:
        tools = declared_tools(body)
        choice, forced = tool_choice(body, tools)
        kind, schema = response_format(body)
    except SchemaError as err:
        raise invalid(err.param, str(err)) from err
    return ChatRequest(
        turns=turns,
        stream=bool(_flag(body, "stream")),
        max_tokens=int(min([x for x in limits if x is not None], default=DEFAULT_MAXTOKENS)),
        stop=_stop(body),
        n=int(n or 1),
        format=kind,
        schema=schema,
        tools=tools,
        tool_choice=choice,
        forced=forced,
        fingerprint=_fingerprint(body),
    )


def _fingerprint(body: dict[str, Any]) -> str:
    # Streaming or not, a request gets the same answer (tool-call ids included).
    same = {k: v for k, v in body.items() if k != "stream"}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()
