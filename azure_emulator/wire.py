"""The one factory for Azure's error wire formats (requests and responses: messages.py).

Every error the emulator returns is built here, so that the real SDKs parse it exactly as
they parse Azure's (the Azurite lesson): the ARM envelope for management calls, Entra ID's
OAuth error body for token calls, and the inference API's envelope for the data plane.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Optional

from .messages import Request as Request
from .messages import Response as Response


class ArmError(Exception):
    """An Azure Resource Manager error, rendered as ARM's envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        inner_code: str | None = None,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code
        self.target = target
        self.headers = headers or {}

    def error_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.inner_code:
            # MFE (the MachineLearningServices front end) adds these; the inner code is
            # what a careful client keys on, since the outer code is a generic UserError.
            error["details"] = []
            error["additionalInfo"] = [
                {"type": "ComponentName", "info": {"value": "managementfrontend"}},
                {
                    "type": "InnerError",
                    "info": {"value": {"code": _outer_for(self.status), "innerError": {"code": self.inner_code}}},
                },
            ]
        return error

    def response(self) -> Response:
        headers = {"x-ms-failure-cause": "gateway" if self.status in (401, 429) else "service"}
        headers.update(self.headers)
        return Response(self.status, {"error": self.error_body()}, headers)


def _outer_for(status: int) -> str:
    return {400: "BadArgument", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}.get(status, "UserError")


# Azure's error codes, each with its status and message (`{field}`s filled by `arm_error`): the
# one catalog ARM-shaped answers come from, so a code is always sent with the same status.
ARM_ERRORS: dict[str, tuple[int, str]] = {
    "MethodNotAllowed": (405, "The requested resource does not support http method '{method}'."),
    "InvalidResourceType": (404, "The emulator does not implement '{method} {path}'. (local Azure emulator: not emulated)"),
    "MissingApiVersionParameter": (400, "The api-version query parameter (?api-version=) is required for all requests."),
    "InvalidApiVersionParameter": (400, "The api-version '{version}' is invalid. The supported versions are '{supported}'."),
    "NoRegisteredProviderFound": (400, "No registered resource provider found for location '{location}' and API version '{version}' for type "
                                  "'{type}'. The supported api-versions are '{supported}'."),
    "InvalidSubscriptionId": (400, "The provided subscription identifier '{sub}' is malformed or invalid."),
    "UnsupportedMediaType": (415, "The content media type '{ctype}' is not supported. Only 'application/json' is supported."),
    "InvalidRequestContent": (400, "The request content was invalid and could not be deserialized{why}."),
    "InvalidFilterInQueryString": (400, "The $filter '{expr}' is not supported. Supported: {supported}."),
    "InvalidSkipToken": (400, "The $skipToken '{token}' is invalid: use the nextLink of the previous page as it was sent."),
    "InvalidTopValue": (400, "The value '{value}' of $top is invalid: it must be a whole number from 1 to 1000."),
    "LocationRequired": (400, "The location property is required for this definition."),
    "InvalidResourceNamespace": (404, "The resource namespace '{namespace}' is invalid."),
    "Conflict": (409, "{message}"),
    "NotFound": (404, "{message}"),
    "RoleAssignmentNotFound": (404, "The role assignment '{name}' is not found."),
    "RoleDefinitionDoesNotExist": (400, "The specified role definition with ID '{rid}' does not exist."),
    "PrincipalNotFound": (400, "Principal {pid} does not exist in the directory {tenant}."),
    "RoleAssignmentExists": (409, "The role assignment already exists."),
    "LinkedAuthorizationFailed": (403, "The client '{client}' with object id '{object_id}' has permission to perform action '{action}' on scope "
                                  "'{scope}'; however, it does not have permission to perform action(s) '{linked_action}' on the linked "
                                  "scope(s) '{linked_scope}' (respectively) or the linked scope(s) are invalid."),
    "AuthenticationFailed": (401, "Authentication failed. {why}"),
    "InvalidAuthenticationToken": (401, "The access token is invalid{why}."),
    "ExpiredAuthenticationToken": (401, "The access token expiry UTC time is earlier than current UTC time."),
    "InvalidAuthenticationTokenTenant": (401, "The access token is from the wrong issuer '{issuer}'."),
    "InvalidAuthenticationTokenAudience": (401, "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly "
                                           "match with one of the allowed audiences '{allowed}'."),
    "InternalServerError": (500, "azure-emulator internal error: {why}"),
    "TooManyRequests": (429, "Too many requests (injected by the emulator). Retry after the interval in Retry-After."),
    # Microsoft.CognitiveServices (Foundry resources and their model deployments)
    "RequestConflict": (409, "Another operation is being performed on the parent resource '{parent}'. Please try again later."),
    "DeploymentModelNotSupported": (400, "The model 'Format:{format},Name:{name},Version:{version}' of account deployment is not supported."),
    "ServiceModelDeprecating": (400, "The model 'Publisher:{publisher},Format:{format},Name:{name},Version:{version}' is in deprecating state "
                                "and cannot be used for new deployments."),
    "InvalidResourceProperties": (400, "{message}"),
    "InvalidCapacity": (400, "The specified capacity '{capacity}' of account deployment should be at least {minimum} and no more than {maximum}."),
    "InsufficientQuota": (400, "This operation require {need} new capacity in quota {quota}, which is bigger than the current available capacity "
                          "{available}. The current quota usage is {used} and the quota limit is {limit} for quota {quota}."),
    "InvalidResourceName": (400, "Resource name '{name}' is invalid. {rule}"),
    "InvalidKeyName": (400, "The keyName '{name}' is invalid: use Key1 or Key2."),
    "LocalAuthDisabled": (400, "Failed to list key. disableLocalAuth is set to be true"),
}


def arm_error(code: str, *, status: Optional[int] = None, inner_code: Optional[str] = None, target: Optional[str] = None,
              headers: Optional[dict[str, str]] = None, **fields: Any) -> ArmError:
    """The ARM error `code` of the catalog, its message filled from `fields`."""
    default_status, template = ARM_ERRORS[code]
    return ArmError(status or default_status, code, template.format(**fields), inner_code=inner_code, target=target, headers=headers)


def injected_error(status: int, code: str, message: str, headers: Optional[dict[str, str]] = None) -> ArmError:
    """A fault rule's error: the status, code and message its author chose."""
    return ArmError(status, code, message, headers=headers)


def operation_failed(error: dict[str, str]) -> ArmError:
    """The result of a failed long-running operation: its error, as the status monitor showed it."""
    return ArmError(400, error.get("code", "UserError"), error.get("message", "The operation failed."))


def operation_error(code: str, message: str, target: Optional[str] = None) -> dict[str, Any]:
    """The error of a long-running operation (a status monitor's `error`, a deployment operation's)."""
    return {"code": code, "message": message, **({"target": target} if target else {})}


def being_deleted(what: str, name: str) -> ArmError:
    return arm_error("Conflict", message=f"{what} '{name}' is being deleted; retry when the deletion has finished.")


def operation_in_progress(what: str, name: str, state: str) -> ArmError:
    return arm_error("Conflict", message=f"{what} '{name}' has an operation in progress ({state}); retry when it has finished.")


def deployment_not_available(model_id: str, status: str) -> ArmError:
    """A deprecated or retired model. Azure's message is known; its inner code is not:
    ServerlessModelDeprecated/-Retired are the emulator's."""
    return user_error(f"The requested model {model_id} is not available.", "ServerlessModelRetired" if status == "retired" else "ServerlessModelDeprecated")


def required_field(path: str) -> ArmError:
    return ArmError(400, "UserError", f"The field {path} is required.", inner_code="RequiredFieldMissing", target=path)


def user_error(message: str, inner_code: str, status: int = 400) -> ArmError:
    """MFE's validation failures: outer code UserError, the specific reason as inner code."""
    return ArmError(status, "UserError", message, inner_code=inner_code)


def resource_not_found(type_path: str, name: str, resource_group: str) -> ArmError:
    return ArmError(404, "ResourceNotFound", f"The Resource '{type_path}/{name}' under resource group '{resource_group}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def resource_group_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def subscription_not_found(sub: str) -> ArmError:
    return ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")


def authorization_failed(client: str, object_id: str, action: str, scope: str) -> ArmError:
    return ArmError(403, "AuthorizationFailed", f"The client '{client}' with object id '{object_id}' does not have authorization to perform "
                    f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.")


def missing_registration(namespace: str) -> ArmError:
    # azure-mgmt-core's auto-registration policy takes the namespace from the last quoted token.
    return ArmError(409, "MissingSubscriptionRegistration", f"The subscription is not registered to use namespace '{namespace}'. See "
                    "https://aka.ms/rps-not-found for how to register subscriptions.")


def throttled(kind: str, subscription: str, principal_id: str, retry_after: int) -> ArmError:
    return ArmError(429, "SubscriptionRequestsThrottled", f"Number of '{kind}' requests for subscription '{subscription}' actor '{principal_id}' "
                    f"exceeded. Please try again after '{retry_after}' seconds after additional tokens are available. "
                    "Refer to https://aka.ms/arm-throttling for additional information.", headers={"Retry-After": str(retry_after)})


def registry_error(err: ArmError, component: str, region: str = "eastus") -> Response:
    """An error of the Azure Machine Learning registry services (discovery, MFE data plane): their own
    envelope, in which `error.innerError.code` carries the specific reason (azure-core reads
    `error.code` and `error.message` from it as from ARM's)."""
    inner: dict[str, Any] = {"code": err.inner_code or _outer_for(err.status), "innerError": None}
    request_id = str(uuid.uuid4())
    headers = {"x-ms-request-id": request_id, "x-ms-failure-cause": "gateway" if err.status == 401 else "service"}
    headers.update(err.headers)
    error: dict[str, Any] = {"code": err.code, "severity": None, "message": err.message, "target": err.target, "details": [], "innerError": inner}
    return Response(err.status, {"error": error, "correlation": {"operation": uuid.uuid4().hex, "request": request_id[:16]}, "environment": region,
                                 "location": region, "time": time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()), "componentName": component},
                    headers)


def oauth_error(status: int, error: str, aadsts: int, description: str) -> Response:
    """Entra ID's token-endpoint error body (what msal and azure-identity parse)."""
    trace = str(uuid.uuid4())
    correlation = str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    text = f"AADSTS{aadsts}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
    return Response(status, {"error": error, "error_description": text, "error_codes": [aadsts], "timestamp": stamp, "trace_id": trace,
                             "correlation_id": correlation})


def plain_error(status: int, message: str, **extra: Any) -> Response:
    """The emulator's own answers (control API, the listener's refusals): {"error": message, ...}."""
    return Response(status, {"error": message, **extra})


def msi_error(status: int, error: str, description: str) -> Response:
    """The managed-identity endpoints' error body."""
    return Response(status, {"error": error, "error_description": description})


def app_service_error(status: int, message: str) -> Response:
    """App Service's managed-identity endpoint's own error shape."""
    return Response(status, {"statusCode": status, "message": message})


def telemetry_refusal(status: int) -> Response:
    """Application Insights' answer to a request it does not take: nothing received."""
    return Response(status, {"itemsReceived": 0, "itemsAccepted": 0, "errors": []})


def inference_error(status: int, code: str, message: str, headers: dict[str, str] | None = None, param: str | None = None) -> Response:
    return Response(
        status,
        {"error": {"message": message, "type": None, "param": param, "code": code, "status": status}},
        headers or {},
    )


def graph_error(status: int, code: str, message: str) -> Response:
    """Microsoft Graph's error body: {"error": {code, message, innerError {date, request-id, client-request-id}}}
    (the az CLI reads `error.message`)."""
    request_id = str(uuid.uuid4())
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "request-id": request_id, "client-request-id": request_id}
    return Response(status, {"error": {"code": code, "message": message, "innerError": inner}}, {"request-id": request_id})


def blob_error(status: int, code: str, message: str) -> Response:
    """Azure Blob Storage's XML error body (what the az CLI's version check reads from its storage host)."""
    request_id = str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}\nRequestId:{request_id}\nTime:{stamp}</Message></Error>")
    return Response(status, body, {"x-ms-request-id": request_id, "x-ms-error-code": code}, content_type="application/xml")


def inference_detail_error(status: int, detail: Any) -> Response:
    """The inference gateway's and Mistral's server's own refusals: `{"detail": ...}` (a sentence for an
    extra parameter the gateway refuses, pydantic's list of problems for fields the model refuses)."""
    return Response(status, {"detail": detail})


# --- template deployments (Microsoft.Resources/deployments) ----------------------------------

class _TemplateViolation(ArmError):
    """ARM's template errors carry where in the template the problem is (additionalInfo)."""

    def __init__(self, code: str, message: str, path: str, details: Optional[list[dict[str, Any]]] = None) -> None:
        super().__init__(400, code, message)
        self.path = path
        self.details = details or []

    def error_body(self) -> dict[str, Any]:
        error = super().error_body()
        if self.details:
            error["details"] = self.details
        error["additionalInfo"] = [{"type": "TemplateViolation", "info": {"lineNumber": 0, "linePosition": 0, "path": self.path}}]
        return error


def invalid_template(message: str, path: str) -> ArmError:
    """A template ARM cannot read: syntax, functions, parameters, dependsOn, cycles."""
    return _TemplateViolation("InvalidTemplate", f"Deployment template validation failed: '{message}'." if not message.startswith("Deployment template") else message, path)


def invalid_template_deployment(deployment: str, message: str, path: str) -> ArmError:
    """A readable template the emulator will not deploy (a resource type it does not serve)."""
    return _TemplateViolation(
        "InvalidTemplateDeployment",
        f"The template deployment '{deployment}' is not valid according to the validation procedure. See inner errors for details.",
        path,
        [{"code": "ResourceTypeNotSupported", "target": path, "message": message}],
    )


def invalid_deployment_request(message: str) -> ArmError:
    return ArmError(400, "InvalidDeployment", message)


def deployment_not_found(name: str) -> ArmError:
    return ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")


def deployment_active(name: str, verb: str) -> ArmError:
    return ArmError(409, "DeploymentActive", f"Unable to {verb} deployment '{name}' because it is still running. Wait for it to finish, or cancel it.")


def deployment_not_cancellable(name: str, state: str) -> ArmError:
    return ArmError(409, "DeploymentCannotBeCancelled", f"Deployment '{name}' cannot be cancelled: it is {state}.")


def deployment_failed(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The error body of a deployment one of whose resource operations failed."""
    return {
        "code": "DeploymentFailed",
        "message": "At least one resource deployment operation failed. Please list deployment operations for details. "
                   "Please see https://aka.ms/arm-deployment-operations for usage details.",
        "details": details,
    }


def deployment_filter_not_supported(expr: str) -> ArmError:
    """A deployment list's $filter other than provisioningState eq '<state>' (the catalog's status)."""
    return ArmError(ARM_ERRORS["InvalidFilterInQueryString"][0], "InvalidFilterInQueryString",
                    f"The $filter '{expr}' is not supported; use provisioningState eq '<state>'.")


def deployment_operation_not_found(op: str, name: str) -> ArmError:
    return ArmError(404, "DeploymentOperationNotFound", f"Deployment operation '{op}' of deployment '{name}' could not be found.")


def invalid_group_location(location: str, existing: str) -> ArmError:
    """A PUT of an existing resource group with another location."""
    return ArmError(409, "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{location}'. The Resource group already exists in location '{existing}'.")


def invalid_group_name(name: str) -> ArmError:
    return ArmError(400, "InvalidResourceGroup",
                    f"The provided resource group name '{name[:100]}' has these invalid characters or is too long: the name is 1 to 90 "
                    "letters, digits, underscores, hyphens, periods (not at the end) and parentheses.")


# --- Foundry inference ({subdomain}.services.ai.azure.com, .openai.azure.com, .cognitiveservices.azure.com) ---

def foundry_error(status: int, code: str, message: str, details: bool = False) -> Response:
    """The Foundry data plane's error body: {"error": {code, message}}; the model inference
    route adds `details` (the message again)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = message
    return Response(status, {"error": error})
