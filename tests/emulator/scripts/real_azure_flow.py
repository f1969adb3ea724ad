"""A provisioning script as someone would write it for real Azure with azure-ai-ml.

It knows nothing of the emulator: it reads the usual environment variables and uses the
SDK's defaults. The test runs it unchanged with only the emulator's printed environment.
"""
import os
import sys

from azure.ai.ml import MLClient
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from azure.identity import DefaultAzureCredential

MODEL = "azureml://registries/azureml-mistral/models/mistral-medium-2505"

credential = DefaultAzureCredential()
ml = MLClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"], "rg-genai", "contoso-chat")

project = ml.workspaces.get("contoso-chat")
print("project", project.name, type(project).__name__, project.location, project.hub_id.rsplit("/", 1)[-1])

subscription = ml.marketplace_subscriptions.begin_create_or_update(
    MarketplaceSubscription(name="mistral-medium", model_id=MODEL)
).result()
print("subscription", subscription.name, subscription.status, subscription.marketplace_plan.offer_id)

endpoint = ml.serverless_endpoints.begin_create_or_update(
    ServerlessEndpoint(name="mistral-medium-flow", model_id=MODEL)
).result()
print("endpoint", endpoint.name, endpoint.provisioning_state, endpoint.scoring_uri)

keys = ml.serverless_endpoints.get_keys(endpoint.name)
print("keys", len(keys.primary_key), len(keys.secondary_key))
print("listed", sorted(e.name for e in ml.serverless_endpoints.list()))

ml.serverless_endpoints.begin_delete(endpoint.name).result()
ml.marketplace_subscriptions.begin_delete(subscription.name).result()
print("deleted", sorted(e.name for e in ml.serverless_endpoints.list()), sorted(s.name for s in ml.marketplace_subscriptions.list()))
sys.exit(0)
