"""`lgr up`'s advice: every command it suggests parses against the real CLI, and only what runs is suggested.

Starting real stacks is covered in tests/e2e/test_up.py.
"""

from __future__ import annotations

import shlex

import typer

from lgr.cli import app
from lgr.commands._up_show import EMIT_SOURCE_ID, try_commands
from lgr.commands.emit import DEFAULT_SOURCE_ID
from lgr.core.up_state import ComponentState, UpState


def _state(*kinds: str) -> UpState:
    comps = [ComponentState(k, k, f"127.0.0.1:{8000 + i}", 1) for i, k in enumerate(kinds)]
    return UpState(1, "now", "/s", "/s/certs", "/s/logs", comps, token_file="/s/admin.token")


def _parse(command: str) -> None:
    """Parse ``command`` (``lgr ...``) as the CLI would, without running it; raise on a bad flag."""
    words = shlex.split(command)
    assert words[0] == "lgr"
    group = typer.main.get_command(app)
    ctx = group.make_context("lgr", list(words[1:]), resilient_parsing=True)
    name, *args = words[1:]
    with ctx:
        while True:
            cmd = group.get_command(ctx, name)
            assert cmd is not None, f"no command {name!r} in {command!r}"
            if hasattr(cmd, "get_command"):  # a group (typer vendors click)
                group, ctx = cmd, cmd.make_context(name, args, parent=ctx, resilient_parsing=True)
                name, *args = args
                continue
            cmd.make_context(name, args, parent=ctx)  # validates every flag and value
            return


def test_every_suggested_command_parses() -> None:
    commands = [c for c, _ in try_commands(_state("router", "agent", "rlp", "gateway", "cache", "tc"))]
    assert "lgr tail --via gateway" in commands and f"lgr tail -n 5 {EMIT_SOURCE_ID}" in commands
    for command in commands:
        _parse(command)
    assert EMIT_SOURCE_ID == DEFAULT_SOURCE_ID


def test_only_the_running_components_are_suggested() -> None:
    commands = [c for c, _ in try_commands(_state("router", "agent", "rlp"))]
    assert commands == ["lgr emit log hi", "lgr tail", "lgr dashboard"]
