"""The api-versions each family of routes answers, and ARM's answer to any other."""
from __future__ import annotations

import re
from typing import Optional

from .wire import Request, arm_error

# the ones the SDKs send, and the stable ones
MLS = frozenset({
    "2022-10-01", "2023-04-01", "2023-06-01-preview", "2023-08-01-preview", "2023-10-01", "2024-01-01-preview",
    "2024-04-01", "2024-04-01-preview", "2024-07-01-preview", "2024-10-01", "2024-10-01-preview",
    "2025-01-01-preview", "2025-04-01", "2025-04-01-preview", "2025-06-01", "2025-07-01-preview",
    "2025-09-01", "2025-10-01-preview", "2025-12-01",
})
# serverlessEndpoints and marketplaceSubscriptions first appeared in 2023-08-01-preview; the
# 2023-10-01 stable version of workspaces predates them (ARM answers NoRegisteredProviderFound).
SERVERLESS = frozenset(v for v in MLS if v >= "2024-01-01" or v == "2023-08-01-preview")
AUTHZ = frozenset({
    "2015-07-01", "2018-01-01-preview", "2018-09-01-preview", "2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2021-04-01-preview",
    "2022-04-01", "2022-05-01-preview", "2022-05-01", "2024-04-01",
})
# Microsoft.Resources: subscriptions, resource groups, providers, generic resources, deployments
RESOURCES = frozenset({
    "2014-04-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-09-01", "2017-05-10", "2018-02-01", "2018-05-01", "2019-05-01",
    "2019-06-01", "2019-07-01", "2019-08-01", "2019-10-01", "2019-11-01", "2020-01-01", "2020-06-01", "2020-10-01", "2021-01-01",
    "2021-04-01", "2022-01-01", "2022-09-01", "2022-12-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-03-01",
    "2025-04-01", "2026-06-01",
})
DEPLOYMENTS = frozenset({
    "2016-09-01", "2017-05-10", "2018-02-01", "2018-05-01", "2019-05-01", "2019-05-10", "2019-07-01", "2019-08-01",
    "2019-10-01", "2020-06-01", "2020-08-01", "2020-10-01", "2021-01-01", "2021-04-01", "2022-09-01", "2023-07-01",
    "2024-03-01", "2024-07-01", "2024-11-01", "2025-03-01", "2025-04-01", "2026-06-01",
})
# Microsoft.CognitiveServices: every published version for accounts; deployments (and the model lists
# and operation results that come with them) first appeared in 2021-10-01.
COGNITIVE_SERVICES = frozenset({
    "2016-02-01-preview", "2017-04-18", "2021-04-30", "2021-10-01", "2022-03-01", "2022-10-01", "2022-12-01", "2023-05-01",
    "2023-10-01-preview", "2024-04-01-preview", "2024-06-01-preview", "2024-10-01", "2025-04-01-preview", "2025-06-01", "2025-07-01-preview",
    "2025-09-01", "2025-10-01-preview", "2025-12-01", "2026-01-15-preview", "2026-03-01", "2026-03-15-preview", "2026-05-01",
    "2026-05-15-preview", "2026-07-01", "2026-07-15-preview", "2026-09-01", "2026-09-15-preview",
})
COGNITIVE_DEPLOYMENTS = frozenset(v for v in COGNITIVE_SERVICES if v >= "2021-10-01")
REGISTRY_DISCOVERY = frozenset({"v1.0"})
REGISTRY = frozenset({"2021-10-01-dataplanepreview"})  # what azure-ai-ml pins for registry reads
FAMILIES: dict[str, Optional[frozenset[str]]] = {
    "mls": MLS, "serverless": SERVERLESS, "authz": AUTHZ, "resources": RESOURCES, "deployments": DEPLOYMENTS,
    "registry-discovery": REGISTRY_DISCOVERY, "registry": REGISTRY, "cognitiveservices": COGNITIVE_SERVICES,
    "cognitiveservices-deployments": COGNITIVE_DEPLOYMENTS,
    # /subscriptions/{s}/operationresults: the monitors of resource-group deletions and of deployments' what-if and delete
    "operation-results": RESOURCES | DEPLOYMENTS,
}
_DATE = re.compile(r"^(20\d\d)-(\d\d)-(\d\d)(-preview|-beta|-alpha|-privatepreview)?$")


def require_api_version(req: Request, family: str, resource_type: str) -> None:
    """ARM's answer to a missing, malformed or unsupported api-version."""
    version = req.api_version
    if not version:
        raise arm_error("MissingApiVersionParameter")
    allowed = FAMILIES.get(family)
    supported = ", ".join(sorted(allowed or ()))
    if not (_DATE.match(version) or version in (allowed or ())):
        raise arm_error("InvalidApiVersionParameter", version=version, supported=supported)
    if allowed is not None and version not in allowed:
        raise arm_error("NoRegisteredProviderFound", location="global", version=version, type=resource_type, supported=supported)
