"""The ARM metadata endpoint (/metadata/endpoints): a cloud whose every endpoint is this emulator."""
from __future__ import annotations

from .wire import Request, Response


def handle(req: Request, port: int) -> Response:
    """The cloud's metadata document (what az and azure-ai-ml read to find a cloud's endpoints)."""
    base = f"https://{req.host}" if req.host == "management.azure.com" else f"https://127.0.0.1:{port}"
    cloud = {
        "name": "AzureEmulator",
        "portal": "https://portal.azure-emulator.test",
        "resourceManager": base + "/",
        "authentication": {"loginEndpoint": base + "/", "audiences": [base + "/", base], "tenant": "common", "identityProvider": "AAD"},
        "media": "https://media.azure-emulator.test",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "microsoftGraphResourceId": base + "/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "gallery": "https://gallery.azure-emulator.test/",
        "batch": "https://batch.core.windows.net/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net", "acrLoginServer": "azurecr.io",
                     "sqlServerHostname": "database.windows.net", "storageSyncEndpointSuffix": "afs.azure.net"},
    }
    if req.api_version and req.api_version >= "2022-09-01":
        return Response(200, cloud)
    return Response(200, [cloud])
