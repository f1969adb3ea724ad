"""Call a provisioned deployment once, with the URL and key from the secrets file (never printed).

    python examples/call_deployment.py .secrets/deployments.env MISTRAL_MEDIUM
    python examples/call_deployment.py .secrets/deployments.env CODESTRAL   # a Foundry deployment: <PREFIX>_MODEL names it
"""
from __future__ import annotations

import sys
import time

import requests


def read_dotenv(path: str) -> dict[str, str]:
    values = {}
    for line in open(path, encoding="utf-8"):
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def main(path: str, prefix: str) -> None:
    env = read_dotenv(path)
    url, key = env[f"{prefix}_URL"], env[f"{prefix}_KEY"]
    body = {"messages": [{"role": "user", "content": "Say hello to the platform team."}], "max_tokens": 32}
    if f"{prefix}_MODEL" in env:  # a Foundry resource's endpoint serves every deployment on it: name this one
        body["model"] = env[f"{prefix}_MODEL"]
    started = time.perf_counter()
    response = requests.post(f"{url}/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=body, timeout=30)
    response.raise_for_status()
    answer = response.json()
    choice = answer["choices"][0]
    print(f"   POST {url}/chat/completions -> {response.status_code} in {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"   model {answer['model']}, finish_reason {choice['finish_reason']}, {answer['usage']['total_tokens']} tokens")
    print(f"   reply: {choice['message']['content'][:100]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
