"""Configuration: one TOML file, overridden by environment variables, secrets kept out of it.

Sources, strongest first: keyword arguments (tests), environment variables
(``PRACTICE_SYNC_`` prefix, ``__`` between levels), the secrets file (dotenv format, path in
``PRACTICE_SYNC_SECRETS_FILE``), then the TOML file (``--config`` or ``PRACTICE_SYNC_CONFIG``).
Practices, locations, providers and staff tokens are tables keyed by slug so that every key,
secrets included, can be set by an environment variable such as
``PRACTICE_SYNC_PRACTICES__ACME__STAFF_TOKENS__FRONT_DESK``.

Every validation failure becomes a :class:`~integration_core.errors.ConfigError` whose lines
start with the full key path (``practices.acme.locations.main.time_zone``).
"""

from __future__ import annotations

import os
import threading
import tomllib
import types
import weakref
from collections.abc import Callable, Hashable, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from integration_core.errors import ConfigError

__all__ = [
    "BrokerSettings",
    "ConfigSection",
    "EHRSettings",
    "LocationSettings",
    "PracticeSettings",
    "ProviderSettings",
    "RetrySettings",
    "Settings",
    "built_once",
    "format_validation_error",
    "load_settings",
    "plugin_config",
    "secret_paths",
    "secrets_refused",
    "unknown_practices",
]

ENV_PREFIX = "PRACTICE_SYNC_"
DATABASE_SCHEMES = ("sqlite://", "postgresql://", "postgresql+psycopg://")
SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_config_path: ContextVar[Path | None] = ContextVar("practice_sync_config_path", default=None)


class ConfigSection(BaseModel):
    """A settings table that refuses unknown keys: derive plugin settings models from it."""

    model_config = ConfigDict(extra="forbid")


def _check_slugs(value: dict[str, Any]) -> dict[str, Any]:
    import re

    for key in value:
        if not re.match(SLUG_PATTERN, key):
            raise ValueError(
                f"{key!r} is not a slug: use lower-case letters, digits and underscores, "
                "starting with a letter (environment variables must be able to name it)"
            )
    return value


class LocationSettings(ConfigSection):
    name: str
    time_zone: str = Field(description="IANA time zone the location's calendars are kept in")
    address: str = ""
    ehr_id: str | None = Field(default=None, description="the location's id in the EHR")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as America/New_York"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class ProviderSettings(ConfigSection):
    name: str
    ehr_id: str = Field(min_length=1, description="the provider's id in the practice's EHR")
    locations: list[str] = Field(min_length=1, description="slugs of the locations they see at")
    telehealth: bool = False


class PracticeSettings(ConfigSection):
    name: str
    phone_region: str = Field(
        default="US", pattern=r"^[A-Z]{2}$", description="default region for phone numbers"
    )
    ehr_adapter: str | None = Field(default=None, description="registered EHR adapter name")
    locations: dict[str, LocationSettings] = Field(min_length=1)
    providers: dict[str, ProviderSettings] = {}
    staff_tokens: dict[str, SecretStr] = Field(
        default={},
        description="named bearer tokens for staff routes; two may be valid while rotating",
    )

    _slugs = field_validator("locations", "providers", "staff_tokens")(_check_slugs)

    @model_validator(mode="after")
    def _providers_at_known_locations(self) -> PracticeSettings:
        for slug, provider in self.providers.items():
            for location in provider.locations:
                if location not in self.locations:
                    raise ValueError(
                        f"providers.{slug}.locations: unknown location {location!r} "
                        f"(known: {', '.join(sorted(self.locations))})"
                    )
        return self


class RetrySettings(ConfigSection):
    """How failed deliveries are retried before they go dead."""

    max_attempts: int = Field(default=25, ge=1, le=1000)
    base_seconds: float = Field(default=2.0, gt=0)
    max_backoff_seconds: float = Field(default=900.0, gt=0)
    window_seconds: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="no retry is scheduled later than this after the event",
    )


class BrokerSettings(ConfigSection):
    url: str = Field(default="stub://", description="stub:// (in-process), redis://… or amqp://…")
    queue: str = "practice_sync"
    worker_threads: int = Field(default=4, ge=1, le=64)
    idle_poll_ms: int = Field(
        default=50, ge=5, le=5000, description="how long an idle worker waits before polling again"
    )
    claim_lease_seconds: float = Field(
        default=20.0,
        gt=0,
        description="a running delivery whose worker stopped renewing its claim this long is "
        "run again (a live worker renews every quarter of it)",
    )
    handoff_grace_seconds: float = Field(
        default=20.0,
        gt=0,
        description="after this, an enqueued but unclaimed delivery is re-sent: also how soon "
        "the deliveries a dead worker had taken from the broker, not yet started, run again",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"stub", "redis", "rediss", "amqp"}:
            raise ValueError("use stub:// (in-process), redis://host:port/db or amqp://…")
        return value


class SchedulerSettings(ConfigSection):
    tick_seconds: float = Field(default=0.5, gt=0, le=60)
    batch_size: int = Field(default=200, ge=1, le=10000)


class EHRSettings(ConfigSection):
    poll_interval_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="how often each practice's EHR change feed is read: the most a lost "
        "webhook delays a change",
    )
    poll_page_size: int = Field(default=100, ge=1, le=500, description="changes read per call")
    poll_claim_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="how long one worker may read a feed before another may take over",
    )


class HttpSettings(ConfigSection):
    host: str = "127.0.0.1"
    port: int = Field(default=8400, ge=0, le=65535)
    public_base_url: str = "http://127.0.0.1:8400"
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="largest request body any route takes (staff routes, webhooks); a larger "
        "one is refused with 413 before it is read",
    )
    max_public_body_bytes: int = Field(
        default=32_768,
        ge=1,
        description="largest request body a public route (the booking widget's) takes, and "
        "any path no route serves",
    )
    forwarded_allow_ips: list[str] = Field(
        default=[],
        description='addresses (or networks, or "*" for any) of the proxies whose '
        "X-Forwarded-For names the client; empty: the header is ignored",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f'{item!r} is not an IP address or network (such as 10.0.0.0/8), nor "*"'
                ) from None
        return value

    @model_validator(mode="after")
    def _public_within_max(self) -> HttpSettings:
        if self.max_public_body_bytes > self.max_body_bytes:
            raise ValueError(
                f"max_public_body_bytes ({self.max_public_body_bytes}) is larger than "
                f"max_body_bytes ({self.max_body_bytes})"
            )
        return self


class RateLimitSettings(ConfigSection):
    """Rate limits, in the ``limits`` notation (``60/minute``): public routes per client and
    per practice, and failed staff authentications per client."""

    per_client: str = "60/minute"
    per_practice: str = "600/minute"
    staff_auth_failures: str = Field(
        default="10/minute",
        description="failed staff authentications a client may make; then every staff request "
        "from it answers 429 until the window allows another",
    )
    storage_url: str = Field(
        default="memory://",
        description="memory:// (one process) or redis://… (shared by every process)",
    )
    key_prefix: str = Field(
        default="practice_sync",
        min_length=1,
        description="first part of every counter's key: deployments sharing one Redis need "
        "different ones",
    )

    @field_validator("per_client", "per_practice", "staff_auth_failures")
    @classmethod
    def _parses(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as '60/minute'") from None
        return value


class LoggingSettings(ConfigSection):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "console"


class MetricsSettings(ConfigSection):
    """``GET /metrics`` (Prometheus text format); see docs/operations.md."""

    token: SecretStr | None = Field(
        default=None,
        description="bearer token a scraper sends; unset: /metrics answers 403 "
        "(set PRACTICE_SYNC_METRICS__TOKEN)",
    )


class PluginsSettings(ConfigSection):
    enabled: list[str] | None = Field(
        default=None,
        description="load only these plugins (by name); unset: every installed plugin",
    )
    blocked: list[str] = Field(default=[], description="plugin names not to load")
    modules: list[str] = Field(
        default=[], description="extra plugin modules by dotted path, loaded like entry points"
    )
    config: dict[str, dict[str, Any]] = Field(
        default={},
        description="per-plugin settings, validated by each plugin's declared model",
        repr=False,  # raw values, secrets included: read them through plugin_config
    )


class Settings(BaseSettings):
    """The whole configuration of one deployment (many practices)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    database_url: str | None = Field(
        default=None,
        description="sqlite:///path/to/file.db (the embedded default) or postgresql://…; "
        "required to run: nothing is written anywhere the configuration did not name",
    )
    broker: BrokerSettings = BrokerSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    ehr: EHRSettings = EHRSettings()
    retry: RetrySettings = RetrySettings()
    http: HttpSettings = HttpSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    plugins: PluginsSettings = PluginsSettings()
    practices: dict[str, PracticeSettings] = {}

    _slugs = field_validator("practices")(_check_slugs)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(DATABASE_SCHEMES):
            raise ValueError(
                "unsupported database; use sqlite:///path/to/file.db or "
                "postgresql://user@host:port/database"
            )
        return value

    _file_plugin_config: dict[str, Any] = PrivateAttr(default_factory=dict)
    """``plugins.config`` as the TOML file wrote it: secrets there are refused once the
    plugins' models say which keys are secret."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_file = os.environ.get(f"{ENV_PREFIX}SECRETS_FILE")
        if secrets_file:
            sources.append(DotEnvSettingsSource(settings_cls, env_file=secrets_file))
        path = _config_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def plugin_config_in_file(self, plugin: str) -> Any:
        """``plugins.config.<plugin>`` exactly as the config file wrote it (no environment)."""
        return self._file_plugin_config.get(plugin, {})

    def practice(self, practice_id: str) -> PracticeSettings:
        try:
            return self.practices[practice_id]
        except KeyError:
            raise ConfigError(f"practices.{practice_id}: no such practice") from None


def unknown_practices(settings: Settings, plugin: str, slugs: Iterable[str]) -> list[str]:
    """One line per slug of a plugin's ``plugins.config.<plugin>.practices`` table that names no
    practice in ``practices`` (the usual first cross-check of per-practice plugin settings)."""
    return [
        f"plugins.config.{plugin}.practices.{slug}: no such practice in practices.{slug}"
        for slug in slugs
        if slug not in settings.practices
    ]


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line per problem, each starting with the dotted key path."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            variable = ENV_PREFIX + path.upper().replace(".", "__")
            message = (
                f"required: set it in the config file or as {variable} "
                "(a secret: as that variable or in the secrets file only)"
            )
        lines.append(f"{path or '(top level)'}: {message}")
    return "\n".join(lines)


def _without_none(annotation: Any) -> Any:
    """``X`` for ``X | None``; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def secret_paths(value: Any, annotation: Any, path: str) -> list[str]:
    """Key paths under ``path`` where ``value`` (raw TOML data) sets a ``SecretStr`` field of
    ``annotation`` — at any depth: tables of models, tables of secrets, optional fields."""
    annotation = _without_none(annotation)
    if annotation is SecretStr:
        return [path]
    origin, args = get_origin(annotation), get_args(annotation)
    found: list[str] = []
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        for key, item in value.items():
            found.extend(secret_paths(item, args[1], f"{path}.{key}"))
    elif origin is list and args and isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(secret_paths(item, args[0], f"{path}.{index}"))
    elif (
        isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
        and isinstance(value, dict)
    ):
        for key, item in value.items():
            field = annotation.model_fields.get(key)
            if field is not None:
                found.extend(secret_paths(item, field.annotation, f"{path}.{key}"))
    return found


def secrets_refused(paths: list[str]) -> ConfigError:
    return ConfigError(
        "\n".join(
            f"{key}: secrets are read from the environment or the secrets file "
            f"({ENV_PREFIX}SECRETS_FILE), never from the config file"
            for key in paths
        )
    )


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the configuration, raising :class:`ConfigError` with key paths."""
    secrets_file = os.environ.get(f"{ENV_PREFIX}SECRETS_FILE")
    if secrets_file and not Path(secrets_file).is_file():
        raise ConfigError(f"{ENV_PREFIX}SECRETS_FILE: no such file {secrets_file}")
    raw_path = config if config is not None else os.environ.get(f"{ENV_PREFIX}CONFIG")
    path = Path(raw_path) if raw_path else None
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config: no such file {path}")
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
        found = [key.removeprefix(".") for key in secret_paths(document, Settings, "")]
        if found:
            raise secrets_refused(found)
    token = _config_path.set(path)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    finally:
        _config_path.reset(token)
    if path is not None:
        file_plugins = document.get("plugins", {})
        settings._file_plugin_config = (
            file_plugins.get("config", {}) if isinstance(file_plugins, dict) else {}
        )
    return settings


SectionT = TypeVar("SectionT", bound=BaseModel)
T = TypeVar("T")


_built: dict[int, dict[Hashable, Any]] = {}
_building = threading.RLock()  # re-entrant: building one thing may need another


def built_once(settings: Settings, key: Hashable, build: Callable[[], T]) -> T:
    """``build()``'s result, made once per loaded configuration object.

    For what is derived from the configuration alone (a plugin's validated settings, a
    channel client): hooks ask for it on every delivery, and a configuration is never changed
    once loaded. The results are forgotten with the object (a copy starts afresh), and a
    failing ``build`` is not kept, so the error shows on every call.
    """
    with _building:
        cache = _built.get(id(settings))
        if cache is None:
            cache = _built[id(settings)] = {}
            weakref.finalize(settings, _built.pop, id(settings), None)
        if key not in cache:
            cache[key] = build()
        found: T = cache[key]
    return found


def plugin_config(settings: Settings, plugin: str, model: type[SectionT]) -> SectionT:
    """``plugins.config.<plugin>`` validated against the plugin's own model, once per loaded
    configuration. The engine validates every declared model at start-up (see
    :func:`integration_core.startup.check_startup`), so a hook asking later gets the same object."""

    def build() -> SectionT:
        try:
            return model.model_validate(settings.plugins.config.get(plugin, {}))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, f"plugins.config.{plugin}")) from None

    return built_once(settings, ("plugin_config", plugin, model), build)
