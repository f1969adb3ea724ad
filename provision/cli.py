"""The click commands. Thin: each command calls one library function; every error becomes a
one-line message with its exit code here, in `main`, and a traceback only with --debug.

Azure SDKs are never imported at module level (cold start of --help and validate).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Optional

import click

from .errors import EXIT_USAGE, ProvisionError, SpecError


@dataclass
class Options:
    file: str
    output: str
    debug: bool


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "file", default="deployments.yaml", show_default=True, help="The deployments spec.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output for people or for machines.")
@click.option("--debug", is_flag=True, help="Show tracebacks (never keys).")
@click.pass_context
def cli(ctx: click.Context, file: str, output: str, debug: bool) -> None:
    """Provision Mistral models as Azure AI serverless API deployments from a YAML spec."""
    ctx.obj = Options(file, output, debug)


@cli.command()
@click.pass_obj
def validate(opts: Options) -> None:
    """Check the spec without calling Azure: every problem at once, with file:line."""
    from .spec import load_spec

    spec = load_spec(opts.file)
    if opts.output == "json":
        click.echo(json.dumps({"valid": True, "file": opts.file, "deployments": [d.name for d in spec.deployments]}, indent=2))
    else:
        names = ", ".join(d.name for d in spec.deployments)
        click.echo(f"{opts.file}: valid ({len(spec.deployments)} deployment{'s' if len(spec.deployments) != 1 else ''}: {names})")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec, for editors."""
    from .spec import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def main(argv: Optional[list[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    options: dict[str, Any] = {}
    try:
        with cli.make_context("provision", list(args)) as ctx:
            options = ctx.params  # the group's own --output/--debug, as click parsed them
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except SpecError as exc:
        if options.get("debug"):
            raise
        if options.get("output") == "json":
            click.echo(json.dumps({"valid": False, "problems": [p.as_dict() for p in exc.problems]}, indent=2))
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(exc.exit_code)
    except ProvisionError as exc:
        if options.get("debug"):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
