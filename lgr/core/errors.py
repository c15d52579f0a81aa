"""Typed errors raised by lgr's core, each with a message, an optional hint and an exit code."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Named process exit codes; the CLI maps every LgrError to one of these."""

    OK = 0
    FAILURE = 1          # an unexpected error (a bug); traceback with LGR_DEBUG=1
    USAGE = 2            # bad flag or argument (click's own code for usage errors)
    CONFIG = 3           # bad configuration value (env var or flag)
    TLS = 4              # missing or unusable certificates
    UNAVAILABLE = 5      # a server could not be reached or a port could not be bound
    EXISTS = 6           # refusing to overwrite something that exists
    NOT_BUILT = 7        # the command is planned but not built yet
    ALREADY_RUNNING = 8  # `lgr up` is already running with the same state directory
    COMPONENT_DIED = 9   # a component started by `lgr up` exited on its own
    TIMEOUT = 10         # a --timeout expired before the command got what it waited for
    STATE = 11           # the state directory, or a file lgr keeps there, cannot be created or written
    NO_STACK = 12        # a client found no running `lgr up` and nothing else to connect to
    INTERRUPTED = 130    # second Ctrl-C


class LgrError(Exception):
    """Base of every error lgr reports to a user: one line, a hint, an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(LgrError):
    """One or more configuration values are invalid; ``problems`` lists each one."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: list[str], hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems), hint)


class TLSConfigError(LgrError):
    """Certificate, key or CA files are missing or unusable."""

    exit_code = ExitCode.TLS


class StateDirError(LgrError):
    """A directory or file lgr keeps its state in (lock, up.json, tokens, logs) cannot be written."""

    exit_code = ExitCode.STATE


class UnavailableError(LgrError):
    """A peer could not be reached, or an address could not be bound."""

    exit_code = ExitCode.UNAVAILABLE


class NoStackError(LgrError):
    """A client was given no server and no running `lgr up` (nor its certificates) exists."""

    exit_code = ExitCode.NO_STACK


class AlreadyExistsError(LgrError):
    """Refused to overwrite existing files or state."""

    exit_code = ExitCode.EXISTS


class UsageError(LgrError):
    """A flag or argument has a value the command cannot use; the message names the flag."""

    exit_code = ExitCode.USAGE


class TimeoutExpiredError(LgrError):
    """A --timeout expired before the command got what it waited for."""

    exit_code = ExitCode.TIMEOUT


class InvalidSelectorError(LgrError):
    """An egress request's selectors are empty or a selector names no message type."""

    exit_code = ExitCode.USAGE


class NotBuiltError(LgrError):
    """A planned command that is not built yet; the message names it and, when known, its issue."""

    exit_code = ExitCode.NOT_BUILT

    def __init__(self, command: str, issue: int | None = None, hint: str | None = None) -> None:
        planned = f" (planned: issue #{issue})" if issue is not None else " (planned)"
        super().__init__(f"{command} is not built yet{planned}", hint)
        self.command = command
        self.issue = issue
