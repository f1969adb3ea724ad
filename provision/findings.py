"""What a check found: the kinds of check, and a finding with its remedy. Shared by the
pre-flight checks (checks.py, modelchecks.py), destroy and audit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import REMEDIES, AzureError, explain
from .names import TextEnum


class Check(TextEnum):
    """The kinds of check, in the order reports list them."""

    IDENTITY = "identity"
    PROJECT = "project"
    ACCOUNT = "account"  # the Foundry resource a deployment of target foundry lives on
    REGION = "region"
    MODEL = "model"
    OFFER = "offer"
    NAME = "name"
    ROLE = "role"
    PERMISSIONS = "permissions"
    PROVIDERS = "providers"
    CONFLICT = "conflict"
    SECRETS = "secrets"
    OWNERSHIP = "ownership"


@dataclass(frozen=True)
class Finding:
    check: Check
    subject: str  # the deployment, subscription or "caller" it is about
    ok: bool
    message: str
    remedy: str = ""
    unread: bool = False  # failed because something could not be read, not because of what was read
    warning: bool = False  # passed, with something the user should know (a legacy model, a partial look)

    def as_dict(self) -> dict[str, object]:
        return {"check": self.check, "subject": self.subject, "ok": self.ok, "warning": self.warning, "message": self.message, "remedy": self.remedy or None}


def _unread(failure: Optional[AzureError]) -> str:
    return explain(failure, with_remedy=False) if failure is not None else "unknown"


READ_REMEDY_CODES = ("ConnectionFailed", "CredentialRejected", "CredentialUnavailable", "UnexpectedResponse")  # the read's own fix beats the check's


def _cannot_read(check: Check, subject: str, message: str, failure: Optional[AzureError], remedy: str) -> Finding:
    """A check that could not be made: the fix is the read's (network, credential) when Azure's
    error code has one, else `remedy`."""
    fix = REMEDIES.get(failure.code, remedy) if failure is not None and failure.code in READ_REMEDY_CODES else remedy
    return Finding(check, subject, False, f"{message} ({_unread(failure)})", fix, unread=True)


