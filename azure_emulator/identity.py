"""Entra ID: token endpoints (client secret, client assertion), OIDC discovery, managed identity.

Tokens are JWT-shaped (RS256 header, junk signature): no SDK verifies them, but az decodes
the payload for `tid`, and ARM here decodes it for the caller's object id.
"""
from __future__ import annotations

import base64
import json
import time
import urllib.parse
from typing import Any, Optional

from .store import State
from .wire import Request, Response, app_service_error, arm_error, msi_error, oauth_error
from .worldmodel import Principal

LOGIN_HOST = "login.microsoftonline.com"
TOKEN_LIFETIME = 3599


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def mint_token(state: State, principal: Principal, audience: str) -> tuple[str, int]:
    now = int(time.time())
    exp = now + TOKEN_LIFETIME
    tenant = state.world.tenant_id
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": exp,
        "oid": principal.object_id,
        "sub": principal.object_id,
        "tid": tenant,
        "appid": principal.client_id,
        "idtyp": "user" if principal.kind == "user" else "app",
        "ver": "1.0",
    }
    if principal.kind == "user":
        claims.update({"upn": principal.upn, "unique_name": principal.upn, "name": principal.name})
    elif principal.kind == "managed_identity":
        # Entra ID marks managed-identity tokens with the identity's ARM resource id.
        sub = next(iter(state.world.subscriptions))
        claims["xms_mirid"] = f"/subscriptions/{sub}/resourcegroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{principal.name}"
    header = {"alg": "RS256", "typ": "JWT", "kid": "azure-emulator"}
    return f"{_b64(header)}.{_b64(claims)}.ZW11bGF0b3Itc2lnbmF0dXJl", exp


def decode_claims(token: str) -> Optional[dict[str, Any]]:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


# The audiences ARM accepts; the registry hosts take ARM tokens too (azure-ai-ml asks for them).
ARM_AUDIENCES = frozenset({"https://management.azure.com", "https://management.azure.com/",
                           "https://management.core.windows.net", "https://management.core.windows.net/"})


def authenticate_arm(state: State, req: Request, audiences: Optional[frozenset[str]] = None) -> Principal:
    """The caller of an ARM request, or ARM's 401 (with `audiences`, also for a token made for another audience)."""
    auth = req.header("Authorization")
    if not auth:
        raise arm_error("AuthenticationFailed", why="The 'Authorization' header is missing.")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise arm_error("AuthenticationFailed", why="The 'Authorization' header is provided in an invalid format.")
    claims = decode_claims(token.strip())
    if claims is None:
        raise arm_error("InvalidAuthenticationToken", why="")
    if claims.get("exp", 0) < time.time():
        raise arm_error("ExpiredAuthenticationToken")
    if str(claims.get("tid", "")).lower() != state.world.tenant_id.lower():
        raise arm_error("InvalidAuthenticationTokenTenant", issuer=claims.get("iss"))
    if audiences is not None and str(claims.get("aud", "")) not in audiences:
        raise arm_error("InvalidAuthenticationTokenAudience", audience=claims.get("aud"), allowed=", ".join(sorted(audiences)))
    principal = state.world.principals.get(str(claims.get("oid", "")).lower())
    if principal is None:
        raise arm_error("InvalidAuthenticationToken", why=": unknown principal")
    return principal


# --- Entra ID endpoints --------------------------------------------------------------------

def openid_configuration(state: State, req: Request, tenant: str) -> Response:
    base = req.base_url()
    tid = state.world.tenant_id if tenant in ("common", "organizations") else tenant
    return Response(
        200,
        {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://login.microsoftonline.com/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid", "oid"],
            "kerberos_endpoint": f"{base}/{tenant}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        },
    )


def instance_discovery(req: Request) -> Response:
    host = req.host
    return Response(
        200,
        {
            "tenant_discovery_endpoint": f"{req.base_url()}/common/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        },
    )


def token(state: State, req: Request, tenant: str) -> Response:
    form = {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode("utf-8", "replace")).items()}
    world = state.world
    if tenant.lower() not in (world.tenant_id.lower(), world.tenant_domain.lower(), "common", "organizations", "adfs"):
        return oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'. The emulator supports client_credentials.")
    client_id = form.get("client_id", "")
    principal = world.principal_by_client_id(client_id) if client_id else None
    if principal is None or principal.kind == "user":
        return oauth_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{world.tenant_domain}'. This can happen if the "
            "application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
        )
    if "client_assertion" in form:
        assertion = decode_claims(form["client_assertion"]) or {}
        subject = str(assertion.get("sub", ""))
        if not principal.federated_subjects or (subject and subject not in principal.federated_subjects and "*" not in principal.federated_subjects):
            return oauth_error(
                400,
                "invalid_client",
                70021,
                f"No matching federated identity record found for presented assertion subject '{subject}'. Please check your "
                "federated identity credential Subject, Audience and Issuer against the presented assertion.",
            )
    elif form.get("client_secret") != principal.secret or not principal.secret:
        return oauth_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the "
            f"client secret ID, for a secret added to app '{principal.client_id}'.",
        )
    scope = form.get("scope", "")
    audience = scope.split()[0].removesuffix("/.default") if scope else "https://management.azure.com"
    access, _ = mint_token(state, principal, audience)
    return Response(200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME, "access_token": access})


def _managed_identity(state: State, req: Request) -> Optional[Principal]:
    wanted = req.query.get("client_id") or req.query.get("clientid") or req.query.get("object_id") or req.query.get("principal_id")
    for p in state.world.principals.values():
        if p.kind != "managed_identity":
            continue
        if not wanted or wanted.lower() in (p.client_id.lower(), p.object_id.lower()):
            return p
    return None


def app_service_msi(state: State, req: Request, identity_header: str) -> Response:
    """App Service / Functions managed identity (IDENTITY_ENDPOINT + IDENTITY_HEADER)."""
    if req.header("X-IDENTITY-HEADER") != identity_header:
        return app_service_error(400, "The request was rejected: bad X-IDENTITY-HEADER.")
    return _mi_token(state, req, with_expires_in=False)


def imds(state: State, req: Request) -> Response:
    if req.header("Metadata").lower() != "true":
        # azure-identity probes IMDS without the header and expects exactly this 400.
        return msi_error(400, "invalid_request", "Required metadata header not specified")
    return _mi_token(state, req, with_expires_in=True)


def _mi_token(state: State, req: Request, with_expires_in: bool) -> Response:
    principal = _managed_identity(state, req)
    if principal is None:
        return msi_error(400, "invalid_request", "Identity not found")
    resource = req.query.get("resource", "https://management.azure.com/")
    access, exp = mint_token(state, principal, resource.rstrip("/"))
    body: dict[str, Any] = {
        "access_token": access,
        "expires_on": str(exp),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": principal.client_id,
    }
    if with_expires_in:
        body["expires_in"] = str(TOKEN_LIFETIME)
        body["ext_expires_in"] = str(TOKEN_LIFETIME)
        body["not_before"] = str(exp - TOKEN_LIFETIME)
    return Response(200, body)


def handle(state: State, req: Request) -> Response:
    """login.microsoftonline.com: instance discovery, OpenID configuration, tokens."""
    parts = req.path.strip("/").split("/")
    if req.path.endswith("/discovery/instance"):
        return instance_discovery(req)
    if len(parts) >= 2 and parts[1] == "v2.0" and req.path.endswith("/.well-known/openid-configuration"):
        return openid_configuration(state, req, parts[0])
    if req.path.endswith("/oauth2/v2.0/token") or req.path.endswith("/oauth2/token"):
        if req.method != "POST":
            return msi_error(405, "invalid_request", "Use POST.")
        return token(state, req, parts[0])
    return msi_error(404, "not_found", f"azure-emulator: {req.path} is not emulated")

