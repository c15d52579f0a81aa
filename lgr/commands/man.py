"""`lgr man`: show lgr's man pages, which ship inside the package (lgr/man/man1/).

On a terminal the page goes through ``man`` (its pager and formatting); piped, or without
``man``, the roff source is printed. ``--path`` prints the directory to add to MANPATH so that
``man lgr`` works too: ``export MANPATH="$(lgr man --path):"`` (the trailing colon keeps the
system's pages).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lgr.core.errors import UsageError

MAN_DIR = Path(__file__).resolve().parent.parent / "man"  # holds man1/


def page_file(words: list[str]) -> Path:
    """The page of ``lgr WORDS`` (e.g. ["agent", "start"]); UsageError naming the pages when none."""
    name = "-".join(["lgr", *words])
    path = MAN_DIR / "man1" / f"{name}.1"
    if not path.is_file():
        pages = sorted(p.stem.removeprefix("lgr-").replace("-", " ") for p in (MAN_DIR / "man1").glob("lgr-*.1"))
        raise UsageError(f"no man page for `{' '.join(['lgr', *words])}`",
                         hint=f"pages: lgr, {', '.join(pages)}")
    return path


def command(
    words: Annotated[Optional[list[str]], typer.Argument(
        metavar="[COMMAND]...", show_default=False,
        help="The command whose page to show, e.g. `tail` or `agent start`. Default: lgr's own page.",
    )] = None,
    path: Annotated[bool, typer.Option(
        "--path", help="Print the directory to add to MANPATH (for `man lgr`) and exit.",
    )] = False,
) -> None:
    """Show lgr's man page, or a command's (they ship with lgr).

      lgr man

      lgr man agent start

      export MANPATH="$(lgr man --path):"   # then `man lgr`, `man lgr-tail` work too
    """
    if path:
        typer.echo(str(MAN_DIR))
        return
    page = page_file(words or [])
    man = shutil.which("man")
    if man and sys.stdout.isatty():
        raise typer.Exit(subprocess.run([man, "-l", str(page)], env=os.environ).returncode)
    sys.stdout.write(page.read_text(encoding="utf-8"))
