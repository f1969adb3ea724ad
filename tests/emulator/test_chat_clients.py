"""Users' own chat code, as the clients' READMEs write it, run unchanged against a deployed endpoint:
openai, azure-ai-inference, mistralai's Azure client and LangChain (ChatMistralAI, ChatOpenAI) for
JSON mode, structured output, tool calls, content parts and streaming."""
from __future__ import annotations

import json
import os
from typing import Any, Iterator

import pytest
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from pydantic import BaseModel

from azure_emulator.api import reaches_outside

from .clients import MISTRAL_MEDIUM, ml_client

MODEL = "Mistral-Medium-2505"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location"],
        },
    },
}


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


@pytest.fixture(scope="module")
def endpoint(emulator: Any) -> Iterator[tuple[str, str]]:
    """One deployment for the whole module (deploying is the slow part), with this process's
    environment pointed at the emulator as the per-test `emu` fixture does."""
    with pytest.MonkeyPatch.context() as env:
        emulator.control.reset()
        for key in list(os.environ):
            if reaches_outside(key):
                env.delenv(key, raising=False)
        for key, value in emulator.env.items():
            env.setenv(key, value)
        env.setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
        ml = ml_client()
        ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
        ep = ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="chat", model_id=MISTRAL_MEDIUM)).result()
        yield ep.scoring_uri, ml.serverless_endpoints.get_keys("chat").primary_key
        assert emulator.control.egress() == []


# ---------------------------------------------------------------- openai (Mistral's /v1 route)
def openai_client(endpoint: tuple[str, str]) -> Any:
    import openai

    uri, key = endpoint
    return openai.OpenAI(base_url=f"{uri}/v1", api_key=key, max_retries=0)


def test_openai_json_mode_and_structured_output(endpoint: tuple[str, str]) -> None:
    client = openai_client(endpoint)
    answer = client.chat.completions.create(
        model=MODEL, response_format={"type": "json_object"},
        messages=[{"role": "system", "content": "You are a helpful assistant designed to output JSON."}, {"role": "user", "content": "Who won the world series in 2020?"}],
    )
    assert json.loads(answer.choices[0].message.content)["answer"].endswith("Who won the world series in 2020?")
    parsed = client.chat.completions.parse(
        model=MODEL, response_format=CalendarEvent,
        messages=[{"role": "system", "content": "Extract the event information."}, {"role": "user", "content": "Alice and Bob are going to a science fair on Friday."}],
    )
    event = parsed.choices[0].message.parsed
    assert isinstance(event, CalendarEvent) and event.participants == ["Alice and Bob are going to a science fair on Friday."]


def test_openai_tool_calls_round_trip(endpoint: tuple[str, str]) -> None:
    client = openai_client(endpoint)
    messages: list[Any] = [{"role": "user", "content": "What's the weather like in Boston today?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER], tool_choice="auto")
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_current_weather"
    assert json.loads(call.function.arguments) == {"location": "What's the weather like in Boston today?", "unit": "celsius"}
    messages += [choice.message, {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 22}'}]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content.endswith('get_current_weather returned: {"temperature": 22}')


def test_openai_streaming_tool_calls_and_content_parts(endpoint: tuple[str, str]) -> None:
    client = openai_client(endpoint)
    with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "Boston?"}], tools=[WEATHER], tool_choice="required") as stream:
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason == "tool_calls"
    assert json.loads(final.choices[0].message.tool_calls[0].function.arguments)["location"] == "Boston?"
    vision = [{"type": "text", "text": "What's in this image?"}, {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/x.jpg"}}]
    chunks = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": vision}], stream=True, stop=["?"], n=2))
    texts = ["".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == i) for i in (0, 1)]
    assert texts == [f"This is {MODEL} on the local Azure emulator. You said: What's in this image"] * 2


# ---------------------------------------------------------------- azure-ai-inference (the gateway route)
def inference_client(endpoint: tuple[str, str]) -> Any:
    from azure.ai.inference import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    uri, key = endpoint
    return ChatCompletionsClient(endpoint=uri, credential=AzureKeyCredential(key))


def test_azure_ai_inference_tools_json_and_streaming(endpoint: tuple[str, str]) -> None:
    from azure.ai.inference.models import (
        AssistantMessage, ChatCompletionsToolDefinition, CompletionsFinishReason, FunctionDefinition, ImageContentItem,
        ImageUrl, JsonSchemaFormat, SystemMessage, TextContentItem, ToolMessage, UserMessage,
    )

    client = inference_client(endpoint)
    tool = ChatCompletionsToolDefinition(function=FunctionDefinition(name=WEATHER["function"]["name"], description="weather", parameters=WEATHER["function"]["parameters"]))
    messages: list[Any] = [SystemMessage("You are a helpful assistant."), UserMessage("What is the weather in Seattle?")]
    response = client.complete(messages=messages, tools=[tool])
    assert response.choices[0].finish_reason == CompletionsFinishReason.TOOL_CALLS
    call = response.choices[0].message.tool_calls[0]
    messages += [AssistantMessage(tool_calls=response.choices[0].message.tool_calls), ToolMessage(tool_call_id=call.id, content="Nice weather")]
    assert client.complete(messages=messages, tools=[tool]).choices[0].message.content.endswith("returned: Nice weather")
    schema = {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}, "minItems": 2}}, "required": ["steps"], "additionalProperties": False}
    structured = client.complete(messages=[UserMessage("Plan a trip")], response_format=JsonSchemaFormat(name="plan", schema=schema, strict=True))
    assert json.loads(structured.choices[0].message.content) == {"steps": ["Plan a trip", "Plan a trip 1"]}
    parts = UserMessage(content=[TextContentItem(text="What's in this image?"), ImageContentItem(image_url=ImageUrl(url="https://example.com/i.png"))])
    streamed = "".join(u.choices[0].delta.content or "" for u in client.complete(messages=[parts], stream=True) if u.choices)
    assert streamed.endswith("You said: What's in this image?")


def test_azure_ai_inference_model_extras_pass_through(endpoint: tuple[str, str]) -> None:
    from azure.ai.inference.models import UserMessage
    from azure.core.exceptions import HttpResponseError

    client = inference_client(endpoint)
    assert len(client.complete(messages=[UserMessage("hi")], model_extras={"n": 2, "safe_prompt": True}).choices) == 2
    with pytest.raises(HttpResponseError) as err:
        client.complete(messages=[UserMessage("hi")], model_extras={"best_of": 2})
    assert err.value.status_code == 422 and "best_of" in str(err.value)


# ---------------------------------------------------------------- mistralai's Azure client
def test_mistralai_azure_client(endpoint: tuple[str, str]) -> None:
    from mistralai.azure.client import MistralAzure

    uri, key = endpoint
    client = MistralAzure(api_key=key, server_url=uri)
    res = client.chat.complete(messages=[{"role": "user", "content": "Hello there!"}], response_format={"type": "json_object"})
    assert json.loads(res.choices[0].message.content)["answer"].endswith("Hello there!")
    tools = client.chat.complete(messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER], tool_choice="any")
    assert tools.choices[0].finish_reason == "tool_calls"
    assert json.loads(tools.choices[0].message.tool_calls[0].function.arguments)["location"] == "Weather in Paris?"
    events = list(client.chat.stream(messages=[{"role": "user", "content": [{"type": "text", "text": "Stream me"}]}], max_tokens=3))
    assert "".join(e.data.choices[0].delta.content or "" for e in events) == "This is Mistral"
    assert events[-1].data.choices[0].finish_reason == "length"


# ---------------------------------------------------------------- LangChain
def chat_mistralai(endpoint: tuple[str, str]) -> Any:
    """langchain-mistralai verifies TLS with certifi's bundle only, so it is given an httpx client
    that trusts the emulator's CA (the variable `azure-emulator env` prints)."""
    import httpx
    from langchain_mistralai import ChatMistralAI

    uri, key = endpoint
    client = httpx.Client(base_url=uri, headers={"Authorization": f"Bearer {key}"}, verify=os.environ["SSL_CERT_FILE"])
    return ChatMistralAI(endpoint=uri, api_key=key, model=MODEL, client=client)


class Joke(BaseModel):
    setup: str
    punchline: str
    rating: int | None = None


def test_langchain_chat_mistralai(endpoint: tuple[str, str]) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    llm = chat_mistralai(endpoint)
    assert llm.invoke([HumanMessage(content=[{"type": "text", "text": "Tell me a joke"}])]).content.endswith("You said: Tell me a joke")
    joke = llm.with_structured_output(Joke).invoke("Tell me a joke about cats")
    assert joke == Joke(setup="Tell me a joke about cats", punchline="Tell me a joke about cats", rating=0)
    assert llm.with_structured_output(Joke, method="json_schema").invoke("cats") == Joke(setup="cats", punchline="cats", rating=0)

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply a and b."""
        return a * b

    bound = llm.bind_tools([multiply])
    question = HumanMessage("What is 3 times 4?")
    ai = bound.invoke([question])
    assert ai.tool_calls and ai.tool_calls[0]["name"] == "multiply"
    reply = bound.invoke([question, ai, ToolMessage(content=str(multiply.invoke(ai.tool_calls[0]["args"])), tool_call_id=ai.tool_calls[0]["id"])])
    assert reply.content.endswith("multiply returned: 0") and not reply.tool_calls
    streamed = None
    for chunk in bound.stream([question]):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None and streamed.tool_calls == [{"name": "multiply", "args": {"a": 0, "b": 0}, "id": ai.tool_calls[0]["id"], "type": "tool_call"}]


def test_langchain_chat_openai(endpoint: tuple[str, str]) -> None:
    from langchain_openai import ChatOpenAI

    uri, key = endpoint
    llm = ChatOpenAI(base_url=f"{uri}/v1", api_key=key, model=MODEL, max_retries=0)
    assert llm.with_structured_output(Joke).invoke("Tell me a joke") == Joke(setup="Tell me a joke", punchline="Tell me a joke", rating=0)
    assert llm.with_structured_output(Joke, method="function_calling").invoke("dogs") == Joke(setup="dogs", punchline="dogs", rating=0)
    assert llm.with_structured_output(None, method="json_mode").invoke("Return JSON")["answer"].endswith("Return JSON")
    text = "".join(str(c.content) for c in llm.stream("Say something", stop=["something"]))
    assert text == f"This is {MODEL} on the local Azure emulator. You said: Say"
