"""Configuration: bot.yaml plus environment -> one validated ``Config``.

Every field has an embedded default and can be overridden by ``DASTBOT_<PATH>`` where PATH is the
field's dotted path in bot.yaml with dots as underscores (``matcher.threshold`` ->
``DASTBOT_MATCHER_THRESHOLD``; lists are comma-separated). Secrets come only from the environment:
``DASTBOT_MATTERMOST_TOKEN`` and ``DASTBOT_SLASH_TOKEN``; bot.yaml may not hold them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dastbot.kernel.settings import Person, ReportSettings, ShiftSettings
from dastbot.kernel.team_settings import TeamSettings
from dastbot.kernel.validation import plain_error
from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse_file

ENV_PREFIX = "DASTBOT_"
SECRET_ENV = {
    "mattermost_token": "DASTBOT_MATTERMOST_TOKEN",
    "slash_token": "DASTBOT_SLASH_TOKEN",
}
SECRET_KEYS = {"token", "mattermost_token", "slash_token", "password", "secret"}


class ConfigError(Exception):
    """Every problem found in the configuration, each naming where it is."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MattermostSettings(_Section):
    url: str = "http://localhost:8065"
    ca_file: str | None = None
    verify: bool = True
    timeout: float = 30.0
    coordinators_channel: str = "dast-coordinators"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=8081, ge=0, le=65535)
    header_timeout: float = Field(default=10.0, gt=0, le=600)
    body_timeout: float = Field(default=10.0, gt=0, le=600)
    max_connections: int = Field(default=200, ge=1, le=100_000)


class MatcherSettings(_Section):
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    margin: float = Field(default=0.03, ge=0.0, le=1.0)
    top: int = Field(default=3, ge=1, le=20)


class QuestionSettings(_Section):
    close_unrated_after_hours: float = Field(default=72.0, gt=0, le=24 * 60)


class LinkSettings(_Section):
    bigpanda: str = "https://bigpanda.cern.ch"
    rucio: str = "https://rucio-ui.cern.ch"


class Config(_Section):
    bot_name: str = "dastbot"
    team: str = "atlas"
    channels: list[str] = Field(default_factory=lambda: ["dast-help"])
    db: str = "dastbot.db"
    kb: str = "knowledge"
    contacts: str = ""
    sites: str = ""
    sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    log_format: Literal["text", "json"] = "text"
    mattermost: MattermostSettings = MattermostSettings()
    http: HttpSettings = HttpSettings()
    matcher: MatcherSettings = MatcherSettings()
    questions: QuestionSettings = QuestionSettings()
    links: LinkSettings = LinkSettings()
    shifts: ShiftSettings = ShiftSettings()
    report: ReportSettings = ReportSettings()
    roster: list[Person] = Field(default_factory=list)
    people: TeamSettings = TeamSettings()
    mattermost_token: SecretStr | None = None
    slash_token: SecretStr | None = None
    base_dir: str = "."

    def resolve(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path


def _env_overrides(model: type[BaseModel], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in SECRET_ENV or name == "base_dir":
            continue
        key = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested = _env_overrides(annotation, env, key + "_")
            if nested:
                out[name] = nested
            continue
        if key not in env:
            continue
        raw = env[key]
        if get_origin(annotation) is list and get_args(annotation) == (str,):
            out[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif get_origin(annotation) in (list, dict):
            out[name] = json.loads(raw)
        else:
            out[name] = raw
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _secret_paths(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            if str(key).lower() in SECRET_KEYS:
                found.append((*path, key))
            found.extend(_secret_paths(value, (*path, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(_secret_paths(value, (*path, i)))
    return found


def _describe(error: Any, located: Located | None, env_keys: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    dotted = ".".join(str(p) for p in loc)
    message = plain_error(error)
    top = loc[0] if loc else ""
    if top in env_keys and (located is None or tuple(loc) not in located.lines):
        return f"environment: {ENV_PREFIX}{dotted.replace('.', '_').upper()}: {message}"
    where = located.where(loc) if located is not None else "defaults"
    return f"{where}: {dotted}: {message}"


def _read(
    path: Path | None, env: Mapping[str, str]
) -> tuple[dict[str, Any], Located | None, dict[str, Any], list[str]]:
    """bot.yaml (when given) merged with the environment: (data, where each value is, the
    environment overrides, the errors found so far). Raises ConfigError when nothing is usable."""
    errors: list[str] = []
    located: Located | None = None
    data: dict[str, Any] = {}
    if path is not None:
        try:
            located = parse_file(path)
        except YamlSyntaxError as exc:
            raise ConfigError([str(exc)]) from None
        if located.data is None:
            located.data = {}
        if not isinstance(located.data, dict):
            raise ConfigError([f"{path}:1: the configuration must be a mapping of fields"])
        for secret in _secret_paths(located.data):
            name = ".".join(str(p) for p in secret)
            errors.append(
                f"{located.where(secret)}: {name}: secrets are read only from the environment "
                f"({SECRET_ENV['mattermost_token']}, {SECRET_ENV['slash_token']}); remove it"
            )
            parent: Any = located.data
            for part in secret[:-1]:
                parent = parent[part]
            del parent[secret[-1]]
        data = dict(located.data)
        data["base_dir"] = str(path.parent)
    try:
        overrides = _env_overrides(Config, env, ENV_PREFIX)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"environment: invalid JSON: {exc}"]) from None
    data = _merge(data, overrides)
    for name, env_name in SECRET_ENV.items():
        if env.get(env_name):
            data[name] = env[env_name]
    return data, located, overrides, errors


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read bot.yaml (when given), apply environment overrides, validate; raise ConfigError."""
    env = os.environ if env is None else env
    data, located, overrides, errors = _read(path, env)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors.extend(_describe(e, located, overrides) for e in exc.errors())
        raise ConfigError(errors) from None
    if errors:
        raise ConfigError(errors)
    return config


def _drop(data: dict[str, Any], loc: tuple[str | int, ...], whole_item: bool) -> None:
    """Remove the value at ``loc`` so that validating again uses its default; with
    ``whole_item``, the whole list item the value is in (a roster person missing a field)."""
    parent: Any = data
    for depth, part in enumerate(loc[:-1]):
        if not _has(parent, part):
            return
        child = parent[part]
        index = loc[depth + 1]
        if whole_item and isinstance(child, list) and isinstance(index, int) and _has(child, index):
            child[index] = _DROPPED
            return
        parent = child
    if isinstance(parent, list) and _has(parent, loc[-1]):
        parent[int(loc[-1])] = _DROPPED
    elif isinstance(parent, dict) and loc[-1] in parent:
        del parent[loc[-1]]


_DROPPED = object()


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container)


def _without_dropped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_dropped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_dropped(v) for v in value if v is not _DROPPED]
    return value


def check_config(
    path: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Config, list[str]]:
    """Every problem of the configuration, and the configuration with the invalid values left
    at their defaults, so that ``dastbot check`` can go on to check the files it names (the
    knowledge base, contacts, the roster) in the same run instead of in rounds. Raises
    ConfigError only when the file cannot be read as YAML at all."""
    env = os.environ if env is None else env
    data, located, overrides, errors = _read(path, env)
    reported: set[str] = set()
    for _ in range(6):
        try:
            return Config.model_validate(data), sorted(errors, key=_line_order)
        except ValidationError as exc:
            problems = exc.errors()
        for error in problems:
            text = _describe(error, located, overrides)
            if text not in reported and error["type"] != "missing":
                reported.add(text)
                errors.append(text)
            loc = tuple(error["loc"])
            if loc:
                _drop(data, loc, whole_item=error["type"] == "missing")
        data = _without_dropped(data)
    keep = {k: data[k] for k in ("kb", "contacts", "sites", "db", "base_dir") if k in data}
    try:
        return Config.model_validate(keep), sorted(errors, key=_line_order)
    except ValidationError:
        return Config(), sorted(errors, key=_line_order)


def _line_order(error: str) -> tuple[str, int]:
    """``file:line: ...`` errors in file order; the environment's after the file's."""
    match = re.match(r"^(.*?):(\d+): ", error)
    return (match.group(1), int(match.group(2))) if match else ("\uffff", 0)


def default_config_path(cwd: Path | None = None) -> Path | None:
    """``$DASTBOT_CONFIG``, else ./bot.yaml when it exists, else None (embedded defaults)."""
    explicit = os.environ.get("DASTBOT_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = (cwd or Path.cwd()) / "bot.yaml"
    return candidate if candidate.is_file() else None
