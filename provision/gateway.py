"""The only door to Azure. Every SDK import happens inside this module, lazily, so `--help`,
`validate` and `schema` never pay for it.

Clients:
- azure-identity's DefaultAzureCredential (environment service principal, workload identity,
  managed identity, `az login`);
- azure-mgmt-core's ARM pipeline (bearer auth, Azure's retry policy honouring Retry-After, ARM
  long-running-operation polling) for the Machine Learning workspaces, Marketplace subscriptions
  and serverless endpoints, and for Foundry resources (Microsoft.CognitiveServices accounts, their
  model lists, keys and model deployments: azure-mgmt-cognitiveservices is not needed for these
  few calls). azure-ai-ml is not used here: importing it costs 2.6 s (the whole
  overhead budget of an apply, BENCHMARKS.md), it cannot set content safety on create, its
  regenerate-keys is broken (1.35), and its entities drop endpointState, contentSafety and
  marketplaceSubscriptionId, which audit needs;
- azure-mgmt-authorization for role assignments, role definitions and effective permissions;
- azure-mgmt-resource for resource providers (and the SaaS resources behind subscriptions).

Public Azure by default; with ARM_CLOUD_METADATA_URL every client uses that cloud's Resource
Manager endpoint, token audience and login authority alike.

Failures leave as `AzureError` with Azure's error code and the MFE inner code; nothing here
decides what they mean for the user (that is `errors.explain`).
"""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from typing import Any, Callable, Iterator, Optional
from urllib.parse import quote

from . import httptrace
from .cloud import PUBLIC_CLOUD, Cloud, cloud_from_metadata
from .errors import TRANSIENT_STATUSES as TRANSIENT_STATUSES
from .errors import AzureError
from .catalog import REGISTRY_DISCOVERY, RegistryModel, lifecycle_from_tags
from .live import project_id as project_id
from .live import (FOUNDRY_FORMAT, AccountModel, ChatResult, Endpoint, FoundryAccount, FoundryDeployment, Identity, Keys, MarketplaceSubscription,
                   Permission, RoleAssignment, RoleDefinition, SaasResource, Workspace)
from .secret import Secret
from .throttle import ArmRateLimiter

log = logging.getLogger("provision.gateway")

MLS = "Microsoft.MachineLearningServices"
SAAS_API = "2018-03-01-beta"
MLS_API = "2024-10-01"  # stable; the first GA version with contentSafety on serverless endpoints
SUBSCRIPTIONS_API = "2022-12-01"
COGNITIVE = "Microsoft.CognitiveServices"
COGNITIVE_API = "2025-06-01"  # accounts, their model lists and keys, model deployments
VERSION_UPGRADE = "OnceNewDefaultVersionAvailable"
ACCOUNT_KEYS = {"primary": "Key1", "secondary": "Key2"}  # regenerateKey's keyName
CONFLICT_ATTEMPTS = 6  # writes refused with RequestConflict (another write runs on the account)
CONFLICT_BACKOFF = 1.0  # seconds before the first retry when Azure gives no Retry-After; doubled, at most CONFLICT_BACKOFF_MAX
CONFLICT_BACKOFF_MAX = 15.0
REGISTRY_DISCOVERY_BY_ARM = {  # azure-ai-ml's registry discovery host per cloud (_azure_environments.py)
    "https://management.azure.com": REGISTRY_DISCOVERY,
    "https://management.usgovcloudapi.net": "https://usgovarizona.api.ml.azure.us/",
    "https://management.chinacloudapi.cn": "https://chinaeast2.api.ml.azure.cn/",
}
REGISTRY_API = "2021-10-01-dataplanepreview"
KNOWN_AUTHORITIES = {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.windows.net"}
TRANSIENT_ATTEMPTS = 5


def sdk_errors() -> tuple[type[BaseException], ...]:
    """What the Azure SDKs and the HTTP transport raise: the only exceptions the gateway turns into
    AzureError. Anything else (a KeyError in our own code) is a bug and leaves as it is."""
    import requests
    from azure.core.exceptions import AzureError as SdkError

    return (SdkError, requests.RequestException)


def _proxy_for(url: str) -> str:
    import requests.utils

    return requests.utils.get_environ_proxies(url).get("https", "")


def without_credentials(proxy: str) -> str:
    """A proxy URL as it may be shown: scheme://host:port, never the `user:password@` it may hold."""
    from urllib.parse import urlsplit

    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")  # requests reads a bare host:port as http
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}"


def unreachable(url: str, exc: BaseException) -> AzureError:
    """A network or proxy failure, naming the host, the proxy and the underlying error."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or url
    configured = _proxy_for(url)
    proxy = without_credentials(configured) if configured else ""
    inner = getattr(exc, "inner_exception", None) or exc
    reason = inner.args[0] if inner.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError carries the real cause
    cause = type(inner).__name__ + (f" ({type(reason).__name__})" if isinstance(reason, BaseException) and type(reason).__name__ != type(inner).__name__ else "")
    via = f" through the proxy {proxy}" if proxy else " (no proxy)"
    return AzureError(f"could not reach {host}{via}: {cause}", "ConnectionFailed")


def parse_azure_error(exc: BaseException, url: str = "") -> AzureError:
    """Azure's error envelope -> AzureError(code, inner code, status). Message text is Azure's own,
    which never contains a key (keys only travel in listKeys/regenerateKeys answers)."""
    import requests
    from azure.core.exceptions import ClientAuthenticationError, DecodeError, HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, AzureError):
        return exc
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "response", None) is None:
        text = str(exc.message or exc)
        entra = re.search(r"(AADSTS\d+: [^.]*\.)", text)  # Entra ID's own error code says what is wrong
        if entra:
            return AzureError(f"Microsoft Entra ID refused the credential: {entra.group(1)}", "CredentialRejected")
        return AzureError("no Azure credential was found (DefaultAzureCredential tried them all; --debug lists what each said)", "CredentialUnavailable")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, requests.ConnectionError, requests.Timeout)):
        return unreachable(url or "https://management.azure.com", exc)
    if isinstance(exc, DecodeError):  # a management SDK got a body it cannot parse
        answer = getattr(exc, "response", None)
        return unexpected_response(url or "https://management.azure.com", exc.status_code or 0, answer.headers.get("Content-Type") if answer is not None else None)
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        body: Any = None
        try:
            response: Any = exc.response
            if response is not None:  # azure.core.rest responses have json(); the management SDKs' transport responses only text()
                body = response.json() if hasattr(response, "json") else json.loads(response.text())
        except Exception:
            body = None
        error = (body or {}).get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            inner = ""
            for info in error.get("additionalInfo") or []:
                if isinstance(info, dict) and info.get("type") == "InnerError":
                    value = (info.get("info") or {}).get("value") or {}
                    inner = _innermost(value)
            message = str(error.get("message") or "").strip()
            return AzureError(message or str(error.get("code")), str(error.get("code") or ""), inner, status)
        return AzureError(f"Azure answered HTTP {status}", f"Http{status}", "", status)
    return AzureError(f"{type(exc).__name__}: {exc}", type(exc).__name__)


def _innermost(value: dict[str, Any]) -> str:
    code = ""
    while isinstance(value, dict):
        code = str(value.get("code") or code)
        value = value.get("innerError")  # type: ignore[assignment]
    return code


def _token_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims if isinstance(claims, dict) else {}
    except Exception:
        return {}


class Busy(AzureError):
    """409 RequestConflict: Azure runs another write on the same parent resource (a Foundry
    account takes one deployment write at a time); `retry_after` is its Retry-After in seconds."""

    def __init__(self, error: AzureError, retry_after: Optional[float]) -> None:
        super().__init__(str(error), error.code, error.inner_code, error.status)
        self.retry_after = retry_after


def retry_after(headers: Any) -> Optional[float]:
    """Retry-After (or retry-after-ms) in seconds; None when absent or not a number (an HTTP date is not honoured)."""
    for name, scale in (("retry-after-ms", 1000.0), ("Retry-After", 1.0)):
        value = headers.get(name)
        try:
            seconds = float(value) / scale if value is not None else None
        except ValueError:
            seconds = None
        if seconds is not None and seconds >= 0:
            return min(seconds, 60.0)
    return None


def refused(response: Any, url: str) -> AzureError:
    """A non-success answer to a write's first request, as AzureError (Busy for RequestConflict)."""
    from azure.core.exceptions import HttpResponseError

    error = parse_azure_error(HttpResponseError(response=response), url)
    return Busy(error, retry_after(response.headers)) if error.code == "RequestConflict" else error


def foundry_body(model_name: str, version: Optional[str], sku: str, capacity: Optional[int], content_filter: Optional[str],
                 tags: dict[str, str]) -> dict[str, Any]:
    """A deployment PUT body: `sku` at the top level (Azure does not read one inside properties);
    no version is the account's default version, no content filter Azure's default policy."""
    model: dict[str, Any] = {"format": FOUNDRY_FORMAT, "name": model_name}
    if version is not None:
        model["version"] = version
    properties: dict[str, Any] = {"model": model, "versionUpgradeOption": VERSION_UPGRADE}
    if content_filter is not None:
        properties["raiPolicyName"] = content_filter
    scale: dict[str, Any] = {"name": sku}
    if capacity is not None:
        scale["capacity"] = capacity
    return {"sku": scale, "tags": dict(tags), "properties": properties}


def keys_of(data: Optional[dict[str, Any]]) -> Keys:
    """An account's listKeys / regenerateKey answer: key1 primary, key2 secondary."""
    data = data or {}
    return Keys(Secret(str(data.get("key1") or "")), Secret(str(data.get("key2") or "")))


class Gateway:
    """Typed reads and writes of the Azure resources the tool works with.

    Thread-safe: one instance serves concurrent deployments (clients are built once, under a lock).
    Every method raises AzureError on failure; `get_*` return None for a 404.
    """

    def __init__(self, parallel: int = 32, environ: Optional[dict[str, str]] = None) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self._parallel = max(4, parallel)
        self._session: Any = None
        self._cloud: Optional[Cloud] = None
        self._credential: Any = None
        self._arm: Any = None
        self._registry_client: Any = None
        self._registries: dict[str, str] = {}  # registry name (lower) -> its models URL (discovery, once per run)
        self._registry_locks: dict[str, threading.Lock] = {}
        self._authz: dict[str, Any] = {}
        self._resources: dict[str, Any] = {}
        self.limiter = ArmRateLimiter()  # ARM's buckets, shared by every client and thread of this run

    # --- plumbing ---------------------------------------------------------------------------
    def _http(self) -> Any:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=self._parallel * 2)
            session.mount("https://", adapter)
            httptrace.watch(session)  # --debug: the requests made outside a pipeline
            self._session = session
        return self._session

    def _transport(self) -> Any:
        from azure.core.pipeline.transport import RequestsTransport

        return RequestsTransport(session=self._http(), session_owner=False)

    @property
    def cloud(self) -> Cloud:
        with self._lock:
            if self._cloud is None:
                url = self._env.get("ARM_CLOUD_METADATA_URL", "").strip()
                self._cloud = cloud_from_metadata(url, self._http()) if url else PUBLIC_CLOUD
            return self._cloud

    @property
    def credential(self) -> Any:
        cloud = self.cloud
        with self._lock:
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                options: dict[str, Any] = {"authority": cloud.authority, "exclude_interactive_browser_credential": True}
                if cloud.authority.lower() not in KNOWN_AUTHORITIES:
                    # MSAL would validate an unknown authority against login.microsoftonline.com
                    # (Azure Stack Hub, ADFS, an emulator): trust the cloud's own metadata instead.
                    options["disable_instance_discovery"] = True
                options.update(httptrace.credential_options())  # --debug: token requests
                try:
                    self._credential = DefaultAzureCredential(**options)
                except ValueError as exc:  # azure-identity's answer to settings it cannot use
                    raise AzureError(f"the Azure credential settings cannot be used: {exc}", "CredentialUnavailable") from None
            return self._credential

    def _arm_client(self) -> Any:
        cloud, credential = self.cloud, self.credential
        with self._lock:
            if self._arm is None:
                from azure.core.pipeline import policies
                from azure.mgmt.core import ARMPipelineClient
                from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy
                from azure.mgmt.core.polling import arm_polling  # noqa: F401  (imported now, while reads run, not before the first write)

                self._arm = ARMPipelineClient(
                    base_url=cloud.arm,
                    policies=[
                        policies.RequestIdPolicy(),
                        policies.HeadersPolicy(),
                        policies.UserAgentPolicy(sdk_moniker="provision/0.1"),
                        policies.ProxyPolicy(),
                        policies.ContentDecodePolicy(),
                        policies.RetryPolicy(retry_backoff_factor=0.4),  # 429/5xx/dropped connections; honours Retry-After
                        _rate_limit_policy(self.limiter),  # every attempt takes a token from ARM's bucket
                        ARMChallengeAuthenticationPolicy(credential, cloud.scope),
                        policies.CustomHookPolicy(),
                        ARMHttpLoggingPolicy(),  # headers only, never bodies
                        *httptrace.policies(),  # --debug: one line per attempt
                    ],
                    transport=self._transport(),
                )
            return self._arm

    def _registry_http(self) -> Any:
        """A plain pipeline with the Resource Manager token (what azure-ai-ml sends to the registry
        hosts), Azure's retry policy, and no ARM rate limiter (these hosts are not ARM)."""
        cloud, credential, base = self.cloud, self.credential, self.registry_discovery_url
        with self._lock:
            if self._registry_client is None:
                from azure.core import PipelineClient
                from azure.core.pipeline import policies

                self._registry_client = PipelineClient(
                    base_url=base,
                    policies=[
                        policies.RequestIdPolicy(),
                        policies.HeadersPolicy({"Accept": "application/json"}),
                        policies.UserAgentPolicy(sdk_moniker="provision/0.1"),
                        policies.ProxyPolicy(),
                        policies.ContentDecodePolicy(),
                        policies.RetryPolicy(retry_backoff_factor=0.4),
                        policies.BearerTokenCredentialPolicy(credential, cloud.scope),
                        policies.HttpLoggingPolicy(),
                        *httptrace.policies(),
                    ],
                    transport=self._transport(),
                )
            return self._registry_client

    @property
    def registry_discovery_url(self) -> str:
        """Where registries are discovered: the variable azure-ai-ml reads, else the host azure-ai-ml
        uses for the cloud (public, US Government, China); AzureError RegistryUnknown for another cloud."""
        url = self._env.get("REGISTRY_DISCOVERY_ENDPOINT_URL") or REGISTRY_DISCOVERY_BY_ARM.get(self.cloud.arm.rstrip("/").lower())
        if not url:
            raise AzureError(f"the model registry of the cloud at {self.cloud.arm} is not known", "RegistryUnknown")
        return url.rstrip("/") + "/"

    def _authz_client(self, subscription: str) -> Any:
        cloud, credential = self.cloud, self.credential
        with self._lock:
            if subscription not in self._authz:
                from azure.mgmt.authorization import AuthorizationManagementClient

                self._authz[subscription] = AuthorizationManagementClient(
                    credential, subscription, base_url=cloud.arm, credential_scopes=[cloud.scope], transport=self._transport(),
                    per_retry_policies=[_rate_limit_policy(self.limiter), *httptrace.policies()],
                )
            return self._authz[subscription]

    def _resource_client(self, subscription: str) -> Any:
        cloud, credential = self.cloud, self.credential
        with self._lock:
            if subscription not in self._resources:
                from azure.mgmt.resource.resources import ResourceManagementClient

                self._resources[subscription] = ResourceManagementClient(
                    credential, subscription, base_url=cloud.arm, credential_scopes=[cloud.scope], transport=self._transport(),
                    per_retry_policies=[_rate_limit_policy(self.limiter), *httptrace.policies()],
                )
            return self._resources[subscription]

    def _call(self, fn: Callable[[], Any], idempotent: bool = True, url: str = "") -> Any:
        """Run one SDK call; Azure failures leave as AzureError. The pipeline already retries what
        azure-core deems safe; an idempotent call (reads, listKeys, PUT, PATCH, DELETE: a repeat
        joins the running operation) is also retried when a POST's connection dropped, or the
        pipeline's own retries ran out on a transient answer."""
        caught = sdk_errors()
        for attempt in range(TRANSIENT_ATTEMPTS):
            try:
                return fn()
            except AzureError:
                raise
            except caught as exc:
                error = parse_azure_error(exc, url or self.cloud.arm)
                transient = error.code == "ConnectionFailed" or error.status in TRANSIENT_STATUSES
                if not (idempotent and transient) or attempt == TRANSIENT_ATTEMPTS - 1:
                    raise error from None
                log.debug("transient %s; attempt %d of %d", error.code, attempt + 2, TRANSIENT_ATTEMPTS)
                time.sleep(min(0.25 * 2**attempt, 4.0))

    def _send(self, method: str, path: str, body: Any = None, api_version: str = MLS_API, missing_ok: bool = True, idempotent: bool = True) -> Any:
        """One ARM request; JSON body or None; 404 -> None (unless not `missing_ok`); other failures -> AzureError."""
        return self._request(self._arm_client(), method, f"{self.cloud.arm}{path}?api-version={api_version}", body, missing_ok, idempotent=idempotent)

    def _request(self, client: Any, method: str, url: str, body: Any = None, missing_ok: bool = True, named: str = "", idempotent: bool = True) -> Any:
        """One request through `client`'s pipeline: its JSON object or None; 404 -> None (unless not
        `missing_ok`); other failures -> AzureError (a connection failure names `named`, else ARM)."""
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)

        def run() -> Any:
            response = client.send_request(request)
            if response.status_code == 404 and missing_ok:
                return None
            response.raise_for_status()
            return arm_body(response, url)

        return self._call(run, idempotent, url=named)

    def _list(self, path: str, api_version: str = MLS_API) -> Iterator[dict[str, Any]]:
        """Every item of a collection. A 404 is an error (the collection's parent is missing, or a
        proxy or gateway answered): an empty list is only ever what Azure listed."""
        page: Optional[dict[str, Any]] = self._send("GET", path, api_version=api_version, missing_ok=False)
        while page:
            yield from page.get("value") or []
            next_link = page.get("nextLink")
            if not next_link:
                break
            from azure.core.rest import HttpRequest

            client = self._arm_client()
            page = self._call(lambda: _json_or_raise(client.send_request(HttpRequest("GET", next_link)), next_link))

    def _long_running(self, method: str, path: str, body: Any = None, final: str = "original-uri", idempotent: bool = True,
                      api_version: str = MLS_API) -> Any:
        """A PUT/PATCH/DELETE/POST that Azure may run as an operation: the initial request, then the
        ARM polling of azure-mgmt-core (Azure-AsyncOperation, then Location), sleeping exactly what
        Retry-After / retry-after-ms say, then the final GET. Returns the final body (None for DELETE)."""
        from azure.core.polling import LROPoller
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.polling.arm_polling import ARMPolling

        client = self._arm_client()
        url = f"{self.cloud.arm}{path}?api-version={api_version}"
        request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)

        def run() -> Any:
            initial = client._pipeline.run(request, stream=False)  # the pipeline response LROPoller needs
            status = initial.http_response.status_code
            if status == 404 and method == "DELETE":
                return None
            if status == 204 or (status == 200 and method == "DELETE"):
                return None
            if status == 409:
                raise refused(initial.http_response, url)
            if status not in (200, 201, 202):
                initial.http_response.raise_for_status()
                raise AzureError(f"Azure answered HTTP {status} to {method}", f"Http{status}", "", status)

            def deserialize(pipeline_response: Any) -> Any:
                return arm_body(pipeline_response.http_response, url)

            poller = LROPoller(client, initial, deserialize, ARMPolling(timeout=1, lro_options={"final-state-via": final}))
            return poller.result()

        return self._call(run, idempotent)

    def prepare(self) -> None:
        """Import the SDKs and build the ARM client now (while a token request is in flight)."""
        self._arm_client()
        import azure.mgmt.authorization  # noqa: F401
        import azure.mgmt.resource.resources  # noqa: F401

    # --- identity ---------------------------------------------------------------------------
    def identity(self) -> Identity:
        """Who the credential is, from the claims of a Resource Manager token (no extra request).
        A credential that fails is told apart: the sign-in service cannot be reached (network or
        proxy), Entra ID refused it (its AADSTS code), or there is none."""
        scope = self.cloud.scope
        try:
            token = self._call(lambda: self.credential.get_token(scope), url=f"https://{self.cloud.authority}/").token
        except AzureError as exc:
            if exc.code != "ConnectionFailed":
                blocked = self._unreachable(f"https://{self.cloud.authority}/")
                if blocked is not None:
                    raise blocked from None
            raise
        claims = _token_claims(token)
        oid = str(claims.get("oid") or "")
        if not oid:
            raise AzureError("the token has no object id (oid) claim; use a credential of a Microsoft Entra ID principal", "TokenWithoutObjectId")
        if claims.get("idtyp") == "user" or claims.get("upn") or claims.get("unique_name"):
            kind, name = "user", str(claims.get("upn") or claims.get("unique_name") or oid)
        elif claims.get("xms_mirid"):  # Entra ID's mark of a managed identity
            kind, name = "managed identity", str(claims.get("appid") or oid)
        else:
            kind, name = "service principal", str(claims.get("appid") or claims.get("azp") or oid)
        return Identity(object_id=oid, tenant_id=str(claims.get("tid") or ""), kind=kind, name=name)

    def _unreachable(self, url: str) -> Optional[AzureError]:
        """Whether `url` answers at all (any HTTP status will do) through this environment's proxy."""
        try:
            self._http().get(url, timeout=10)
        except sdk_errors() as exc:
            return unreachable(url, exc)
        return None

    # --- the model registry (azure-ai-ml's path: discovery, then the registry's model API) ----
    def _registry_get(self, url: str) -> Optional[dict[str, Any]]:
        """One registry GET; 404 -> None; other failures -> AzureError."""
        found: Optional[dict[str, Any]] = self._request(self._registry_http(), "GET", url, named=url)
        return found

    def _registry_models_url(self, registry: str) -> Optional[str]:
        """The registry's models collection, from its discovery (read once per run); None if no such registry."""
        key = registry.lower()
        with self._lock:
            lock = self._registry_locks.setdefault(key, threading.Lock())
        with lock:  # concurrent reads of one registry share one discovery
            return self._discover(registry, key)

    def _discover(self, registry: str, key: str) -> Optional[str]:
        with self._lock:
            known = self._registries.get(key)
        if known is not None:
            return known or None
        url = f"{self.registry_discovery_url}registrymanagement/v1.0/registries/{quote(registry)}/discovery?api-version=v1.0"
        found = self._registry_get(url)
        models = ""
        if found is not None:
            base = str(found.get("primaryRegionResourceProviderUri") or "").rstrip("/")
            sub, rg = found.get("subscriptionId"), found.get("resourceGroup")
            if not (base.startswith("https://") and sub and rg):
                raise AzureError(f"the registry discovery of {registry} gave no usable address ({url})", "UnexpectedResponse")
            models = (f"{base}/mferp/managementfrontend/subscriptions/{quote(str(sub))}/resourceGroups/{quote(str(rg))}"
                      f"/providers/{MLS}/registries/{quote(str(found.get('registryName') or registry))}/models")
        with self._lock:
            self._registries[key] = models
        return models or None

    def registry_model(self, registry: str, name: str) -> Optional[RegistryModel]:
        """The model's latest version as the registry has it (as azure-ai-ml's models.get(label="latest")
        reads it); None when the registry has no such model."""
        models = self._registry_models_url(registry)
        if models is None:
            return None
        found = self._registry_get(f"{models}/{quote(name)}/versions?api-version={REGISTRY_API}&$orderBy=createdtime%20desc&$top=1")
        versions = (found or {}).get("value") or []
        if not versions:
            return None
        latest = versions[0]
        props = latest.get("properties") or {}
        spelled = str(latest.get("id") or "").split("/models/", 1)[-1].split("/versions/", 1)[0] or name
        return RegistryModel(registry, spelled, str(latest.get("name") or ""), lifecycle_from_tags(props.get("tags") or {}))

    def registry_model_names(self, registry: str) -> list[str]:
        """Every model name in the registry, archived ones included (for did-you-mean)."""
        models = self._registry_models_url(registry)
        if models is None:
            return []
        names: list[str] = []
        url: Optional[str] = f"{models}?api-version={REGISTRY_API}&listViewType=All"
        while url:
            page = self._registry_get(url)
            if page is None:
                raise AzureError(f"the model list of registry {registry} answered 404 ({url})", "UnexpectedResponse", status=404)
            names += [str(m.get("name")) for m in page.get("value") or [] if m.get("name")]
            url = page.get("nextLink") or None
        return names

    # --- workspaces -------------------------------------------------------------------------
    def get_workspace(self, workspace_id: str) -> Optional[Workspace]:
        data = self._send("GET", workspace_id)
        return Workspace.from_arm(data) if data else None

    # --- Marketplace subscriptions ----------------------------------------------------------
    def list_marketplace_subscriptions(self, project: str) -> list[MarketplaceSubscription]:
        return [MarketplaceSubscription.from_arm(d) for d in self._list(f"{project}/marketplaceSubscriptions")]

    def create_marketplace_subscription(self, project: str, name: str, model_id: str) -> str:
        """Subscribe; returns the subscription's provisioningState once its operation has ended."""
        data = self._long_running("PUT", f"{project}/marketplaceSubscriptions/{quote(name)}", {"properties": {"modelId": model_id}}) or {}
        return str((data.get("properties") or {}).get("provisioningState") or "Unknown")

    def delete_marketplace_subscription(self, project: str, name: str) -> None:
        self._long_running("DELETE", f"{project}/marketplaceSubscriptions/{quote(name)}", final="location")

    # --- serverless endpoints ---------------------------------------------------------------
    def list_endpoints(self, project: str) -> list[Endpoint]:
        return [Endpoint.from_arm(d) for d in self._list(f"{project}/serverlessEndpoints")]

    def get_endpoint(self, project: str, name: str) -> Optional[Endpoint]:
        data = self._send("GET", f"{project}/serverlessEndpoints/{quote(name)}")
        return Endpoint.from_arm(data) if data else None

    def put_endpoint(self, project: str, name: str, model_id: str, location: str, tags: dict[str, str], content_safety: Optional[bool]) -> Endpoint:
        """Create, or update in place (tags, content safety); also re-joins a running operation."""
        properties: dict[str, Any] = {"modelSettings": {"modelId": model_id}, "authMode": "Key"}
        if content_safety is not None:
            properties["contentSafety"] = {"contentSafetyStatus": "Enabled" if content_safety else "Disabled"}
        body = {"location": location, "sku": {"name": "Consumption"}, "tags": tags, "properties": properties}
        return Endpoint.from_arm(self._long_running("PUT", f"{project}/serverlessEndpoints/{quote(name)}", body))

    def patch_endpoint_tags(self, project: str, name: str, tags: dict[str, str]) -> None:
        self._long_running("PATCH", f"{project}/serverlessEndpoints/{quote(name)}", {"tags": tags}, final="location")

    def delete_endpoint(self, project: str, name: str) -> None:
        self._long_running("DELETE", f"{project}/serverlessEndpoints/{quote(name)}", final="location")

    def list_keys(self, project: str, name: str) -> Keys:
        data = self._send("POST", f"{project}/serverlessEndpoints/{quote(name)}/listKeys") or {}
        return Keys(Secret(str(data.get("primaryKey") or "")), Secret(str(data.get("secondaryKey") or "")))

    def regenerate_key(self, project: str, name: str, which: str) -> Keys:
        """The ARM regenerateKeys operation (azure-ai-ml 1.35's begin_regenerate_keys is broken)."""
        data = self._long_running("POST", f"{project}/serverlessEndpoints/{quote(name)}/regenerateKeys", {"keyType": which.capitalize()}, final="location", idempotent=False) or {}
        return Keys(Secret(str(data.get("primaryKey") or "")), Secret(str(data.get("secondaryKey") or "")))

    # --- Foundry resources (Microsoft.CognitiveServices/accounts) and their model deployments --
    def get_account(self, account: str) -> Optional[FoundryAccount]:
        data = self._send("GET", account, api_version=COGNITIVE_API)
        return FoundryAccount.from_arm(data) if data else None

    def list_account_models(self, account: str) -> list[AccountModel]:
        """The account's model list (every version, with the SKUs its region offers), all pages."""
        return [AccountModel.from_arm(d) for d in self._list(f"{account}/models", api_version=COGNITIVE_API)]

    def list_foundry_deployments(self, account: str) -> list[FoundryDeployment]:
        return [FoundryDeployment.from_arm(d) for d in self._list(f"{account}/deployments", api_version=COGNITIVE_API)]

    def get_foundry_deployment(self, account: str, name: str) -> Optional[FoundryDeployment]:
        data = self._send("GET", f"{account}/deployments/{quote(name)}", api_version=COGNITIVE_API)
        return FoundryDeployment.from_arm(data) if data else None

    def put_foundry_deployment(self, account: str, name: str, model_name: str, version: Optional[str], sku: str, capacity: Optional[int],
                               content_filter: Optional[str], tags: dict[str, str]) -> FoundryDeployment:
        """PUT (201/200 + Azure-AsyncOperation), then the operation polled to its end: a failure Azure
        reports only there (MarketplaceSubscriptionCannotBeCompleted) raises with its code and message."""
        path = f"{account}/deployments/{quote(name)}"
        body = foundry_body(model_name, version, sku, capacity, content_filter, tags)
        data = self._one_at_a_time(lambda: self._long_running("PUT", path, body, api_version=COGNITIVE_API))
        made = FoundryDeployment.from_arm(data) if data else self.get_foundry_deployment(account, name)
        if made is None or made.provisioning_state.lower() in ("failed", "canceled"):
            state = made.provisioning_state if made else "gone"
            raise AzureError(f"the deployment {name} ended {state} after its operation succeeded", "DeploymentFailed")
        return made

    def delete_foundry_deployment(self, account: str, name: str) -> None:
        """DELETE (200/204, or 202 + Azure-AsyncOperation polled to its end); a 404 is done."""
        path = f"{account}/deployments/{quote(name)}"
        self._one_at_a_time(lambda: self._long_running("DELETE", path, final="location", api_version=COGNITIVE_API))

    def _one_at_a_time(self, write: Callable[[], Any]) -> Any:
        """Run a write on a Foundry account, again while Azure answers RequestConflict (another write
        runs on the account): after its Retry-After, else a short backoff; the last refusal raises."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                return write()
            except Busy as busy:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                delay = busy.retry_after if busy.retry_after is not None else min(CONFLICT_BACKOFF * 2**attempt, CONFLICT_BACKOFF_MAX)
                log.debug("RequestConflict; attempt %d of %d in %.1f s", attempt + 2, CONFLICT_ATTEMPTS, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def account_keys(self, account: str) -> Keys:
        return keys_of(self._send("POST", f"{account}/listKeys", api_version=COGNITIVE_API, missing_ok=False))

    def regenerate_account_key(self, account: str, which: str) -> Keys:
        """Renew key1 ("primary") or key2 ("secondary"); both keys after it. Not repeated after a
        dropped connection (a repeat would renew the key twice)."""
        if which not in ACCOUNT_KEYS:
            raise ValueError(f"which must be one of {', '.join(ACCOUNT_KEYS)}, not {which!r}")
        data = self._send("POST", f"{account}/regenerateKey", {"keyName": ACCOUNT_KEYS[which]}, api_version=COGNITIVE_API,
                          missing_ok=False, idempotent=False)
        return keys_of(data)

    def account_permissions(self, subscription: str, resource_group: str, account: str) -> list[Permission]:
        """The caller's effective permissions on the account (`account`: its name, or its ARM id)."""
        return self._permissions(subscription, resource_group, COGNITIVE, "accounts", account.rstrip("/").rsplit("/", 1)[-1])

    # --- authorization ----------------------------------------------------------------------
    def role_assignments(self, subscription: str, scope: str, object_id: str) -> list[RoleAssignment]:
        """Assignments to the principal or its groups at, above or below `scope` (assignedTo)."""
        client = self._authz_client(subscription)

        def run() -> list[RoleAssignment]:
            found = []
            for a in client.role_assignments.list_for_scope(scope, filter=f"assignedTo('{object_id}')"):
                found.append(RoleAssignment(a.id, a.scope, a.role_definition_id, a.principal_id, str(a.principal_type or "")))
            return found

        found: list[RoleAssignment] = self._call(run)
        return found

    def role_definition(self, subscription: str, role_name: str) -> Optional[RoleDefinition]:
        """The role named `role_name` (its GUID and control-plane permissions); None if there is none."""
        client = self._authz_client(subscription)
        safe = role_name.replace("'", "''")
        found = self._call(lambda: list(client.role_definitions.list(f"/subscriptions/{subscription}", filter=f"roleName eq '{safe}'")))
        return _role_definition(found[0]) if found else None

    def role_definition_by_id(self, subscription: str, role_definition_id: str) -> RoleDefinition:
        """A role definition by its full id (what a role assignment names)."""
        client = self._authz_client(subscription)
        return _role_definition(self._call(lambda: client.role_definitions.get_by_id(role_definition_id)))

    def role_names(self, subscription: str, role_definition_ids: list[str]) -> dict[str, str]:
        """Role definition id -> role name (one read per role)."""
        return {rid: self.role_definition_by_id(subscription, rid).name for rid in sorted(set(role_definition_ids))}

    def permissions(self, subscription: str, resource_group: str, project: str) -> list[Permission]:
        """The caller's effective permissions on the project (inherited ones included)."""
        return self._permissions(subscription, resource_group, MLS, "workspaces", project)

    def _permissions(self, subscription: str, resource_group: str, namespace: str, resource_type: str, name: str) -> list[Permission]:
        client = self._authz_client(subscription)

        def run() -> list[Permission]:
            blocks = client.permissions.list_for_resource(resource_group, namespace, "", resource_type, name)
            return [Permission(tuple(b.actions or ()), tuple(b.not_actions or ())) for b in blocks]

        permissions: list[Permission] = self._call(run)
        return permissions

    # --- resource providers -----------------------------------------------------------------
    def provider_state(self, subscription: str, namespace: str) -> str:
        client = self._resource_client(subscription)
        return str(self._call(lambda: client.providers.get(namespace)).registration_state or "Unknown")

    def register_provider(self, subscription: str, namespace: str) -> str:
        client = self._resource_client(subscription)
        return str(self._call(lambda: client.providers.register(namespace)).registration_state or "Unknown")

    def list_saas_resources(self, subscription: str, resource_group: str) -> list[SaasResource]:
        """The Marketplace's SaaS resources in a resource group (where the billing is), with their offer and status."""
        client = self._resource_client(subscription)
        found = self._call(lambda: list(client.resources.list_by_resource_group(resource_group, filter="resourceType eq 'Microsoft.SaaS/resources'")))

        def detail(resource_id: str) -> SaasResource:
            r = self._call(lambda: client.resources.get_by_id(resource_id, api_version=SAAS_API))
            props = r.properties or {}
            return SaasResource(r.id, r.name, str(props.get("offerId") or ""), str(props.get("saasSubscriptionStatus") or "Unknown"))

        return [detail(r.id) for r in found]

    def list_subscriptions(self) -> list[str]:
        """The ids of every subscription the caller can read."""
        return [str(d.get("subscriptionId") or d["id"].rsplit("/", 1)[-1]) for d in self._list("/subscriptions", api_version=SUBSCRIPTIONS_API)]

    def subscription_display_name(self, subscription: str) -> Optional[str]:
        """The subscription's display name (None if Azure says there is no such subscription)."""
        data = self._send("GET", f"/subscriptions/{quote(subscription)}", api_version=SUBSCRIPTIONS_API)
        return str(data.get("displayName") or "") or None if data else None

    def list_subscription_workspaces(self, subscription: str) -> list[Workspace]:
        """Every workspace of the subscription the caller can read (hubs, projects and others)."""
        return [Workspace.from_arm(d) for d in self._list(f"/subscriptions/{subscription}/providers/{MLS}/workspaces")]

    def list_workspaces(self, subscription: str, resource_group: str) -> list[Workspace]:
        return [Workspace.from_arm(d) for d in self._list(f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{MLS}/workspaces")]

    # --- the deployment's own inference endpoint --------------------------------------------
    def chat(self, url: str, key: Secret, timeout: float = 30, model: Optional[str] = None) -> ChatResult:
        """One short chat completion (the Azure AI model inference API), authenticated with the key
        (as `Authorization: Bearer` and `api-key`: serverless endpoints read the first, Foundry
        resources either). `model` names the deployment on a Foundry resource's `/models` endpoint,
        which serves every deployment of the account. Never raises for an HTTP answer: the result
        says what happened, without the key."""
        import requests

        started = time.perf_counter()
        body: dict[str, Any] = {"messages": [{"role": "user", "content": "Reply with one word: ready?"}], "max_tokens": 8}
        if model is not None:
            body["model"] = model
        headers = {"Authorization": f"Bearer {key.reveal()}", "api-key": key.reveal(), "Content-Type": "application/json"}
        try:
            response = self._http().post(f"{url.rstrip('/')}/chat/completions", json=body, timeout=timeout, headers=headers)
        except requests.RequestException as exc:
            return ChatResult(False, 0, (time.perf_counter() - started) * 1000, "", "", hide(f"could not reach {url}: {type(exc).__name__}", key))
        return chat_result(response, (time.perf_counter() - started) * 1000, key)


def hide(text: str, key: Secret) -> str:
    """`text` with the key (if it is in it) masked."""
    return text.replace(key.reveal(), "****") if key.reveal() else text


def chat_result(response: Any, elapsed: float, key: Secret) -> ChatResult:
    """An inference answer as a ChatResult; an error's text is one line without the key."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.status_code != 200:
        error = data.get("error")
        message = (error.get("message") if isinstance(error, dict) else None) or response.reason or ""
        code = (error.get("code") if isinstance(error, dict) else None) or ""
        text = " ".join(f"HTTP {response.status_code} {code}: {message}".split())
        return ChatResult(False, response.status_code, elapsed, "", "", hide(text, key))
    choice = (data.get("choices") or [{}])[0]
    return ChatResult(True, 200, elapsed, str(data.get("model") or ""), str(choice.get("finish_reason") or ""), "")


def _role_definition(definition: Any) -> RoleDefinition:
    blocks = tuple(Permission(tuple(p.actions or ()), tuple(p.not_actions or ())) for p in definition.permissions or ())
    return RoleDefinition(str(definition.name).lower(), str(definition.role_name or definition.name), blocks)


def _rate_limit_policy(limiter: ArmRateLimiter) -> Any:
    """A pipeline policy (one per pipeline: policies are chained) that meters every ARM attempt."""
    from azure.core.pipeline.policies import HTTPPolicy

    class ArmRateLimitPolicy(HTTPPolicy):  # type: ignore[type-arg]
        def send(self, request: Any) -> Any:
            http = request.http_request
            limiter.before(http.method, http.url)
            response = self.next.send(request)
            limiter.after(http.method, http.url, response.http_response.status_code, response.http_response.headers)
            return response

    return ArmRateLimitPolicy()


def _json_or_raise(response: Any, url: str) -> Any:
    response.raise_for_status()
    return arm_body(response, url)


def arm_body(response: Any, url: str) -> Any:
    """A successful answer's JSON object (None when empty). Anything else did not come from Azure:
    HTML from a TLS-inspecting proxy or a captive portal is an AzureError that says so, not a bug."""
    if not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise unexpected_response(url, response.status_code, response.headers.get("Content-Type"))
    return body


def unexpected_response(url: str, status: int, content_type: Optional[str]) -> AzureError:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or url
    what = f"{content_type.split(';')[0].strip()}, not a JSON object" if content_type else "not a JSON object"
    return AzureError(f"{host} answered HTTP {status} with {what}: something other than Azure answered", "UnexpectedResponse", "", status)
