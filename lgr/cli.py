"""The root `lgr` command: registers every command and holds the one error boundary.

Each module under lgr/commands exports either ``app`` (a typer.Typer, for a group such as
``lgr agent start``) or ``command`` (a function, for a single command such as ``lgr tail``);
this module only registers them. Command modules keep heavy imports (grpc, textual) inside
their functions so ``lgr --help`` stays fast; tests/test_cli.py checks that.
"""

from __future__ import annotations

import sys
import traceback

import typer

from lgr import __version__
from lgr.commands import (
    agent,
    cache,
    certs,
    completion,
    dashboard,
    emit,
    gateway,
    man,
    meta,
    rlp,
    router,
    tail,
    tc,
    token,
    up,
)
from lgr.console import debug_enabled, error
from lgr.core.errors import ExitCode, LgrError

app = typer.Typer(
    name="lgr",
    no_args_is_help=True,
    add_completion=False,  # `lgr completion SHELL` replaces --install/--show-completion
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

COMPONENTS = "Components"
CLIENTS = "Clients"
SETUP = "Setup"


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


# typer lists single commands before groups within a panel, whatever the order here.
app.add_typer(agent.app, name="agent", rich_help_panel=COMPONENTS)
app.add_typer(router.app, name="router", rich_help_panel=COMPONENTS)
app.add_typer(rlp.app, name="rlp", rich_help_panel=COMPONENTS)
app.add_typer(gateway.app, name="gateway", rich_help_panel=COMPONENTS)
app.add_typer(tc.app, name="tc", rich_help_panel=COMPONENTS)
app.add_typer(cache.app, name="cache", rich_help_panel=COMPONENTS)
app.command("up", rich_help_panel=COMPONENTS)(up.command)
app.command("tail", rich_help_panel=CLIENTS)(tail.command)
app.command("meta", rich_help_panel=CLIENTS)(meta.command)
app.command("dashboard", rich_help_panel=CLIENTS)(dashboard.command)
app.add_typer(emit.app, name="emit", rich_help_panel=CLIENTS)
app.add_typer(certs.app, name="certs", rich_help_panel=SETUP)
app.add_typer(token.app, name="token", rich_help_panel=SETUP)
app.command("completion", rich_help_panel=SETUP)(completion.command)
app.command("man", rich_help_panel=SETUP)(man.command)

completion.enable_shell_completion()


def _no_type_for_flags() -> None:
    # typer 0.29 labels every flag `<bool>` in --help, --help itself included, as if it took a
    # value; a flag takes none, so its value column stays empty (click's own help does the same).
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "lgr_flags_untyped", False):
        return

    def display_type_rich(self: TyperOption, ctx):  # noqa: ANN001, ANN202
        return None if self.is_flag else shown(self, ctx)

    display_type_rich.lgr_flags_untyped = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_type_for_flags()


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
