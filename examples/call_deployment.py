"""Call a provisioned deployment once, with the URL and key from the secrets file (never printed).

    python examples/call_deployment.py .secrets/deployments.env MISTRAL_MEDIUM
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
    started = time.perf_counter()
    response = requests.post(
        f"{url}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"messages": [{"role": "user", "content": "Say hello to the platform team."}], "max_tokens": 32},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    choice = body["choices"][0]
    print(f"   POST {url}/chat/completions -> {response.status_code} in {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"   model {body['model']}, finish_reason {choice['finish_reason']}, {body['usage']['total_tokens']} tokens")
    print(f"   reply: {choice['message']['content'][:100]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
