import pytest

from .helpers import Cli


@pytest.fixture
def cli(emu, tmp_path):
    return Cli(emu, tmp_path)
