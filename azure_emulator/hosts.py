"""The public host names the emulator answers for (a CONNECT to any other is egress, refused)."""
from __future__ import annotations

import re

from .benign import BENIGN_HOSTS

ARM = re.compile(r"^management\.azure\.com$")
LOGIN = re.compile(r"^login\.microsoftonline\.com$")
GRAPH = re.compile(r"^graph\.microsoft\.com$")
REGISTRY = re.compile(r"^(eastus\.api\.azureml\.ms|cert-[a-z0-9]+\.experiments\.azureml\.net)$")  # discovery, and each region's MFE
INFERENCE = re.compile(r"^[a-z0-9-]+\.[a-z0-9]+\.(models|inference)\.ai\.azure\.com$")  # serverless endpoints
FOUNDRY = re.compile(r"^[a-z0-9-]+\.(services\.ai|openai|cognitiveservices)\.azure\.com$")  # Foundry resources' custom subdomains
BENIGN = re.compile("^(" + "|".join(re.escape(h) for h in sorted(BENIGN_HOSTS)) + ")$")  # az's version check and telemetry
DIRECT = ("127.0.0.1", "localhost", "::1")  # the emulator's own address (custom-cloud mode, control API)
EMULATED = (ARM, LOGIN, GRAPH, REGISTRY, INFERENCE, FOUNDRY, BENIGN)


def emulated(host: str) -> bool:
    return any(pattern.match(host) for pattern in EMULATED)
