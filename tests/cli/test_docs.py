"""Every command has help and is documented in the README, with its --output json shape."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from provision.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


COMMANDS = _commands(cli)


def test_every_command_is_listed():
    assert [name for name, _ in COMMANDS] == ["apply", "audit", "destroy", "keys rotate", "plan", "probe", "schema", "validate", "whoami"]


@pytest.mark.parametrize("name,command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_and_is_documented(name, command):
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert command.help and len(command.help.split()) >= 4
    assert re.search(rf"^\| `{re.escape(name)}[ `]", README, re.MULTILINE), f"README's command table lacks `{name}`"
    if name != "schema":
        assert re.search(rf"^\| `{re.escape(name)}` \|", README, re.MULTILINE), f"README's --output json table lacks `{name}`"
    for option in command.params:
        if isinstance(option, click.Option) and option.name not in ("debug", "output", "file", "parallel"):
            assert any(opt in README for opt in option.opts), f"README does not mention {option.opts} of `{name}`"
