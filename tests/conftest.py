"""Test harness: one local Azure emulator per test worker, reset before every test.

Clients see only the emulator's printed environment; the machine's own CA bundle and any
developer AZURE_* variables are removed, so nothing can reach (or authenticate to) real Azure.
Every test fails if something tried to leave 127.0.0.1 (the emulator's egress log).
"""
from __future__ import annotations

import os

import pytest

from azure_emulator import Emulator

SCRUB_PREFIXES = ("AZURE_", "ARM_", "AZUREML_", "IDENTITY_", "MSI_")
SCRUB = {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy",
         "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "GITHUB_ACTIONS", "GITHUB_OUTPUT"}


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith(SCRUB_PREFIXES)}


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    with Emulator(directory=str(tmp_path_factory.mktemp("emulator"))) as emu:
        yield emu


@pytest.fixture
def emu(emulator, monkeypatch, request):
    """The emulator, reset, with this process's environment pointed at it."""
    emulator.control.reset()
    for key in list(os.environ):
        if key in SCRUB or key.startswith(SCRUB_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    for key, value in emulator.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
    yield emulator
    if not request.node.get_closest_marker("egress"):
        attempts = emulator.control.egress()
        assert attempts == [], f"unexpected outbound calls: {attempts}"


def pytest_configure(config):
    config.addinivalue_line("markers", "egress: the test makes outbound attempts on purpose")
