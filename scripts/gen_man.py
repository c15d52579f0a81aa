#!/usr/bin/env python3
"""Generate man pages (lgr/man/man1/lgr.1 and lgr-<command>[-<sub>].1 beside it) from the CLI's command tree.

Usage: python scripts/gen_man.py [OUT_DIR]   (default: lgr/man/man1/, shipped in the package: `lgr man`)

Each page is roff written by walking the click commands typer builds from lgr.cli.app: name,
synopsis, description, arguments, every option with its help (as ``--help`` shows it, so an
``[env: AGENT_PORT]`` note in the help appears too), its env var when the option declares one,
and its default. lgr.1 also lists the commands, LGR_DEBUG and the named exit codes, read from
the comments on lgr.core.errors.ExitCode.

The output is deterministic: no date, only the package version, commands in --help order. A
default computed from the machine (a home directory, a CPU count) would make pages differ per
machine; give such options ``show_default="..."`` text instead. Stale lgr*.1 files in OUT_DIR are
removed. tests/test_generated_fresh.py fails when lgr/man/man1/ differs from what this writes.
"""

from __future__ import annotations

import enum
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "lgr" / "man" / "man1"
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from rich.errors import MarkupError  # noqa: E402
from rich.text import Text  # noqa: E402
from typer import _click  # noqa: E402
from typer.main import get_command  # noqa: E402

from lgr import __version__  # noqa: E402
from lgr.cli import app  # noqa: E402
from lgr.core import errors  # noqa: E402

PROG = "lgr"
EXIT_CODE_RE = re.compile(r"^\s+([A-Z_]+)\s*=\s*(\d+)\s*(?:#\s*(.*))?$", re.MULTILINE)


@dataclass(frozen=True)
class Page:
    """One command to document: its words after ``lgr``, the click command and its context."""

    path: tuple[str, ...]
    command: _click.Command
    ctx: _click.Context

    @property
    def name(self) -> str:
        return "-".join((PROG, *self.path))

    @property
    def invocation(self) -> str:
        return " ".join((PROG, *self.path))


def walk(command: _click.Command, ctx: _click.Context, path: tuple[str, ...] = ()) -> list[Page]:
    """Every visible command under ``command`` (itself first), in --help order."""
    pages = [Page(path, command, ctx)]
    for name in subcommand_names(command, ctx):
        sub = command.get_command(ctx, name)
        sub_ctx = _click.Context(sub, info_name=name, parent=ctx, **sub.context_settings)
        pages.extend(walk(sub, sub_ctx, (*path, name)))
    return pages


def subcommand_names(command: _click.Command, ctx: _click.Context) -> list[str]:
    """The visible subcommands of a group; none for a leaf command."""
    if not hasattr(command, "list_commands"):
        return []
    return [n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden]


def plain(text: str | None) -> str:
    """Help text as --help shows it: dedented, cut at \\f, Rich markup rendered to plain text."""
    text = inspect.cleandoc(text or "").partition("\f")[0].replace("\b", "")
    try:
        return Text.from_markup(text).plain.strip()
    except MarkupError:
        return text.strip()


def short_help(command: _click.Command) -> str:
    """The first paragraph of a command's help, on one line, without a trailing period."""
    first = plain(command.short_help or command.help).split("\n\n")[0]
    return " ".join(first.split()).rstrip(".")


def roff(text: str) -> str:
    """Escape text for roff: backslashes, and control characters at the start of a line."""
    text = text.replace("\\", "\\e")
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in text.split("\n"))


def roff_name(text: str) -> str:
    """Escape a command or option name, with real minus signs so it can be copied and pasted."""
    return roff(text).replace("-", "\\-")


def paragraphs(text: str) -> list[str]:
    """Roff lines for help text: paragraphs separated by .PP, lines left for roff to fill."""
    out: list[str] = []
    for i, para in enumerate(p.strip() for p in text.split("\n\n") if p.strip()):
        if i:
            out.append(".PP")
        out.append(roff(para))
    return out


def default_text(param: _click.Parameter) -> str | None:
    """The default to document, or None when there is nothing worth showing."""
    show = getattr(param, "show_default", None)
    if isinstance(show, str):
        return show
    if show is False:
        return None
    value = param.default
    if value is None or callable(value) or value in ("", (), []):
        return None
    if isinstance(value, bool):
        return None if getattr(param, "is_flag", False) or not value else "true"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v.value if isinstance(v, enum.Enum) else v) for v in value)
    return str(value)


def envvars(param: _click.Parameter) -> list[str]:
    """The env vars click reads for a parameter (declared with ``envvar=``)."""
    value = getattr(param, "envvar", None)
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def option_names(param: _click.Parameter) -> list[str]:
    """An option's names, long ones first.

    Sorting matters: click builds the help option's names from a set, so their order changes
    from one interpreter to the next with string hash randomisation.
    """
    def by_length(names: list[str]) -> list[str]:
        return sorted(names, key=lambda name: not name.startswith("--"))

    return [*by_length(list(param.opts)), *by_length(list(param.secondary_opts))]


def value_label(param: _click.Parameter, ctx: _click.Context) -> str | None:
    """The placeholder for an option's value as --help shows it (``<int>``); None for flags."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if getattr(param, "metavar", None):
        return param.metavar
    display = getattr(param, "display_type_rich", None)
    label = display(ctx) if display else None
    return label or (param.name or "VALUE").upper()


def param_lines(param: _click.Parameter, ctx: _click.Context, *, is_option: bool) -> list[str]:
    """A .TP entry for one option or argument: its names, help, env var, default, required."""
    if is_option:
        names = ", ".join(f"\\fB{roff_name(o)}\\fR" for o in option_names(param))
        label = value_label(param, ctx)
        head = f"{names} \\fI{roff(label)}\\fR" if label else names
    else:
        head = f"\\fB{roff(param.metavar or (param.name or '').upper())}\\fR"
    lines = [".TP", head]
    help_text = plain(getattr(param, "help", None))
    body = paragraphs(help_text) if help_text else []
    notes = []
    declared = [e for e in envvars(param) if e not in help_text]
    if declared:
        notes.append("Environment: " + ", ".join(declared))
    default = default_text(param) if is_option else None
    if default is not None and "default:" not in help_text.lower():
        notes.append(f"Default: {default}")
    if param.required and "required" not in help_text.lower():
        notes.append("Required.")
    for note in notes:
        if body:
            body.append(".br")
        body.append(roff(note))
    return lines + body


def exit_codes() -> list[tuple[int, str, str]]:
    """ExitCode members with the comment written beside each one in lgr/core/errors.py."""
    source = inspect.getsource(errors.ExitCode)
    comments = {m[1]: (m[3] or "").strip() for m in EXIT_CODE_RE.finditer(source)}
    return [(int(c), c.name, comments.get(c.name, "")) for c in errors.ExitCode]


def render(page: Page, pages: list[Page]) -> str:
    """The whole roff text of one page."""
    command, ctx = page.command, page.ctx
    title = page.name.upper().replace("-", "\\-")
    out = [
        f'.\\" Generated by scripts/gen_man.py from the lgr CLI. Do not edit.',
        f'.TH "{title}" "1" "" "lgr {__version__}" "lgr manual"',
        ".SH NAME",
        f"{roff_name(page.name)} \\- {roff(short_help(command).removeprefix(f'{PROG}: '))}",
        ".SH SYNOPSIS",
        f"\\fB{roff_name(page.invocation)}\\fR {roff(' '.join(command.collect_usage_pieces(ctx)))}",
    ]
    description = plain(command.help)
    if description:
        out += [".SH DESCRIPTION", *paragraphs(description)]

    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    if arguments:
        out.append(".SH ARGUMENTS")
        for param in arguments:
            out += param_lines(param, ctx, is_option=False)
    if options:
        out.append(".SH OPTIONS")
        for param in options:
            out += param_lines(param, ctx, is_option=True)

    children = [p for p in pages if len(p.path) == len(page.path) + 1 and p.path[:-1] == page.path]
    if children:
        out.append(".SH COMMANDS")
        for child in children:
            out += [
                ".TP",
                f"\\fB{roff_name(child.path[-1])}\\fR",
                f"{roff(short_help(child.command))}. See \\fB{roff_name(child.name)}\\fR(1).",
            ]

    if not page.path:
        out += [
            ".SH ENVIRONMENT",
            ".TP",
            "\\fBLGR_DEBUG\\fR",
            "Set to 1 to print a traceback with every error.",
            ".TP",
            "\\fBLGR_STATE_DIR\\fR",
            roff("Where lgr up keeps its certificates, tokens and up.json "
                 "(default: $XDG_STATE_HOME/lgr or ~/.local/state/lgr)."),
            ".TP",
            "\\fBLGR_EVENT_LOOP\\fR",
            roff("Set to asyncio to run the servers on asyncio's own event loop instead of uvloop."),
            ".TP",
            "\\fBGRPC_EXPERIMENTS\\fR",
            roff("gRPC's own switch. When it is unset, the servers set it so that gRPC 1.85 does "
                 "socket I/O on its poller thread (lower latency per hop); set it, even to an "
                 "empty value, to keep gRPC's defaults."),
            ".SH EXIT STATUS",
        ]
        for code, name, comment in exit_codes():
            out += [".TP", f"\\fB{code}\\fR", roff(f"{name}: {comment}" if comment else name)]

    related = [p for p in pages if p is not page and (p.path == page.path[:-1] or p in children)]
    if related:
        refs = ", ".join(f"\\fB{roff_name(p.name)}\\fR(1)" for p in related)
        out += [".SH SEE ALSO", refs]
    return "\n".join(out) + "\n"


def generate(out_dir: Path) -> list[Path]:
    """Write one page per command into ``out_dir``, remove stale pages, return the files written."""
    root = get_command(app)
    pages = walk(root, _click.Context(root, info_name=PROG, **root.context_settings))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for page in pages:
        path = out_dir / f"{page.name}.1"
        path.write_text(render(page, pages))
        written.append(path)
    for stale in set(out_dir.glob(f"{PROG}*.1")) - set(written):
        stale.unlink()
    return written


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    files = generate(out)
    print(f"wrote {len(files)} man pages to {out}")


if __name__ == "__main__":
    main()
