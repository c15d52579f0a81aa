"""`lgr completion`: print the shell completion script for bash, zsh or fish.

The scripts are typer's: the shell runs ``lgr`` with ``_LGR_COMPLETE=complete_<shell>`` and
typer answers with candidates from the live command tree, so the scripts never go stale when
commands change. scripts/gen_completions.py writes the same text into completions/.
"""

from __future__ import annotations

import enum

import typer
from typer.completion import completion_init, get_completion_script

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


def command(
    shell: Shell = typer.Argument(
        ..., metavar="SHELL", help="bash, zsh or fish.", show_default=False
    ),
) -> None:
    """Print a shell completion script (bash, zsh or fish) to stdout.

    Try it with `eval "$(lgr completion bash)"`; install the files in completions/ to keep it.
    """
    typer.echo(script(shell), nl=False)
