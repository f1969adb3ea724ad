"""`azure-emulator serve`, `azure-emulator env` and `azure-emulator run`."""
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
DISTRIBUTION = "mistral-azure-provision"  # the distribution that ships azure-emulator (and provision)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(DISTRIBUTION)
    except PackageNotFoundError:
        installed = "unknown"
    click.echo(f"azure-emulator {installed} ({DISTRIBUTION})")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help="Show the version and exit.")
def main() -> None:
    """The local Azure emulator: ARM, Entra ID, Marketplace and the serverless inference
    endpoints, for the real Azure SDKs and az, on 127.0.0.1."""


def _require_valid_world(world_file: Optional[str]) -> None:
    """An invalid world file: every problem on its own line, exit 2, before anything starts."""
    try:
        load_world(path=world_file)
    except WorldError as err:
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)


@main.command()
@click.option("--world", "world_file", type=click.Path(dir_okay=False), help="World file (YAML). Default: the built-in world.")
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None, help=f"Where to write the JSON ready file. Default: {DEFAULT_HOME}/ready.json")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None, help="Persist resources here, and resume from it.")
@click.option("--pace", type=click.Choice(sorted(PACES)), default="fast", show_default=True,
              help="How long-running operations progress: instant (the first poll ends them), fast (the second poll, 20 ms later), arm (the second poll, after Retry-After: 1 s).")
def serve(world_file: Optional[str], port: int, ready_file: Optional[str], state_file: Optional[str], pace: str) -> None:
    """Serve until interrupted; write the ready file once listening."""
    _require_valid_world(world_file)
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


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--world", "world_file", type=click.Path(dir_okay=False), help="World file (YAML). Default: the built-in world.")
@click.option("--pace", type=click.Choice(sorted(PACES)), default="fast", show_default=True, help="How long-running operations progress.")
@click.option("--fail-on-egress/--allow-egress", default=True, show_default=True, help="Fail when the command tried to reach a host that is not emulated.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(world_file: Optional[str], pace: str, fail_on_egress: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND against a fresh emulator, then stop it; exit with the command's code.

    The command sees only the emulator's environment (no Azure credentials, cloud settings,
    proxies or CA bundles of this shell), so a pipeline step can run in a pull request without
    secrets:

    azure-emulator run -- sh -c 'provision plan && provision apply --yes'

    The az CLI's own hosts (its version check and telemetry, azure_emulator.benign.BENIGN_HOSTS)
    are answered locally and do not count as egress.
    """
    import subprocess
    import tempfile

    from .api import scrubbed_environ
    from .benign import is_benign

    _require_valid_world(world_file)
    with tempfile.TemporaryDirectory(prefix="azure-emulator-") as directory, Emulator(world_file=world_file, pace=pace, directory=directory) as emu:
        # PROVISION_SECRETS_FILE: provision run inside writes its keys into this run's private
        # directory, so an emulator run never changes a secrets file written against Azure.
        env = {**scrubbed_environ(), **emu.env, "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
               "PROVISION_SECRETS_FILE": os.path.join(directory, "secrets", "deployments.env")}
        try:
            code = subprocess.call(list(command), env=env)
        except FileNotFoundError:
            click.echo(f"error: {command[0]}: command not found", err=True)
            sys.exit(127)
        egress = [a for a in emu.control.egress() if not is_benign(str(a.get("host", "")))]
    for attempt in egress:
        click.echo(f"azure-emulator: refused an outbound call to {attempt.get('host')} ({attempt.get('method', 'CONNECT')})", err=True)
    if code == 0 and egress and fail_on_egress:
        click.echo("error: the command tried to reach hosts the emulator does not emulate (above); fix the command, or pass --allow-egress", err=True)
        sys.exit(1)
    sys.exit(code)


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
