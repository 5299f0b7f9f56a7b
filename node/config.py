"""Configuration: one table of directives, redis.conf parsing, CONFIG GET/SET values.

Each directive has a name, a type, a default, whether CONFIG SET may change it, and
whether keelkv gives it a meaning. Directives Redis 7.0 accepts but keelkv has no use for
(`io-threads`, `jemalloc-bg-thread`, ...) are accepted, logged once as ignored, and still
answer CONFIG GET, so a stock redis.conf starts a node unchanged. The table itself lives in
`node/config_table.py`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from node.resp import split_inline_args


class ConfigError(Exception):
    """A bad directive or value; the message is Redis's reason text."""


@dataclass(slots=True)
class Directive:
    name: str
    kind: str  # bool | int | memory | string | enum | float | special
    default: Any
    mutable: bool = True
    protected: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    alias: str | None = None
    # False: Redis 7.0 accepts it, keelkv has no use for it (accepted, logged once).
    meaningful: bool = True
    # For kind "special": parse(args) -> value and render(value) -> str.
    parse: Callable[[list[str]], Any] | None = None
    render: Callable[[Any], str] | None = None
    # Multi-line directives (save, client-output-buffer-limit...) accumulate across lines.
    accumulate: bool = False
    flag_enum: bool = False  # enum values may be combined, e.g. "notify-keyspace-events"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


def parse_memory(text: str) -> int:
    """Parse a redis.conf memory value: 1gb, 100mb, 5k, 1024 (Redis's memtoull)."""
    t = text.strip().lower()
    i = len(t)
    while i > 0 and t[i - 1].isalpha():
        i -= 1
    number, unit = t[:i], t[i:]
    if unit not in MEMORY_UNITS or not number:
        raise ConfigError("argument must be a memory value")
    try:
        value = int(number) if "." not in number else int(float(number) * MEMORY_UNITS[unit])
    except ValueError as exc:
        raise ConfigError("argument must be a memory value") from exc
    if "." in number:
        return value
    return value * MEMORY_UNITS[unit]


def parse_bool(text: str) -> bool:
    t = text.lower()
    if t == "yes":
        return True
    if t == "no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


class Config:
    """Live configuration. Values are attributes named like the directive (`-` -> `_`)."""

    if TYPE_CHECKING:
        # Directive values are set dynamically from the table.
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, table: dict[str, Directive]) -> None:
        self._table = table
        self._seen: set[str] = set()
        self.config_file: str | None = None
        self.ignored_seen: list[str] = []
        for d in table.values():
            if d.alias is None:
                setattr(self, d.attr, _copy_default(d.default))

    # -- lookup --------------------------------------------------------------

    def directive(self, name: str) -> Directive | None:
        d = self._table.get(name.lower())
        if d is not None and d.alias is not None:
            d = self._table[d.alias]
        return d

    def names(self) -> list[str]:
        return [n for n, d in self._table.items() if d.alias is None]

    def get(self, name: str) -> Any:
        d = self.directive(name)
        if d is None:
            raise KeyError(name)
        return getattr(self, d.attr)

    def render(self, name: str) -> str:
        """The value as CONFIG GET shows it."""
        d = self.directive(name)
        assert d is not None
        value = getattr(self, d.attr)
        if d.render is not None:
            return d.render(value)
        if d.kind == "bool":
            return "yes" if value else "no"
        if d.kind == "float":
            return f"{value:g}"
        return str(value)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        """CONFIG GET <glob>: (name, value) pairs, aliases included as Redis lists them."""
        pat = pattern.lower()
        out = []
        for name, d in self._table.items():
            if fnmatch.fnmatchcase(name, pat) if _is_glob(pat) else name == pat:
                out.append((name, self.render(d.alias or name)))
        return out

    # -- setting -------------------------------------------------------------

    def parse_value(self, d: Directive, args: list[str]) -> Any:
        if d.kind == "special":
            assert d.parse is not None
            return d.parse(args)
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        text = args[0]
        if d.kind == "bool":
            return parse_bool(text)
        if d.kind in ("int", "memory"):
            if d.kind == "memory":
                value = parse_memory(text)
            else:
                try:
                    value = int(text)
                except ValueError as exc:
                    raise ConfigError("argument couldn't be parsed into an integer") from exc
            if (d.minimum is not None and value < d.minimum) or (
                d.maximum is not None and value > d.maximum
            ):
                raise ConfigError(f"argument must be between {d.minimum} and {d.maximum} inclusive")
            return value
        if d.kind == "float":
            try:
                return float(text)
            except ValueError as exc:
                raise ConfigError("argument couldn't be parsed into a float") from exc
        if d.kind == "enum":
            choices = text.lower().split() if d.flag_enum else [text.lower()]
            for choice in choices:
                if choice not in d.choices:
                    raise ConfigError(
                        "argument(s) must be one of the following: " + ", ".join(d.choices)
                    )
            return text.lower()
        return text

    def set_from_file(self, name: str, args: list[str]) -> None:
        d = self.directive(name)
        if d is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        value = self.parse_value(d, args)
        if d.accumulate and d.name in self._seen:
            value = _merge(getattr(self, d.attr), value)
        self._seen.add(d.name)
        setattr(self, d.attr, value)
        if not d.meaningful and d.name not in self.ignored_seen:
            self.ignored_seen.append(d.name)


def _copy_default(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return type(value)(value)
    return value


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, list) and isinstance(new, list):
        return old + new
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **new}
    return new


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


@dataclass(slots=True)
class ConfigLine:
    path: str
    lineno: int
    text: str
    args: list[str]


def read_config_lines(path: str, depth: int = 0) -> list[ConfigLine]:
    """The directive lines of a redis.conf file, with `include` expanded in place."""
    if depth > 10:
        raise ConfigError("include nesting too deep")
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        raw_lines = f.read().splitlines()
    lines: list[ConfigLine] = []
    for lineno, text in enumerate(raw_lines, 1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = split_inline_args(stripped.encode("utf-8", "surrogateescape"))
        if parts is None:
            raise FileConfigError(path, lineno, text, "Unbalanced quotes in configuration line")
        args = [p.decode("utf-8", "surrogateescape") for p in parts]
        if not args:
            continue
        if args[0].lower() == "include":
            if len(args) != 2:
                raise FileConfigError(
                    path, lineno, text, "Bad directive or wrong number of arguments"
                )
            target = args[1]
            if not os.path.isabs(target):
                target = os.path.join(os.path.dirname(os.path.abspath(path)), target)
            try:
                lines.extend(read_config_lines(target, depth + 1))
            except OSError as exc:
                raise FileConfigError(
                    path, lineno, text, f"Can't open include file {target}: {exc.strerror}"
                ) from exc
            continue
        lines.append(ConfigLine(path, lineno, text, args))
    return lines


class FileConfigError(ConfigError):
    """A fatal error in a config file, rendered like Redis's 'FATAL CONFIG FILE ERROR'."""

    def __init__(self, path: str, lineno: int, text: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.lineno = lineno
        self.text = text
        self.reason = reason

    def report(self, version: str) -> str:
        where = f"'{self.path}' at line {self.lineno}" if self.lineno else "the command line"
        return (
            f"\n*** FATAL CONFIG FILE ERROR (Redis {version}) ***\n"
            f"Reading the configuration file {where}\n"
            f">>> '{self.text.strip()}'\n"
            f"{self.reason}\n"
        )


def args_to_config_lines(argv: list[str]) -> list[ConfigLine]:
    """redis-server style overrides: `--port 7000 --save "" --bind a b` -> directive lines."""
    lines: list[ConfigLine] = []
    current: list[str] | None = None
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            if current:
                lines.append(ConfigLine("", 0, " ".join(current), current))
            current = [arg[2:]]
        elif current is None:
            raise FileConfigError("", 0, arg, "Bad directive or wrong number of arguments")
        else:
            current.append(arg)
    if current:
        lines.append(ConfigLine("", 0, " ".join(current), current))
    return lines


def load_config(table: dict[str, Directive], path: str | None, overrides: list[str]) -> Config:
    config = Config(table)
    lines: list[ConfigLine] = []
    if path is not None:
        config.config_file = os.path.abspath(path)
        try:
            lines.extend(read_config_lines(path))
        except OSError as exc:
            raise ConfigError(
                f"Fatal error, can't open config file '{path}': {exc.strerror}"
            ) from exc
    lines.extend(args_to_config_lines(overrides))
    for line in lines:
        try:
            config.set_from_file(line.args[0], line.args[1:])
        except FileConfigError:
            raise
        except ConfigError as exc:
            raise FileConfigError(line.path, line.lineno, line.text, str(exc)) from exc
    return config
