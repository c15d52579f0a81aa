"""`lgr completion`: print the shell completion script for bash, zsh or fish.

The scripts are typer's: the shell runs ``lgr`` with ``_LGR_COMPLETE=complete_<shell>`` and
typer answers with candidates from the live command tree, so the scripts never go stale when
commands change. scripts/gen_completions.py writes the same text into completions/.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.completion import completion_init, get_completion_script

from lgr.console import note
from lgr.core.errors import UsageError

PROG_NAME = "lgr"
COMPLETE_VAR = "_LGR_COMPLETE"

# typer's zsh script ends by calling compdef, which only registers the function; when the file is
# autoloaded from $fpath as _lgr (how completions/_lgr is installed) the first TAB would then
# complete nothing. Calling the function directly when autoloaded is what click's own script does.
_ZSH_REGISTER = "compdef _lgr_completion lgr"
_ZSH_REGISTER_OR_RUN = """\
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _lgr_completion "$@"
else
  compdef _lgr_completion lgr
fi"""


class Shell(str, enum.Enum):
    """The shells lgr prints completion scripts for."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def enable_shell_completion() -> None:
    """Register typer's bash/zsh/fish completers, which answer ``_LGR_COMPLETE`` requests.

    typer registers them only while adding ``--install-completion``, which lgr turns off in
    favour of this command; without them every completion request fails "not supported".
    """
    completion_init()


def script(shell: Shell) -> str:
    """Return the completion script for ``shell``, ending in a newline."""
    text = get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell.value)
    if shell is Shell.zsh and text.count(_ZSH_REGISTER) == 1:
        text = text.replace(_ZSH_REGISTER, _ZSH_REGISTER_OR_RUN)
    return text + "\n"


INSTALL = "install"


def install_path(shell: Shell, env: dict[str, str] | None = None) -> Path:
    """Where ``lgr completion install`` puts ``shell``'s script: the user's directory that the
    shell (bash-completion, fish) loads completions from on demand; for zsh, a directory to add
    to $fpath (zsh has no per-user default)."""
    env = dict(os.environ) if env is None else env
    home = Path(env.get("HOME") or Path.home())
    data = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else home / ".local" / "share"
    config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    if shell is Shell.bash:
        return data / "bash-completion" / "completions" / PROG_NAME
    if shell is Shell.zsh:
        return data / "zsh" / "site-functions" / f"_{PROG_NAME}"
    return config / "fish" / "completions" / f"{PROG_NAME}.fish"


def install(shell: Shell, path: Path) -> bool:
    """Write ``shell``'s script to ``path`` unless it already holds it; True if it wrote."""
    text = script(shell)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _user_shell() -> Shell:
    name = Path(os.environ.get("SHELL", "")).name
    try:
        return Shell(name)
    except ValueError:
        raise UsageError(f"cannot tell your shell from SHELL={os.environ.get('SHELL', '')!r}",
                         hint="name it: lgr completion install bash|zsh|fish") from None


def command(
    what: Annotated[str, typer.Argument(
        metavar="SHELL|install", show_default=False, autocompletion=lambda: [*Shell.__members__, INSTALL],
        help="bash, zsh or fish: print that shell's completion script. install: install it where "
        "the shell finds it.",
    )],
    shell: Annotated[Optional[Shell], typer.Argument(
        metavar="[SHELL]", show_default=False,
        help="With install: the shell (default: the one $SHELL names).",
    )] = None,
    print_path: Annotated[bool, typer.Option(
        "--print", help="With install: print where the script goes, and install nothing.",
    )] = False,
) -> None:
    """Print a shell completion script (bash, zsh or fish), or install it.

    `lgr completion install` writes the script for your shell into your completion directory
    (bash: ~/.local/share/bash-completion/completions/lgr, zsh:
    ~/.local/share/zsh/site-functions/_lgr, fish: ~/.config/fish/completions/lgr.fish); running
    it again changes nothing. Try a script without installing it: `eval "$(lgr completion bash)"`.

      lgr completion install

      lgr completion install zsh --print
    """
    if what != INSTALL:
        if shell is not None or print_path:
            raise UsageError("a SHELL and --print go with `lgr completion install`")
        try:
            chosen = Shell(what)
        except ValueError:
            raise UsageError(f"{what!r} is not bash, zsh, fish or install") from None
        typer.echo(script(chosen), nl=False)
        return
    chosen = shell or _user_shell()
    path = install_path(chosen)
    if print_path:
        typer.echo(str(path))
        return
    wrote = install(chosen, path)
    note(f"{'installed' if wrote else 'already up to date:'} {chosen.value} completion {path}")
    if chosen is Shell.zsh:
        note(f"zsh finds it once its directory is on $fpath: add `fpath=({path.parent} $fpath)` "
             "before `compinit` in ~/.zshrc")
    elif chosen is Shell.bash:
        note("bash loads it in new shells when the bash-completion package is installed")
