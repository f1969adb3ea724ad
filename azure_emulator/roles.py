"""Built-in role definitions and Azure RBAC's evaluation rules.

Azure evaluates a permission as: some role assignment at the scope or above (for the caller
or a group it belongs to) whose role has a permission block in which the action matches one
of `actions` and none of that same block's `notActions`. Wildcards match any characters,
including '/'; comparison ignores case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass
class RoleDefinition:
    id: str
    name: str
    description: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)
    data_actions: list[str] = field(default_factory=list)
    not_data_actions: list[str] = field(default_factory=list)
    builtin: bool = True

    def permits(self, action: str) -> bool:
        return any(_match(p, action) for p in self.actions) and not any(_match(p, action) for p in self.not_actions)

    def permits_data(self, action: str) -> bool:
        """A data action (the data plane's: an inference call with an Entra token)."""
        return any(_match(p, action) for p in self.data_actions) and not any(_match(p, action) for p in self.not_data_actions)


@lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    # A "/*/" segment also matches a single "/": Azure AI Developer's "workspaces/*/read" lets
    # its holders read the workspace itself (the docs' AI-Developer-only flow GETs it).
    parts = [".*".join(re.escape(p) for p in chunk.split("*")) for chunk in pattern.split("/*/")]
    return re.compile("^" + "/(?:.*/)?".join(parts) + "$", re.IGNORECASE)


def _match(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern).match(action))


_MLS = "Microsoft.MachineLearningServices"
_CS = "Microsoft.CognitiveServices"

BUILTIN_ROLES = [
    RoleDefinition(
        id="8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        name="Owner",
        description="Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions=["*"],
    ),
    RoleDefinition(
        id="b24988ac-6180-42a0-ab88-20f7382dd24c",
        name="Contributor",
        description="Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, "
        "manage assignments in Azure Blueprints, or share image galleries.",
        actions=["*"],
        not_actions=[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
    ),
    RoleDefinition(
        id="acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name="Reader",
        description="View all resources, but does not allow you to make any changes.",
        actions=["*/read"],
    ),
    RoleDefinition(
        id="64702f94-c441-49e6-a78b-ef80e0188fee",
        name="Azure AI Developer",
        description="Can perform all actions within an Azure AI resource besides managing the resource itself.",
        actions=[
            f"{_MLS}/workspaces/*/read",
            f"{_MLS}/workspaces/*/action",
            f"{_MLS}/workspaces/*/delete",
            f"{_MLS}/workspaces/*/write",
            f"{_MLS}/locations/*/read",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/deployments/*",
        ],
        not_actions=[
            f"{_MLS}/workspaces/delete",
            f"{_MLS}/workspaces/write",
            f"{_MLS}/workspaces/listKeys/action",
            f"{_MLS}/workspaces/hubs/write",
            f"{_MLS}/workspaces/hubs/delete",
            f"{_MLS}/workspaces/featurestores/write",
            f"{_MLS}/workspaces/featurestores/delete",
            f"{_MLS}/workspaces/evaluations/results/labels/read",
            f"{_MLS}/workspaces/evaluations/results/reasonings/read",
            f"{_MLS}/workspaces/simulations/results/images/read",
        ],
        data_actions=[
            "Microsoft.CognitiveServices/accounts/OpenAI/*",
            "Microsoft.CognitiveServices/accounts/SpeechServices/*",
            "Microsoft.CognitiveServices/accounts/ContentSafety/*",
            "Microsoft.CognitiveServices/accounts/MaaS/*",
        ],
    ),
    # The Cognitive Services roles (Foundry resources): who may deploy models (accounts/deployments/write),
    # read keys (accounts/listKeys/action) and call models with an Entra token (data actions).
    RoleDefinition(
        id="25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68",
        name="Cognitive Services Contributor",
        description="Lets you create, read, update, delete and manage keys of Cognitive Services.",
        actions=[
            "Microsoft.Authorization/*/read", f"{_CS}/*", "Microsoft.Features/features/read", "Microsoft.Features/providers/features/read",
            "Microsoft.Features/providers/features/register/action", "Microsoft.Insights/alertRules/*", "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Insights/logDefinitions/read", "Microsoft.Insights/metricdefinitions/read", "Microsoft.Insights/metrics/read",
            "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*", "Microsoft.Resources/deployments/operations/read",
            "Microsoft.Resources/subscriptions/operationresults/read", "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourcegroups/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
        ],
    ),
    RoleDefinition(
        id="a97b65f3-24c7-4388-baec-2e87135dc908",
        name="Cognitive Services User",
        description="Lets you read and list keys of Cognitive Services.",
        actions=[
            f"{_CS}/*/read", f"{_CS}/accounts/listkeys/action", "Microsoft.Insights/alertRules/read", "Microsoft.Insights/diagnosticSettings/read",
            "Microsoft.Insights/logDefinitions/read", "Microsoft.Insights/metricdefinitions/read", "Microsoft.Insights/metrics/read",
            "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/operations/read",
            "Microsoft.Resources/subscriptions/operationresults/read", "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
        ],
        data_actions=[f"{_CS}/*"],
    ),
    RoleDefinition(
        id="a001fd3d-188f-4b5d-821b-7da978bf7442",
        name="Cognitive Services OpenAI Contributor",
        description="Full access including the ability to fine-tune, deploy and generate text",
        actions=[
            f"{_CS}/*/read", f"{_CS}/accounts/deployments/write", f"{_CS}/accounts/deployments/delete", f"{_CS}/accounts/raiPolicies/read",
            f"{_CS}/accounts/raiPolicies/write", f"{_CS}/accounts/raiPolicies/delete", f"{_CS}/accounts/commitmentplans/read",
            f"{_CS}/accounts/commitmentplans/write", f"{_CS}/accounts/commitmentplans/delete", "Microsoft.Authorization/roleAssignments/read",
            "Microsoft.Authorization/roleDefinitions/read",
        ],
        data_actions=[f"{_CS}/accounts/OpenAI/*"],
    ),
    RoleDefinition(
        id="5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
        name="Cognitive Services OpenAI User",
        description="Ability to view files, models, deployments. Readers can't make any changes They can inference and create images",
        actions=[f"{_CS}/*/read", "Microsoft.Authorization/roleAssignments/read", "Microsoft.Authorization/roleDefinitions/read"],
        data_actions=[
            f"{_CS}/accounts/OpenAI/*/read", f"{_CS}/accounts/OpenAI/engines/completions/action", f"{_CS}/accounts/OpenAI/engines/search/action",
            f"{_CS}/accounts/OpenAI/engines/generate/action", f"{_CS}/accounts/OpenAI/deployments/audio/action",
            f"{_CS}/accounts/OpenAI/deployments/search/action", f"{_CS}/accounts/OpenAI/deployments/completions/action",
            f"{_CS}/accounts/OpenAI/deployments/chat/completions/action", f"{_CS}/accounts/OpenAI/deployments/extensions/chat/completions/action",
            f"{_CS}/accounts/OpenAI/deployments/embeddings/action", f"{_CS}/accounts/OpenAI/images/generations/action",
        ],
    ),
    RoleDefinition(
        id="53ca6127-db72-4b80-b1b0-d745d6d5456d",
        name="Azure AI User",  # renamed Foundry User; the id is unchanged
        description="Grants reader access to AI projects, reader access to AI accounts, and data actions for an AI project.",
        actions=[f"{_CS}/*/read", "Microsoft.Authorization/*/read", f"{_CS}/accounts/listkeys/action", "Microsoft.Resources/deployments/*",
                 "Microsoft.Resources/subscriptions/resourceGroups/read"],
        data_actions=[f"{_CS}/*"],
    ),
]
