"""The emulator's chat model: a pure function from a chat-completions request to its answer.

No I/O and no state: `parse` checks a request body as a serverless Mistral deployment does and
returns a `ChatRequest` (or raises `ChatError`); `complete` and `chunks` answer it. The answer
depends only on the request and the model name (the id and clock come from the caller), so the
same request always gets the same content, tool calls and token counts.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

from .chat_request import ID_ALPHABET, TOKEN, ChatError, ChatRequest, count_tokens, invalid, parse
from .chat_schema import SchemaError, Tool, instance

__all__ = ["ChatError", "ChatRequest", "chunks", "complete", "count_tokens", "parse", "prompt_text"]


def prompt_text(req: ChatRequest) -> str:
    """Everything the model reads, as text: what token counts and the content filter see."""
    parts = [t.text for t in req.turns] + [f"{name} {args}" for t in req.turns for _, name, args in t.calls]
    parts += [json.dumps({"name": t.name, "parameters": t.parameters}) for t in req.tools]
    if req.schema is not None:
        parts.append(json.dumps(req.schema))
    return " ".join(p for p in parts if p)


def _last_user(req: ChatRequest) -> str:
    return next((t.text for t in reversed(req.turns) if t.role == "user"), "")


def _reply(req: ChatRequest, model: str) -> str:
    last = req.turns[-1]
    if last.role == "tool":
        # After a tool result the model answers in words, naming the function it had called.
        called = {cid: name for t in req.turns for cid, name, _ in t.calls}
        name = called.get(last.call_id) or last.name or "the tool"
        return f"This is {model} on the local Azure emulator. The function {name} returned: {last.text}"
    return f"This is {model} on the local Azure emulator. You said: {_last_user(req)}"


def _content(req: ChatRequest, model: str) -> str:
    try:
        if req.format == "json_schema":
            return json.dumps(instance(req.schema, _last_user(req)))
        if req.format == "json_object":
            return json.dumps({"answer": _reply(req, model)})
    except (SchemaError, RecursionError) as err:
        raise invalid("response_format.json_schema.schema", f"The schema cannot be followed: {err}") from err
    return _reply(req, model)


def _tool_to_call(req: ChatRequest) -> Optional[Tool]:
    """Which function the model calls, if any: forced ones always; under "auto", when a user spoke last."""
    if req.tool_choice == "none" or not req.tools:
        return None
    if req.tool_choice == "function":
        return next(t for t in req.tools if t.name == req.forced)
    if req.tool_choice == "auto" and req.turns[-1].role != "user":
        return None
    said = _last_user(req).lower()
    return next((t for t in req.tools if t.name.lower() in said), req.tools[0])


def _call_id(req: ChatRequest, choice: int) -> str:
    # Nine letters and digits, the shape Mistral gives and requires back in tool_call_id.
    digest = hashlib.sha256(f"{req.fingerprint}:{choice}".encode()).digest()
    return "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in digest[:9])


def _pieces(text: str, stops: tuple[str, ...], limit: int) -> tuple[list[str], str]:
    """The text cut at the first stop sequence, then to `limit` tokens; each piece is a token with
    the whitespace before it, so the pieces join to the text."""
    finish = "stop"
    text = text.rstrip()  # trailing whitespace is no token: what is streamed is what stops match
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
    spans = list(TOKEN.finditer(text))
    pieces = [text[(spans[i - 1].end() if i else 0) : m.end()] for i, m in enumerate(spans)]
    if len(pieces) > limit:
        pieces, finish = pieces[:limit], "length"
    return pieces, finish


@dataclass(frozen=True)
class _Choice:
    pieces: list[str]
    finish: str
    call: Optional[tuple[str, str]] = None  # (id, function name); pieces are then its arguments


def _choices(req: ChatRequest, model: str) -> list[_Choice]:
    tool = _tool_to_call(req)
    if tool is None:
        pieces, finish = _pieces(_content(req, model), req.stop, req.max_tokens)
        return [_Choice(pieces, finish) for _ in range(req.n)]
    try:
        arguments = json.dumps(instance(tool.parameters, _last_user(req)))
    except (SchemaError, RecursionError) as err:
        raise invalid("tools", f"The parameters of '{tool.name}' cannot be followed: {err}") from err
    # Stop sequences do not cut arguments; max_tokens does (finish_reason "length").
    pieces, finish = _pieces(arguments, (), req.max_tokens)
    return [_Choice(pieces, "tool_calls" if finish == "stop" else finish, (_call_id(req, i), tool.name)) for i in range(req.n)]


def _usage(req: ChatRequest, choices: list[_Choice]) -> dict[str, int]:
    prompt = count_tokens(prompt_text(req))
    completion = sum(len(c.pieces) for c in choices)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _message(choice: _Choice) -> dict[str, Any]:
    text = "".join(choice.pieces)
    if choice.call is None:
        return {"role": "assistant", "content": text, "tool_calls": None}
    call_id, name = choice.call
    return {"role": "assistant", "content": "", "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}]}


def complete(req: ChatRequest, model: str, cid: str, created: int) -> dict[str, Any]:
    """The `chat.completion` body."""
    choices = _choices(req, model)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": i, "message": _message(c), "finish_reason": c.finish, "logprobs": None} for i, c in enumerate(choices)],
        "usage": _usage(req, choices),
    }


def chunks(req: ChatRequest, model: str, cid: str, created: int) -> list[dict[str, Any]]:
    """The `chat.completion.chunk`s of the same answer, choice after choice; usage on the last."""
    choices = _choices(req, model)

    def chunk(index: int, delta: dict[str, Any], finish: Optional[str] = None) -> dict[str, Any]:
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    out: list[dict[str, Any]] = []
    for i, c in enumerate(choices):
        out.append(chunk(i, {"role": "assistant", "content": ""}))
        if c.call is None:
            out += [chunk(i, {"content": piece}) for piece in c.pieces]
        else:
            # A whole call in one delta, as Mistral streams them: index, id, type, name and arguments.
            # OpenAI's accumulators read it like fragments; LangChain's ChatMistralAI needs the id on it.
            call = {"index": 0, "id": c.call[0], "type": "function", "function": {"name": c.call[1], "arguments": "".join(c.pieces)}}
            out.append(chunk(i, {"tool_calls": [call]}))
        out.append(chunk(i, {}, c.finish))
    out[-1]["usage"] = _usage(req, choices)
    return out
