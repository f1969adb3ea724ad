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


@lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    # A "/*/" segment also matches a single "/": Azure AI Developer's "workspaces/*/read" lets
    # its holders read the workspace itself (the docs' AI-Developer-only flow GETs it).
    parts = [".*".join(re.escape(p) for p in chunk.split("*")) for chunk in pattern.split("/*/")]
    return re.compile("^" + "/(?:.*/)?".join(parts) + "$", re.IGNORECASE)


def _match(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern).match(action))


_MLS = "Microsoft.MachineLearningServices"

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
]
