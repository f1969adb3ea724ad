"""Test harness: one local Azure emulator per test worker, reset before every test.

Clients see only the emulator's printed environment; the machine's own CA bundle and any
developer AZURE_* variables are removed, so nothing can reach (or authenticate to) real Azure.
Every test fails if something tried to leave 127.0.0.1 (the emulator's egress log).
"""
from __future__ import annotations

import os

import pytest

from azure_emulator import Emulator
from azure_emulator.api import reaches_outside, scrubbed_environ

CI_VARIABLES = {"GITHUB_ACTIONS", "GITHUB_OUTPUT"}  # the tool behaves differently under GitHub Actions


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in scrubbed_environ().items() if k not in CI_VARIABLES}


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    with Emulator(directory=str(tmp_path_factory.mktemp("emulator"))) as emu:
        yield emu


@pytest.fixture
def emu(emulator, monkeypatch, request):
    """The emulator, reset, with this process's environment pointed at it."""
    emulator.control.reset()
    for key in list(os.environ):
        if reaches_outside(key) or key in CI_VARIABLES:
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
