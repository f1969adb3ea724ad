"""`azure-emulator serve` and `azure-emulator env`."""
from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from typing import Optional

import click

from .api import Emulator
from .store import PACES
from .world import WorldError, load_world

DEFAULT_HOME = os.environ.get("AZURE_EMULATOR_HOME") or os.path.join(os.path.expanduser("~"), ".azure-emulator")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The local Azure emulator: ARM, Entra ID, Marketplace and the serverless inference
    endpoints, for the real Azure SDKs and az, on 127.0.0.1."""


@main.command()
@click.option("--world", "world_file", type=click.Path(dir_okay=False), help="World file (YAML). Default: the built-in world.")
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None, help=f"Where to write the JSON ready file. Default: {DEFAULT_HOME}/ready.json")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None, help="Persist resources here, and resume from it.")
@click.option("--pace", type=click.Choice(sorted(PACES)), default="fast", show_default=True,
              help="How long-running operations progress: instant (the first poll ends them), fast (the second poll, 20 ms later), arm (the second poll, after Retry-After: 1 s).")
def serve(world_file: Optional[str], port: int, ready_file: Optional[str], state_file: Optional[str], pace: str) -> None:
    """Serve until interrupted; write the ready file once listening."""
    try:
        load_world(path=world_file)
    except WorldError as err:
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    ready_file = ready_file or os.path.join(DEFAULT_HOME, "ready.json")
    directory = os.path.dirname(os.path.abspath(ready_file))
    os.makedirs(directory, exist_ok=True)
    emu = Emulator(world_file=world_file, pace=pace, state_file=state_file, directory=directory, port=port)
    try:
        emu.start()
    except OSError as err:
        click.echo(f"error: cannot listen on 127.0.0.1:{port}: {err.strerror}. Choose another --port, or 0 for a free one.", err=True)
        sys.exit(1)
    info = emu.ready_info()
    tmp = ready_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, ready_file)
    click.echo(f"azure-emulator listening on {emu.url} (ready file {ready_file})", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    emu.stop()
    try:
        os.remove(ready_file)
    except OSError:
        pass


@main.command()
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None, help=f"Ready file of the running emulator. Default: {DEFAULT_HOME}/ready.json")
def env(ready_file: Optional[str]) -> None:
    """Print the client environment of a running emulator as shell exports:

    eval "$(azure-emulator env)"
    """
    ready_file = ready_file or os.path.join(DEFAULT_HOME, "ready.json")
    try:
        with open(ready_file, encoding="utf-8") as fh:
            info = json.load(fh)
    except OSError:
        click.echo(f"error: {ready_file}: no running emulator found. Start one with `azure-emulator serve` (or pass --ready-file).", err=True)
        sys.exit(2)
    for key, value in sorted(info["env"].items()):
        click.echo(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
