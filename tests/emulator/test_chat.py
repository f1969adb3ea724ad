"""The chat model as a pure function (azure_emulator.chat): properties over arbitrary requests and
schemas, and a corpus of what users get wrong."""
from __future__ import annotations

import json
from typing import Any, Optional

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azure_emulator import chat

MODEL = "Mistral-Medium-2505"
FAST = settings(deadline=500, max_examples=80, suppress_health_check=[HealthCheck.too_slow])


def user(text: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def answer(body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return chat.complete(chat.parse(body, **kw), MODEL, "cid", 0)


def streamed(body: dict[str, Any]) -> list[dict[str, Any]]:
    return chat.chunks(chat.parse(body), MODEL, "cid", 0)


def valid(instance: Any, schema: dict[str, Any]) -> None:
    cls = jsonschema.validators.validator_for(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(instance)


# ---------------------------------------------------------------- arbitrary JSON schemas
names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-50, 50), st.text(max_size=6))


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    low = draw(st.none() | st.integers(0, 12))
    high = draw(st.none() | st.integers(low or 0, 20))
    if low is not None:
        schema["minLength"] = low
    if high is not None:
        schema["maxLength"] = high
    if draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(["date", "date-time", "email", "ipv4", "ipv6", "uuid", "uri"]))
        schema.pop("maxLength", None), schema.pop("minLength", None)
    return schema


@st.composite
def integers(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    low = draw(st.none() | st.integers(-100, 100))
    step = draw(st.none() | st.integers(1, 7))
    if low is not None:
        schema[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        # a range wide enough to hold a multiple of the step
        schema[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = (low if low is not None else 0) + 2 + (step or 1) + draw(st.integers(0, 50))
    if step is not None:
        schema["multipleOf"] = step
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    low = draw(st.none() | st.integers(-100, 100))
    if low is not None:
        schema[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        schema[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = (low if low is not None else 0) + draw(st.integers(1, 30))
    return schema


leaves = st.one_of(
    strings(), integers(), numbers(),
    st.just({"type": "boolean"}), st.just({"type": "null"}),
    st.lists(scalars, min_size=1, max_size=4, unique_by=json.dumps).map(lambda e: {"enum": e}),
    scalars.map(lambda c: {"const": c}),
    # oneOf needs branches no instance satisfies twice: distinct types, never integer and number
    st.lists(st.sampled_from(["string", "integer", "boolean", "null"]), min_size=1, max_size=3, unique=True).map(lambda ts: {"oneOf": [{"type": t} for t in ts]}),
)


def containers(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(names, children, max_size=4))
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        schema["required"] = draw(st.lists(st.sampled_from(sorted(properties)), unique=True)) if properties else []
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        return schema

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        low = draw(st.integers(0, 3))
        schema: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": low}
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 2))
        return schema

    unique = st.builds(lambda low: {"type": "array", "items": {"type": "string"}, "minItems": low, "uniqueItems": True}, st.integers(0, 4))
    nullable = children.map(lambda c: {"anyOf": [c, {"type": "null"}]})
    return st.one_of(objects(), arrays(), unique, nullable, st.lists(children, min_size=1, max_size=3).map(lambda bs: {"anyOf": bs}))


schemas = st.recursive(leaves, containers, max_leaves=12)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A root object as pydantic writes one: definitions under $defs, used through $ref."""
    defs = draw(st.dictionaries(names.map(str.capitalize), schemas, max_size=3))
    properties = {f"p_{k.lower()}": {"$ref": f"#/$defs/{k}"} for k in defs}
    properties.update(draw(st.dictionaries(names, schemas, max_size=3)))
    root: dict[str, Any] = {"type": "object", "properties": properties, "required": sorted(properties)}
    if defs:
        root["$defs"] = defs
    return root


@FAST
@given(documents(), st.text(max_size=30))
def test_json_schema_answers_conform(schema: dict[str, Any], said: str) -> None:
    body = {**user(said), "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}}
    got = answer(body)
    choice = got["choices"][0]
    assert choice["finish_reason"] == "stop"
    valid(json.loads(choice["message"]["content"]), schema)


@FAST
@given(documents(), st.text(max_size=30))
def test_tool_arguments_conform_to_the_parameters(parameters: dict[str, Any], said: str) -> None:
    tools = [{"type": "function", "function": {"name": "act", "parameters": parameters}}]
    got = answer({**user(said), "tools": tools, "tool_choice": "required"})
    choice = got["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == ""
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["function"]["name"] == "act"
    assert len(call["id"]) == 9 and call["id"].isalnum()
    valid(json.loads(call["function"]["arguments"]), parameters)


def test_recursive_pydantic_models_end() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Node(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        name: str
        children: list["Node"]
        parent: Optional["Node"] = None

    schema = Node.model_json_schema()
    body = {**user("a tree"), "response_format": {"type": "json_schema", "json_schema": {"name": "Node", "schema": schema}}}
    valid(json.loads(answer(body)["choices"][0]["message"]["content"]), schema)


# ---------------------------------------------------------------- stop, n, max_tokens, determinism
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@FAST
@given(texts, st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=4) | st.text(min_size=1, max_size=4))
def test_stop_sequences_cut_the_text(said: str, stop: Any) -> None:
    full = answer(user(said))["choices"][0]["message"]["content"]
    got = answer({**user(said), "stop": stop})["choices"][0]
    content = got["message"]["content"]
    stops = [stop] if isinstance(stop, str) else stop
    assert full.startswith(content) and got["finish_reason"] == "stop"
    assert not any(s in content for s in stops)
    if not any(s in full for s in stops):
        assert content == full


@FAST
@given(texts, st.integers(1, 40), st.sampled_from(["max_tokens", "max_completion_tokens"]))
def test_max_tokens_bound_the_completion(said: str, limit: int, key: str) -> None:
    full = answer(user(said))
    got = answer({**user(said), key: limit})
    choice = got["choices"][0]
    assert got["usage"]["completion_tokens"] == min(limit, full["usage"]["completion_tokens"])
    assert full["choices"][0]["message"]["content"].startswith(choice["message"]["content"])
    assert choice["finish_reason"] == ("length" if full["usage"]["completion_tokens"] > limit else "stop")
    assert chat.count_tokens(choice["message"]["content"]) == got["usage"]["completion_tokens"]


@FAST
@given(texts, st.integers(1, 6))
def test_n_choices(said: str, n: int) -> None:
    one = answer(user(said))
    got = answer({**user(said), "n": n}, native=True)
    assert [c["index"] for c in got["choices"]] == list(range(n))
    assert all(c["message"] == one["choices"][0]["message"] for c in got["choices"])
    assert got["usage"]["completion_tokens"] == n * one["usage"]["completion_tokens"]
    assert got["usage"]["prompt_tokens"] == one["usage"]["prompt_tokens"]


@FAST
@given(texts, st.booleans(), st.none() | st.integers(1, 12))
def test_deterministic_and_streaming_says_the_same(said: str, tools: bool, limit: Optional[int]) -> None:
    body: dict[str, Any] = user(said)
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "look_up", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]
    if limit:
        body["max_tokens"] = limit
    whole = answer(body)
    assert whole == answer(json.loads(json.dumps(body)))
    events = streamed(body)
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1]["usage"] == whole["usage"] and events[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    message = whole["choices"][0]["message"]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == message["content"]
    calls = [tc for e in events for tc in e["choices"][0]["delta"].get("tool_calls") or []]
    if message["tool_calls"]:
        assert [{k: v for k, v in c.items() if k != "index"} for c in calls] == message["tool_calls"]
        assert all(c["index"] == 0 for c in calls)
    else:
        assert calls == []


# ---------------------------------------------------------------- what clients send
def test_content_parts_and_string_flags() -> None:
    parts = [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, {"type": "text", "text": "this."}]
    body = {"messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}, {"role": "user", "content": parts}], "stream": "True"}
    request = chat.parse(body)
    assert request.stream is True
    got = chat.complete(request, MODEL, "cid", 0)
    assert got["choices"][0]["message"]["content"].endswith("You said: Describe this.")
    assert got["usage"]["prompt_tokens"] == 3 + 3  # "Be brief." and "Describe this."; the image carries no text
    assert chat.parse({**user("x"), "stream": "false", "max_tokens": "7", "temperature": "0.2"}).max_tokens == 7


def test_tool_round_trip_answers_in_words() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
             {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]
    first = answer({**user("What time is it? use get_time"), "tools": tools})
    (call,) = first["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "get_time", "arguments": "{}"}
    follow = {"messages": [{"role": "user", "content": "What time is it? use get_time"}, first["choices"][0]["message"],
                           {"role": "tool", "tool_call_id": call["id"], "content": "12:00"}], "tools": tools}
    second = answer(follow)["choices"][0]
    assert second["finish_reason"] == "stop" and second["message"]["tool_calls"] is None
    assert second["message"]["content"].endswith("The function get_time returned: 12:00")
    assert answer({**user("hi"), "tools": tools, "tool_choice": "none"})["choices"][0]["finish_reason"] == "stop"
    named = answer({**user("hi"), "tools": tools, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    assert json.loads(named["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"city": "hi"}


def test_json_object_mode_is_json() -> None:
    got = answer({**user("Give me JSON"), "response_format": {"type": "json_object"}})
    assert json.loads(got["choices"][0]["message"]["content"])["answer"].endswith("You said: Give me JSON")


def test_extra_parameters_header() -> None:
    body = {**user("hi"), "n": 2, "safe_prompt": True}
    with pytest.raises(chat.ChatError) as err:
        chat.parse(body)
    assert err.value.status == 400 and "Extra parameters ['n', 'safe_prompt'] are not allowed" in err.value.detail
    assert chat.parse(body, extra_parameters="drop").n == 1
    assert chat.parse(body, extra_parameters="pass-through").n == 2
    with pytest.raises(chat.ChatError) as err:
        chat.parse({**body, "logit_bias": {}}, extra_parameters="pass-through")
    assert err.value.status == 422 and err.value.detail == [{"type": "extra_forbidden", "loc": ["body", "logit_bias"], "msg": "Extra inputs are not permitted", "input": {}}]
    with pytest.raises(chat.ChatError) as err:
        chat.parse(body, extra_parameters="ignore")
    assert err.value.status == 400 and err.value.detail.startswith("Unexpected EXTRA_PARAMETERS option ignore")
    # Mistral's own route knows its own parameters and refuses the rest itself
    assert chat.parse(body, native=True).n == 2
    with pytest.raises(chat.ChatError) as err:
        chat.parse({**body, "user": "me"}, native=True)
    assert err.value.status == 422 and err.value.detail[0]["loc"] == ["body", "user"]


# ---------------------------------------------------------------- what users get wrong
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
WRONG = [
    ([], "body"),
    ({"messages": []}, "messages"),
    ({"messages": "hello"}, "messages"),
    ({"messages": ["hello"]}, "messages[0]"),
    ({"messages": [{"content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "developer", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "messages[0].content[0].image_url"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]}, {"role": "user", "content": "x"}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}, "messages"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}, {"role": "user", "content": "x"}]}, "messages[0].tool_calls[0].function"),
    ({**user("x"), "stream": "yes"}, "stream"),
    ({**user("x"), "temperature": 3}, "temperature"),
    ({**user("x"), "top_p": "most"}, "top_p"),
    ({**user("x"), "max_tokens": 0}, "max_tokens"),
    ({**user("x"), "max_completion_tokens": 1.5}, "max_completion_tokens"),
    ({**user("x"), "stop": ""}, "stop"),
    ({**user("x"), "stop": ["ok", 3]}, "stop"),
    ({**user("x"), "response_format": {"type": "xml"}}, "response_format"),
    ({**user("x"), "response_format": "json"}, "response_format"),
    ({**user("x"), "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format.json_schema"),
    ({**user("x"), "response_format": {"type": "json_schema", "schema": {"type": "object"}}}, "response_format.json_schema"),
    ({**user("x"), "tools": {"f": {}}}, "tools"),
    ({**user("x"), "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].function.parameters"),
    ({**user("x"), "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]}, "tools[0].function.parameters"),
    ({**user("x"), "tools": [{"type": "function", "function": {"name": "has space", "parameters": {}}}]}, "tools[0].function.name"),
    ({**user("x"), "tools": [{"type": "retrieval"}]}, "tools[0]"),
    ({**user("x"), "tools": [TOOL, TOOL]}, "tools[1].function.name"),
    ({**user("x"), "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}}, "tool_choice"),
    ({**user("x"), "tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice"),
    ({**user("x"), "tool_choice": "required"}, "tool_choice"),
]


@pytest.mark.parametrize("body, param", WRONG, ids=[p for _, p in WRONG])
def test_what_users_get_wrong_is_a_400_naming_it(body: Any, param: str) -> None:
    with pytest.raises(chat.ChatError) as err:
        chat.parse(body)
    assert (err.value.status, err.value.param, err.value.detail) == (400, param, None)
    assert len(err.value.message) > 20


def test_a_schema_that_cannot_be_followed_is_a_400() -> None:
    body = {**user("x"), "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "https://example.com/s.json"}}}}
    with pytest.raises(chat.ChatError) as err:
        answer(body)
    assert err.value.status == 400 and err.value.param == "response_format.json_schema.schema"
