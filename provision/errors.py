"""The tool's exceptions. Each carries its exit code; the CLI turns them into one-line
messages in one place (cli.main)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .names import TextEnum


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CHANGES = 3
TRANSIENT_STATUSES = (408, 429, 500, 502, 503, 504)  # answers that say "try again later"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, which field, what, and the fix."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class ProvisionError(Exception):
    exit_code = EXIT_FAILURE


class SpecError(ProvisionError):
    """The spec file is invalid; every problem found is listed."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class AzureError(ProvisionError):
    """An Azure call failed. Recognised by `code` (and the MFE inner code), never by message text."""

    def __init__(self, message: str, code: str = "", inner_code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.inner_code = inner_code
        self.status = status

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.inner_code, self.code) if c)


class OutputFailed(ProvisionError):
    """Standard output cannot be written (a full disk, a closed pipe): the report is lost."""


class ChecksFailed(ProvisionError):
    """Pre-flight checks refused the run; nothing was written."""


class Declined(ProvisionError):
    """The user did not confirm, or confirmation was needed and could not be asked."""


# What to do about Azure's known errors, by error code or MFE inner code (never by message text).
REMEDIES: dict[str, str] = {
    "ServerlessEndpointNameNotAvailable": "endpoint names are unique per region across all of Azure: choose another `name` for this deployment",
    "ServerlessModelNotAvailableInRegion": "this model is not offered in the hub's region: use a project whose hub is in a region that offers it",
    "ServerlessEndpointModelAlreadyDeployed": "a project can serve a model only once: reuse the existing endpoint's name in the spec, or `provision destroy` it first",
    "MarketplaceSubscriptionNotFound": "the project has no Marketplace subscription to this model's offer: run `provision apply` again (it subscribes first)",
    "MarketplacePurchaseEligibilityFailed": "the Azure subscription cannot buy this Marketplace offer (billing country, payment method or EA policy): fix billing, or use another subscription",
    "AuthorizationFailed": "the caller lacks a role for this action: run `provision whoami` to see what is missing",
    "MarketplaceSubscriptionCannotBeCompleted": "Azure could not buy the model's Marketplace offer for this subscription (billing country, payment method or "
                                                "EA policy, as Azure says): fix it in billing, use another subscription, or deploy a model sold by Azure",
    "RequestConflict": "another operation is running on the Foundry resource: run apply again when it has finished",
    "InsufficientQuota": "the subscription's quota for this model and SKU in the region is used up: free some (delete a deployment), ask for more, or use another region",
    "InvalidCapacity": "the capacity is outside what the model takes with this SKU: set `capacity` within the range Azure names, or leave it out",
    "DeploymentModelNotSupported": "the Foundry resource cannot deploy this model, version or SKU: run `provision plan`, whose model check lists what it offers",
    "LinkedAuthorizationFailed": "subscribing needs Marketplace rights at the subscription (Owner, Contributor, or a custom role with Microsoft.MarketplaceOrdering/* and Microsoft.SaaS/resources/write)",
    "MissingSubscriptionRegistration": "a resource provider is not registered: `az provider register --namespace <namespace>` or grant <namespace>/register/action",
    "ServerlessEndpointModelImmutable": "the model of an endpoint cannot change: re-run with --allow-replace to delete and recreate it",
    "CredentialUnavailable": "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or workload identity, or a managed identity), or run `az login`",
    "CredentialRejected": "fix the credential: AZURE_CLIENT_SECRET holds the secret's value (not its id), AZURE_CLIENT_ID the app's client id, AZURE_TENANT_ID its tenant; with OIDC, the federated credential must trust this subject",
    "CloudMetadataUnavailable": "ARM_CLOUD_METADATA_URL must answer with the cloud's endpoints (`az cloud show` names them): fix the URL, or unset it for public Azure",
    "CloudMetadataInvalid": "ARM_CLOUD_METADATA_URL must describe a cloud with a resourceManager endpoint: point it at the cloud's metadata endpoint, or unset it for public Azure",
    "TokenWithoutObjectId": "use a credential of a Microsoft Entra ID principal (a service principal, managed identity or user): provision needs its object id to check its roles",
    "UnexpectedResponse": "a proxy or gateway answered instead of Azure (a TLS-inspecting proxy, a captive portal): check HTTPS_PROXY / NO_PROXY, or let Azure's hosts through",
    "ConnectionFailed": "check the network and the proxy (HTTPS_PROXY / NO_PROXY), then run again; `provision apply` continues where it stopped",
    "SubscriptionNotFound": "the Azure subscription id is wrong or not visible to this identity: check `subscription` in the spec",
    "ResourceGroupNotFound": "check `resource_group` in the spec",
}


# Any other error: no fix is known, so where to find the SDK's own words.
UNKNOWN_REMEDY = "`provision whoami --debug` shows what the Azure SDK said about it"


class Phase(TextEnum):
    """What a run was doing when Azure failed: some codes mean something else in another phase."""

    SUBSCRIBE = "subscribe"  # a Marketplace subscription's purchase
    DEPLOY = "deploy"  # any other step of a deployment
    KEYS = "keys"  # reading an endpoint's keys
    REGISTER = "register"  # registering a resource provider
    DESTROY = "destroy"  # deleting


# A failed subscribe operation reports the purchase refusal as a plain UserError (billing country,
# payment method, EA policy), so the phase it happened in says what it means.
STEP_REMEDIES: dict[tuple[Phase, str], str] = {
    (Phase.SUBSCRIBE, "UserError"): "the Marketplace purchase was refused for this Azure subscription (billing country, payment method or EA policy, as Azure says): fix it in billing, or use another subscription",
}


def explain(error: AzureError, phase: Optional[Phase] = None, with_remedy: bool = True) -> str:
    """One line: Azure's code, its message, and (unless the caller says it itself) what to do."""
    codes = error.codes
    remedy = next((REMEDIES[c] for c in codes if c in REMEDIES), "") or next((STEP_REMEDIES[(phase, c)] for c in codes if phase is not None and (phase, c) in STEP_REMEDIES), "")
    if "MissingSubscriptionRegistration" in codes:
        # The namespace is the last quoted word of Azure's message, as azure-mgmt-core reads it too.
        quoted = re.findall(r"'([^']+)'", str(error))
        if quoted:
            remedy = remedy.replace("<namespace>", quoted[-1])
    label = "/".join(codes) or "AzureError"
    message = " ".join(str(error).split())
    return f"{label}: {message}" + (f" (fix: {remedy})" if remedy and with_remedy else "")
