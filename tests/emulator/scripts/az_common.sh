#!/usr/bin/env bash
# The az commands users put next to provision in their own pipelines, run unchanged against the
# local Azure emulator (tests/emulator/test_az_cli.py runs it; docs/emulator.md, "Running az
# against the emulator"):
#
#   azure-emulator run --world tests/emulator/scripts/az_world.yaml -- bash tests/emulator/scripts/az_common.sh
#
# It reads only what `azure-emulator run` exports (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
# AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID) and prints one `key: value` line per check on stdout.
# Any command that fails ends the script (set -e), so exit 0 means every command worked.
set -euo pipefail

# This run's own az profile: a developer's `az login` is neither used nor changed.
AZURE_CONFIG_DIR="$(mktemp -d)"
export AZURE_CONFIG_DIR
trap 'rm -rf "$AZURE_CONFIG_DIR" 2>/dev/null || true' EXIT  # az's telemetry may still be writing there

SUB="$AZURE_SUBSCRIPTION_ID"
RG=rg-az-script
RG_ID="/subscriptions/$SUB/resourceGroups/$RG"
PROJECT="/subscriptions/$SUB/resourceGroups/rg-genai/providers/Microsoft.MachineLearningServices/workspaces/contoso-chat"
MLS_API=2024-10-01
ENDPOINT=az-script-small
MODEL=azureml://registries/azureml-mistral/models/mistral-small-2503
PROVISION_CI_APP_ID=9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d   # the world's provision-ci service principal
ALICE=alice@contoso.onmicrosoft.com                          # a user, by UPN
DEVELOPERS_GROUP=8b1d4f6c-7a9e-4b2d-8c4f-5e6f7a8b9c1d        # a group, by object id
READER=acdd72a7-3385-48ef-bd42-f606fba81ae7                   # the built-in Reader role

# One check's result on stdout. Values are computed first (`value=$(…)`), so that a failing
# command ends the script (set -e does not see a failure inside an argument's substitution).
say() { printf '%s: %s\n' "$1" "$2"; }

# Wait until an ARM resource reports one of the given provisioning states (as a pipeline would,
# with az rest: it never polls an operation itself).
wait_for_state() {
  local url=$1 want=$2 state=""
  for _ in $(seq 1 60); do
    state=$(az rest --method get --url "$url" --query properties.provisioningState -o tsv)
    if [[ "$state" == "$want" ]]; then
      return 0
    fi
    sleep 0.5
  done
  echo "error: $url stayed '$state' (wanted '$want')" >&2
  return 1
}

# --- sign in -------------------------------------------------------------------------------
az login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" --tenant "$AZURE_TENANT_ID" --output none
value=$(az account show --query '[id, tenantId, user.type]' -o tsv | paste -sd' ')
say account "$value"

# --- resource groups -----------------------------------------------------------------------
first=$(az group create -n "$RG" -l eastus2 --tags env=ci team=genai --query id -o tsv)
again=$(az group create -n "$RG" -l eastus2 --tags env=ci team=genai --query id -o tsv)
say group-create "$first"
value=$([[ "$first" == "$again" ]] && echo same || echo "different: $again")
say group-create-again "$value"
value=$(az group show -n "$RG" --query '[name, location, properties.provisioningState, tags.env]' -o tsv | paste -sd' ')
say group-show "$value"
value=$(az group list --tag env=ci --query '[].name' -o tsv | paste -sd' ')
say group-list-tag "$value"
value=$(az group exists -n "$RG")
say group-exists "$value"

# --- a serverless endpoint, made with az rest as a pipeline's own step would ---------------
az rest --method put --url "$PROJECT/marketplaceSubscriptions/mistral-small-2503?api-version=$MLS_API" \
  --body "{\"properties\": {\"modelId\": \"$MODEL\"}}" --output none
wait_for_state "$PROJECT/marketplaceSubscriptions/mistral-small-2503?api-version=$MLS_API" Succeeded
ENDPOINT_URL="$PROJECT/serverlessEndpoints/$ENDPOINT?api-version=$MLS_API"
ENDPOINT_BODY="{\"location\": \"eastus2\", \"sku\": {\"name\": \"Consumption\"}, \"tags\": {\"env\": \"ci\"}, \"properties\": {\"modelSettings\": {\"modelId\": \"$MODEL\"}}}"
az rest --method put --url "$ENDPOINT_URL" --body "$ENDPOINT_BODY" --output none
wait_for_state "$ENDPOINT_URL" Succeeded

# --- generic resource list -----------------------------------------------------------------
value=$(az resource list -g rg-genai --query '[].type' -o tsv | sort -u | paste -sd' ')
say resource-list-group "$value"
value=$(az resource list --resource-type Microsoft.MachineLearningServices/workspaces/serverlessEndpoints --query '[].name' -o tsv | paste -sd' ')
say resource-list-type "$value"
value=$(az resource list --tag env=ci --query '[].name' -o tsv | paste -sd' ')
say resource-list-tag "$value"

# --- role assignments: by appId, by UPN, by object id --------------------------------------
by_app=$(az role assignment create --assignee "$PROVISION_CI_APP_ID" --role Reader --scope "$RG_ID" --query id -o tsv)
by_app_again=$(az role assignment create --assignee "$PROVISION_CI_APP_ID" --role Reader --scope "$RG_ID" --query id -o tsv)
value=$(az role assignment list --assignee "$PROVISION_CI_APP_ID" -g "$RG" --query '[].[principalName, roleDefinitionName, principalType]' -o tsv | paste -sd' ')
say role-create-app "$value"
# Azure answers a second identical assignment 409 RoleAssignmentExists; az create turns that
# into the existing assignment (same id), az rest shows the error itself.
value=$([[ "$by_app" == "$by_app_again" ]] && echo same || echo "different: $by_app_again")
say role-create-again "$value"
duplicate_body="{\"properties\": {\"roleDefinitionId\": \"/subscriptions/$SUB/providers/Microsoft.Authorization/roleDefinitions/$READER\", \"principalId\": \"$(az ad sp show --id "$PROVISION_CI_APP_ID" --query id -o tsv)\", \"principalType\": \"ServicePrincipal\"}}"
if duplicate=$(az rest --method put --url "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.Authorization/roleAssignments/$(cat /proc/sys/kernel/random/uuid)?api-version=2022-04-01" \
     --body "$duplicate_body" 2>&1); then
  echo "error: a duplicate role assignment was created: $duplicate" >&2
  exit 1
fi
value=$(grep -o 'RoleAssignmentExists' <<<"$duplicate" | head -1)
say role-duplicate "$value"
az role assignment create --assignee "$ALICE" --role Reader --scope "$RG_ID" --output none
az role assignment create --assignee "$DEVELOPERS_GROUP" --role Reader --scope "$RG_ID" --output none
value=$(az role assignment list -g "$RG" --query '[].[principalName, principalType]' -o tsv | sort | paste -sd' ')
say role-list-group "$value"
value=$(az role assignment list --assignee "$ALICE" -g "$RG" --query '[].roleDefinitionName' -o tsv | paste -sd' ')
say role-list-upn "$value"
value=$(az role assignment list --assignee "$PROVISION_CI_APP_ID" --all --query '[].roleDefinitionName' -o tsv | sort | paste -sd' ')
say role-list-inherited "$value"

# --- az rest on an endpoint and on a subscription ------------------------------------------
value=$(az rest --method get --url "$ENDPOINT_URL" --query '[name, properties.provisioningState, tags.env]' -o tsv | paste -sd' ')
say rest-endpoint "$value"
value=$(az rest --method get --url "https://management.azure.com/subscriptions/$SUB?api-version=2022-12-01" --query '[subscriptionId, state]' -o tsv | paste -sd' ')
say rest-subscription "$value"
# DELETE, then PUT the same endpoint again: az rest never polls, so the deletion has to finish on
# its own; the PUT is retried (without reading anything) while Azure still answers 409.
az rest --method delete --url "$ENDPOINT_URL" --output none
for attempt in $(seq 1 30); do
  if out=$(az rest --method put --url "$ENDPOINT_URL" --body "$ENDPOINT_BODY" --output none 2>&1); then
    break
  fi
  if [[ "$out" != *Conflict* || "$attempt" == 30 ]]; then
    echo "$out" >&2
    exit 1
  fi
  sleep 1
done
wait_for_state "$ENDPOINT_URL" Succeeded
value=$(az rest --method get --url "$ENDPOINT_URL" --query properties.provisioningState -o tsv)
say rest-recreate "$value"

# --- clean up ------------------------------------------------------------------------------
az group delete -n "$RG" --yes
value=$(az group exists -n "$RG")
say group-deleted "$value"
echo "az-common: all commands passed"

# --- az deployment group create: the docs' serverless-endpoint template (ARM JSON) ---------
# The template subscribes the project to the model's offer under a name of its own; a project has
# one subscription per offer, so the one made above goes first (with its endpoint).
TEMPLATE="$(dirname "${BASH_SOURCE[0]}")/../templates/serverless-endpoint.json"
SUBSCRIPTION_URL="$PROJECT/marketplaceSubscriptions/mistral-small-2503?api-version=$MLS_API"
az rest --method delete --url "$ENDPOINT_URL" --output none
az rest --method delete --url "$SUBSCRIPTION_URL" --output none
for _ in $(seq 1 60); do
  az rest --method get --url "$SUBSCRIPTION_URL" --output none 2>/dev/null || break
  sleep 0.5
done
value=$(az deployment group create -g rg-genai -n az-template --template-file "$TEMPLATE" \
  --parameters projectName=contoso-chat endpointName=az-template-small modelId="$MODEL" \
  --query '[properties.provisioningState, properties.outputs.endpointUri.value]' -o tsv | paste -sd' ')
say deployment-create "$value"
value=$(az deployment operation group list -g rg-genai -n az-template --query '[].properties.provisioningOperation' -o tsv | paste -sd' ')
say deployment-operations "$value"
echo "az-common: template deployment passed"
