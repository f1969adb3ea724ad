"""Real Azure SDK clients, built exactly as a user would build them (defaults, public cloud)."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

from azure.identity import ClientSecretCredential, DefaultAzureCredential

MISTRAL_MEDIUM = "azureml://registries/azureml-mistral/models/mistral-medium-2505"
MISTRAL_SMALL = "azureml://registries/azureml-mistral/models/mistral-small-2503"
MISTRAL_LARGE_RETIRED = "azureml://registries/azureml-mistral/models/Mistral-large"  # retired 2025-04-15
PHI = "azureml://registries/azureml/models/Phi-3.5-mini-instruct"
SUB_GENAI = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
SUB_JAPAN = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c01"
SUB_TRIAL = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c02"
SUB_EA = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c03"
SECRETS = {
    "provision-ci": ("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "emulator-secret-provision-ci"),
    "ai-developer-only": ("8b2c3d4e-5f6a-4b7c-9d8e-1f2a3b4c5d6e", "emulator-secret-ai-developer-only"),
    "reader-only": ("7c3d4e5f-6a7b-4c8d-8e9f-2a3b4c5d6e7f", "emulator-secret-reader-only"),
}


def credential(principal: str | None = None):
    if principal is None:
        return DefaultAzureCredential()
    client_id, secret = SECRETS[principal]
    return ClientSecretCredential(os.environ["AZURE_TENANT_ID"], client_id, secret)


def ml_client(project: str = "contoso-chat", sub: str = SUB_GENAI, rg: str = "rg-genai", principal: str | None = None):
    from azure.ai.ml import MLClient

    return MLClient(credential(principal), sub, rg, project)


def arm_pipeline(principal: str | None = None):
    """azure-mgmt-core's ARM pipeline, for the calls azure-ai-ml does not make."""
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMAutoResourceProviderRegistrationPolicy, ARMChallengeAuthenticationPolicy
    from azure.core.pipeline import policies

    cred = credential(principal)
    config_policies = [
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        ARMAutoResourceProviderRegistrationPolicy(),
        policies.RetryPolicy(),
        ARMChallengeAuthenticationPolicy(cred, "https://management.azure.com/.default"),
        policies.ContentDecodePolicy(),
        policies.NetworkTraceLoggingPolicy(),
    ]
    return ARMPipelineClient(base_url="https://management.azure.com", policies=config_policies)


def arm_call(method: str, path: str, api_version: str = "2024-10-01", body=None, principal: str | None = None):
    from azure.core.rest import HttpRequest

    client = arm_pipeline(principal)
    sep = "&" if "?" in path else "?"
    req = HttpRequest(method, f"https://management.azure.com{path}{sep}api-version={api_version}", json=body)
    return client.send_request(req)


def project_path(project: str = "contoso-chat", sub: str = SUB_GENAI, rg: str = "rg-genai") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{project}"


def arrived(entry: dict[str, Any]) -> float:
    """When the request of a request-log entry reached the emulator (its clock, seconds since the epoch).

    The log's `time` is taken once the answer has been written and `duration_ms` runs from the
    request's arrival. A request a client sends after reading an answer therefore always arrives
    after that answer's request arrived; it may arrive before the answer's `time` was taken."""
    return entry["time"] - entry["duration_ms"] / 1000


def logged(emu: Any, condition: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The request log, once condition(log) holds (or after 30 s: then the caller's assertions say
    what is missing). The server records an entry just after writing the answer, so a client can
    have read the answer to its last request before that request is in the log."""
    deadline = time.monotonic() + 30
    while True:
        log = emu.control.requests()
        if condition(log) or time.monotonic() > deadline:
            return log
        time.sleep(0.01)
