"""Component configuration: dataclass fields that declare upstream env var names, defaults and help.

A config class is a frozen dataclass whose fields are made with :func:`setting`. Loading goes
defaults → environment → explicit overrides (CLI flags) → validation, and every bad value is
reported at once in one :class:`~lgr.core.errors.ConfigError` naming its env var::

    @dataclass(frozen=True)
    class AgentConfig:
        port: int = setting("AGENT_PORT", 3458, "gRPC ingress port")

        def validate(self) -> list[str]:          # optional: cross-field checks
            return []

    cfg = load_config(AgentConfig, env=os.environ, overrides={"port": 0})
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from lgr.core.errors import ConfigError

T = TypeVar("T")

_MISSING = dataclasses.MISSING
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?", re.IGNORECASE)
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(float):
    """Seconds, parsed from a Go duration string such as ``100ms``, ``15s`` or ``14m``."""


class ByteSize(int):
    """A number of bytes, parsed by :func:`parse_size` and shown as e.g. ``256MiB`` in help."""

    def __str__(self) -> str:
        for unit, power in (("GiB", 3), ("MiB", 2), ("KiB", 1)):
            if self and self % 1024**power == 0:
                return f"{self // 1024**power}{unit}"
        return str(int(self))

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731


def parse_size(text: str) -> ByteSize:
    """Bytes from ``1048576``, ``512MiB``, ``1.5G`` (k, M, G, T: powers of 1000; with i: 1024)."""
    m = _SIZE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (use bytes, or e.g. 512MiB, 2G)")
    number, unit, binary = float(m.group(1)), m.group(2).lower(), m.group(3)
    power = "kmgt".find(unit) + 1 if unit else 0
    return ByteSize(number * (1024 if binary else 1000) ** power)


def setting(
    env: str | None,
    default: Any = _MISSING,
    help: str = "",
    *,
    required: bool = False,
    secret: bool = False,
    parse: Callable[[str], Any] | None = None,
) -> Any:
    """Declare a config field: its env var (None: flag only), default, help, and parsing."""
    meta = {"env": env, "help": help, "required": required, "secret": secret, "parse": parse}
    if isinstance(default, (list, dict, set)):
        factory = type(default)
        value = default
        return dataclasses.field(default_factory=lambda: factory(value), metadata=meta)
    if default is _MISSING:
        default = None
    return dataclasses.field(default=default, metadata=meta)


def parse_duration(text: str) -> Duration:
    """Parse a Go duration (``1h2m3.5s``, ``100ms``) or a bare number of seconds."""
    text = text.strip()
    try:
        return Duration(float(text))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 100ms, 15s, 14m)")
    return Duration(total)


def parse_bool(text: str) -> bool:
    """Parse true/false the way Go's strconv.ParseBool does (plus yes/no/on/off)."""
    low = text.strip().lower()
    if low in ("1", "t", "true", "yes", "y", "on"):
        return True
    if low in ("0", "f", "false", "no", "n", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r} (use true or false)")


def parse_list(text: str) -> list[str]:
    """Parse a comma-separated list, dropping empty items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_tags(text: str) -> dict[str, str]:
    """Parse ``k:v,k2:v2`` (upstream AGENT_TAGS form; ``k=v`` is accepted too)."""
    tags: dict[str, str] = {}
    for item in parse_list(text):
        sep = ":" if ":" in item else "="
        key, found, value = item.partition(sep)
        if not found or not key.strip():
            raise ValueError(f"bad tag {item!r} (use key:value)")
        tags[key.strip()] = value.strip()
    return tags


def _parser_for(tp: Any) -> Callable[[str], Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _parser_for(args[0])
    if tp is bool:
        return parse_bool
    if tp is int:
        return lambda s: int(s.strip(), 10)
    if tp is float:
        return lambda s: float(s.strip())
    if tp is Duration:
        return parse_duration
    if tp is ByteSize:
        return parse_size
    if tp is Path:
        return lambda s: Path(s).expanduser()
    if origin is list or tp is list:
        return parse_list
    if origin is dict or tp is dict:
        return parse_tags
    return lambda s: s


def fields_of(cls: type) -> list[dataclasses.Field]:
    """The dataclass fields of a config class, in declaration order."""
    return list(dataclasses.fields(cls))


def env_name(cls: type, name: str) -> str | None:
    """The env var that sets field ``name`` of ``cls`` (None when it has none)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get("env")
    raise KeyError(name)


def _label(f: dataclasses.Field) -> str:
    return f.metadata.get("env") or "--" + f.name.replace("_", "-")


def load_config(
    cls: type[T],
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``cls`` from defaults, then ``env``, then non-None ``overrides``; then validate.

    Raises ConfigError naming every bad env var or flag at once.
    """
    env = os.environ if env is None else env
    overrides = overrides or {}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in dataclasses.fields(cls):
        parse = f.metadata.get("parse") or _parser_for(hints[f.name])
        name = f.metadata.get("env")
        if overrides.get(f.name) is not None:
            raw = overrides[f.name]
            if isinstance(raw, str) and hints[f.name] is not str:
                try:
                    raw = parse(raw)
                except ValueError as exc:
                    problems.append(f"{_label(f)}: {_reason(f, exc)}")
                    continue
            values[f.name] = raw
        elif name and name in env:
            try:
                values[f.name] = parse(env[name])
            except ValueError as exc:
                shown = "***" if f.metadata.get("secret") else repr(env[name])
                problems.append(f"{name}={shown}: {_reason(f, exc)}")
                continue
        if f.metadata.get("required") and _value_or_default(values, f) in (None, "", [], {}):
            problems.append(f"{_label(f)} is required: {f.metadata.get('help') or f.name}")
    if problems:
        raise ConfigError(problems, hint=f"see `--help` for {cls.__name__}'s settings")
    try:
        cfg = cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError([str(exc)]) from exc
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        problems = list(validate())
        if problems:
            raise ConfigError(problems, hint=f"see `--help` for {cls.__name__}'s settings")
    return cfg


def _reason(f: dataclasses.Field, exc: ValueError) -> str:
    # Parser messages quote the bad text (int() does), which would print a secret.
    return "not a valid value (hidden: secret)" if f.metadata.get("secret") else str(exc)


def _value_or_default(values: Mapping[str, Any], f: dataclasses.Field) -> Any:
    # List and dict settings keep their default in default_factory, not default.
    if f.name in values:
        return values[f.name]
    if f.default is _MISSING and f.default_factory is not _MISSING:
        return f.default_factory()
    return f.default


def check_port(label: str, port: int) -> list[str]:
    """A problem line when ``port`` is not 0..65535 (0 asks the OS for a free port)."""
    if not 0 <= port <= 65535:
        return [f"{label}={port}: port must be between 0 and 65535"]
    return []
