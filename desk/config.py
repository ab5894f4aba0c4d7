"""Provides loading and validation of desk.toml, with one clear message for a bad value.

The file is parsed, command-line overrides are laid over it, and the result is converted
to frozen structs that refuse unknown keys. A problem becomes a :class:`ConfigError`
naming the file, the key, what was expected and what was found; the CLI prints it and
exits with code 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import tomli_w
from msgspec import Meta

from engine.config import EngineConfig, Section

THEMES = ("desk-dark", "desk-light", "desk-contrast", "desk-ansi16")


class UiConfig(Section, frozen=True, kw_only=True):
    theme: Literal["desk-dark", "desk-light", "desk-contrast", "desk-ansi16"] = "desk-dark"
    """Theme at start."""
    stale_after_s: Annotated[float, Meta(gt=0)] = 5.0
    """Wall seconds without an update after which a value is marked STALE on screen."""
    keys: dict[str, str] = {}  # noqa: RUF012 - msgspec copies mutable defaults
    """Key remaps by action id, e.g. close-position = "C" (desk.toml lists the ids)."""

    def __post_init__(self) -> None:
        from desk.actions import ACTIONS

        known = {a.id for a in ACTIONS}
        for action_id, key in self.keys.items():
            if action_id not in known:
                raise ValueError(
                    f"unknown action id {action_id!r}; known ids: {', '.join(sorted(known))}"
                )
            if not key.strip():
                raise ValueError(f"empty key for {action_id!r}")


class DeskConfig(EngineConfig, frozen=True, kw_only=True):
    """Everything desk.toml holds: the engine's sections and the app's."""

    ui: UiConfig = UiConfig()


class ConfigError(ValueError):
    """desk.toml (or a flag) holds something the desk cannot run with."""


def default_config_path() -> Path | None:
    """./desk.toml, else $XDG_CONFIG_HOME/desk/desk.toml, else built-in defaults."""
    here = Path.cwd() / "desk.toml"
    if here.is_file():
        return here
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(base) / "desk" / "desk.toml"
    return user if user.is_file() else None


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> DeskConfig:
    """Load ``path`` (or the default), apply dotted-key ``overrides``, validate."""
    source = path if path is not None else default_config_path()
    raw: dict[str, Any] = {}
    label = str(source) if source is not None else "built-in defaults"
    if source is not None:
        try:
            raw = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        _set(raw, dotted.split("."), value)
    try:
        return msgspec.convert(raw, DeskConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(explain(exc, raw, label)) from None


def _set(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = tree.setdefault(key, {})
        if not isinstance(node, dict):
            node = tree[key] = {}
        tree = node
    tree[keys[-1]] = value


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


def explain(exc: msgspec.ValidationError, raw: dict[str, Any], label: str) -> str:
    """Turn msgspec's message into: file: key: what was expected, and what was found."""
    match = _AT.match(str(exc))
    assert match is not None
    what, path = match["what"], match["path"] or ""
    parts: list[str | int] = [name if name else int(index) for name, index in _PART.findall(path)]
    unknown = re.match(r"Object contains unknown field `(.+)`", what)
    if unknown:
        where = _dotted(parts)
        section = f" in [{where}]" if where else ""
        hint = "check its spelling; `desk config` lists every key"
        return f"{label}: unknown key `{unknown[1]}`{section} ({hint})"
    missing = re.match(r"Object missing required field `(.+)`", what)
    if missing:
        return f"{label}: {_dotted(parts)}: the key `{missing[1]}` is required"
    key = _dotted(parts) or "(top level)"
    expected = re.sub(r"^Expected ", "expected ", what).replace("`", "")
    if what.startswith("Invalid enum value"):
        allowed = _allowed_values(parts)
        return f"{label}: {key}: expected one of {allowed}, found {_lookup(raw, parts)!r}"
    found = _lookup(raw, parts)
    if found is _MISSING or not what.startswith("Expected"):
        return f"{label}: {key}: {expected}"
    return f"{label}: {key}: {expected}, found {found!r}"


_MISSING = object()


def _allowed_values(parts: list[str | int]) -> str:
    """The literal values a key accepts, found by walking DeskConfig's type information."""
    info: Any = msgspec.inspect.type_info(DeskConfig)
    for part in parts:
        while isinstance(info, msgspec.inspect.UnionType):
            info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
        if isinstance(part, int):
            info = getattr(info, "item_type", info)
        else:
            info = next(f.type for f in info.fields if f.name == part)
    while isinstance(info, msgspec.inspect.UnionType):
        info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
    values = getattr(info, "values", ())
    return ", ".join(repr(v) for v in sorted(values, key=str)) or "a listed value"


def _lookup(tree: Any, parts: list[str | int]) -> Any:
    for part in parts:
        try:
            tree = tree[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return tree


def _dotted(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def to_toml(config: DeskConfig) -> str:
    """The effective configuration as TOML that loads back to the same values."""
    return tomli_w.dumps(_without_none(msgspec.to_builtins(config)))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
