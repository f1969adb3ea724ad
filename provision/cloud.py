"""Which Azure cloud: public by default, or the one ARM_CLOUD_METADATA_URL describes (sovereign
and custom clouds, the emulator's custom-cloud mode). Pure: the HTTP session is passed in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AzureError

PUBLIC_ARM = "https://management.azure.com"
PUBLIC_AUTHORITY = "login.microsoftonline.com"


@dataclass(frozen=True)
class Cloud:
    name: str
    arm: str  # Resource Manager base URL, no trailing slash
    authority: str  # login host
    audience: str  # token scope without /.default

    @property
    def scope(self) -> str:
        return self.audience.rstrip("/") + "/.default"


PUBLIC_CLOUD = Cloud("AzureCloud", PUBLIC_ARM, PUBLIC_AUTHORITY, PUBLIC_ARM + "/")


def cloud_from_metadata(url: str, session: Any) -> Cloud:
    """ARM_CLOUD_METADATA_URL: the list (2019-05-01) or object (2022-09-01) form; the cloud whose
    resourceManager is part of the URL wins, as in azure-ai-ml and az."""
    try:
        response = session.get(url, timeout=30)
        response.raise_for_status()
        data = response.json()
    except Exception as exc:  # any failure to read it is a configuration error
        raise AzureError(f"ARM_CLOUD_METADATA_URL {url} could not be read ({type(exc).__name__}); fix the URL or unset it for public Azure", "CloudMetadataUnavailable") from None
    clouds = data if isinstance(data, list) else [data]
    chosen = next((c for c in clouds if str(c.get("resourceManager", "")).rstrip("/") in url), clouds[0] if clouds else None)
    if not chosen or not chosen.get("resourceManager"):
        raise AzureError(f"ARM_CLOUD_METADATA_URL {url} names no cloud with a resourceManager endpoint", "CloudMetadataInvalid")
    arm = str(chosen["resourceManager"]).rstrip("/")
    auth = chosen.get("authentication") or {}
    login = str(auth.get("loginEndpoint") or "https://" + PUBLIC_AUTHORITY)
    audiences = auth.get("audiences") or [arm + "/"]
    authority = login.split("://", 1)[-1].rstrip("/")
    return Cloud(str(chosen.get("name") or "custom"), arm, authority, str(audiences[0]))
