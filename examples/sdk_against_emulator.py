"""What `scripts/demo` runs until the provision CLI lands: the real azure-ai-ml SDK, unchanged,
provisioning Mistral Large against the local Azure emulator, then one chat call.

The key is used, never printed.
"""
import os

import requests
from azure.ai.ml import MLClient
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from azure.identity import DefaultAzureCredential

MODEL = "azureml://registries/azureml-mistral/models/Mistral-large"

ml = MLClient(DefaultAzureCredential(), os.environ["AZURE_SUBSCRIPTION_ID"], "rg-genai", "contoso-chat")
project = ml.workspaces.get("contoso-chat")
print(f"project   {project.name} ({type(project).__name__}, {project.location}, hub {project.hub_id.rsplit('/', 1)[-1]})")
sub = ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="mistral-large", model_id=MODEL)).result()
print(f"subscribe {sub.name}: {sub.status} (offer {sub.marketplace_plan.offer_id})")
ep = ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="mistral-large-chat", model_id=MODEL)).result()
print(f"deploy    {ep.name}: {ep.provisioning_state} at {ep.scoring_uri}")
key = ml.serverless_endpoints.get_keys(ep.name).primary_key
print(f"key       received ({len(key)} characters; not shown)")
answer = requests.post(
    f"{ep.scoring_uri}/v1/chat/completions",
    json={"messages": [{"role": "user", "content": "Translate to Italian: I love programming."}], "max_tokens": 64},
    headers={"Authorization": f"Bearer {key}"},
    timeout=30,
).json()
print(f"chat      {answer['choices'][0]['message']['content']!r} ({answer['usage']['total_tokens']} tokens)")
