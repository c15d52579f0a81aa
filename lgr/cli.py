"""The root `lgr` command: registers every command group and holds the one error boundary."""

from __future__ import annotations

import sys
import traceback

import typer

from lgr import __version__
from lgr.commands import certs, completion
from lgr.console import debug_enabled, error
from lgr.core.errors import ExitCode, LgrError

app = typer.Typer(
    name="lgr",
    help="lgr: Cloud Foundry's Loggregator, re-implemented in Python and wire-compatible with it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lgr {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", "-V", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """lgr: Cloud Foundry's Loggregator, re-implemented in Python and wire-compatible with it.

    Set LGR_DEBUG=1 to see tracebacks.
    """


app.add_typer(certs.app, name="certs")
app.add_typer(completion.app, name="completion")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every LgrError to one red line and its named exit code."""
    try:
        app(args=argv, prog_name="lgr", standalone_mode=True)
    except LgrError as exc:
        if debug_enabled():
            traceback.print_exc()
        error(exc.message, exc.hint)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # the boundary: anything unexpected is a bug, shown briefly
        if debug_enabled():
            raise
        error(f"unexpected {type(exc).__name__}: {exc}", "run again with LGR_DEBUG=1 for a traceback")
        sys.exit(int(ExitCode.FAILURE))
