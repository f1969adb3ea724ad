"""The deployed endpoint's Chat API, through the openai client and azure-ai-inference."""
from __future__ import annotations

import pytest
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint

from .clients import MISTRAL_MEDIUM, arm_call, ml_client, project_path


@pytest.fixture
def endpoint(emu):
    ml = ml_client()
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    ep = ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="chat", model_id=MISTRAL_MEDIUM)).result()
    keys = ml.serverless_endpoints.get_keys("chat")
    return ep.scoring_uri, keys.primary_key, keys.secondary_key


def openai_client(uri, key):
    import openai

    return openai.OpenAI(base_url=f"{uri}/v1", api_key=key, max_retries=0)


def test_openai_chat_completion(endpoint):
    uri, key, _ = endpoint
    answer = openai_client(uri, key).chat.completions.create(
        model="ignored", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Translate: I love programming."}],
        temperature=0.8, max_tokens=512,
    )
    assert answer.object == "chat.completion"
    assert answer.model == "Mistral-Medium-2505"
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "I love programming" in choice.message.content
    assert answer.usage.prompt_tokens == 9  # "Be brief." (3) + "Translate: I love programming." (6)
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_openai_streaming_and_max_tokens(endpoint):
    uri, key, _ = endpoint
    chunks = list(openai_client(uri, key).chat.completions.create(model="m", messages=[{"role": "user", "content": "hello there"}], stream=True, max_tokens=4))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "This is Mistral-"  # four tokens: This, is, Mistral, - (of Mistral-Medium-2505)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_azure_ai_inference_client(endpoint):
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import UserMessage
    from azure.core.credentials import AzureKeyCredential

    uri, key, _ = endpoint
    client = ChatCompletionsClient(endpoint=uri, credential=AzureKeyCredential(key))
    answer = client.complete(messages=[UserMessage(content="Bonjour")])
    assert answer.choices[0].message.content.endswith("Bonjour")
    info = client.get_model_info()
    assert info.model_name == "Mistral-Medium-2505" and info.model_provider_name == "MistralAI"


def test_wrong_key_and_rotated_key_are_refused(endpoint):
    import openai

    uri, key, secondary = endpoint
    with pytest.raises(openai.AuthenticationError):
        openai_client(uri, "0" * 32).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    rotated = arm_call("POST", project_path() + "/serverlessEndpoints/chat/regenerateKeys", body={"keyType": "Primary"})
    assert rotated.status_code == 200 and rotated.json()["primaryKey"] != key and rotated.json()["secondaryKey"] == secondary
    with pytest.raises(openai.AuthenticationError):
        openai_client(uri, key).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert openai_client(uri, secondary).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]).choices


def test_raw_key_and_api_key_headers(endpoint):
    import requests

    uri, key, _ = endpoint
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert requests.post(f"{uri}/v1/chat/completions", json=body, headers={"Authorization": key}, timeout=10).status_code == 200
    assert requests.post(f"{uri}/chat/completions", json=body, headers={"api-key": key}, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "body, param",
    [
        ({}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ],
)
def test_invalid_bodies_get_400(endpoint, body, param):
    import requests

    uri, key, _ = endpoint
    answer = requests.post(f"{uri}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_content_filter_refusal(endpoint):
    import openai

    uri, key, _ = endpoint
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(uri, key).chat.completions.create(model="m", messages=[{"role": "user", "content": "[[content-filter]] something"}])
    assert err.value.code == "content_filter"
    assert "content management policy" in err.value.message


def test_rate_limits_per_deployment(emu, endpoint):
    import openai

    uri, key, _ = endpoint
    emu.control.configure(inference_rpm=3)
    client = openai_client(uri, key)
    for _ in range(3):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert int(err.value.response.headers["Retry-After"]) >= 1
    emu.control.configure(inference_rpm=1000, inference_tpm=10)
    with pytest.raises(openai.RateLimitError):
        openai_client(uri, key).chat.completions.create(model="m", messages=[{"role": "user", "content": "a long prompt " * 5}])
