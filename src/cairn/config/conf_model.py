"""ConfModel: what every StarRocks-style `.conf` file of Cairn shares (fe.conf, cn.conf).

Unknown keys and JVM-only keys are accepted and reported once in the log, never fatal; a bad
value is one ConfigError naming the file and the key.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from cairn.config.conf_file import read_conf_file
from cairn.errors import ConfigError

log = logging.getLogger(__name__)

# Keys that only mean something to a JVM or to StarRocks' start scripts.
JVM_ONLY_KEYS = frozenset(
    {"JAVA_OPTS", "JAVA_OPTS_FOR_JDK_9", "JAVA_OPTS_FOR_JDK_11", "JAVA_HOME", "LOG_DIR", "DATE",
     "STARROCKS_HOME", "LOG_CONSOLE"}
)
_BOOKKEEPING = frozenset({"unknown_keys", "ignored_keys", "source"})
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
# StarRocks' values of sys_log_level.
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL")
# The longest duration a `*_seconds` key takes (about 31 years); a longer wait cannot be timed.
MAX_SECONDS = 1_000_000_000
_DURATION_SUFFIXES = ("_seconds", "_second", "_sec")


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


LogLevel = Annotated[str, AfterValidator(_log_level)]
Port = Annotated[int, Field(ge=0, le=65535)]


def conf_bool(value: Any) -> Any:
    """`true`/`false` as StarRocks' conf files write them (also 1/0, yes/no, on/off)."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return value


class ConfModel(BaseModel):
    """Base of a conf file's model. Subclasses declare their keys as fields."""

    model_config = ConfigDict(validate_assignment=True, extra="ignore", allow_inf_nan=False)
    FILE_NAME: ClassVar[str] = "conf"

    unknown_keys: list[str] = Field(default_factory=list, exclude=True)
    ignored_keys: list[str] = Field(default_factory=list, exclude=True)
    source: str = Field(default="<defaults>", exclude=True)

    @field_validator("*")
    @classmethod
    def _bounded_duration(cls, value: Any, info: ValidationInfo) -> Any:
        if (info.field_name or "").endswith(_DURATION_SUFFIXES) and isinstance(value, (int, float)) \
                and abs(value) > MAX_SECONDS:
            raise ValueError(f"must be at most {MAX_SECONDS} seconds")
        return value

    @classmethod
    def keys(cls) -> set[str]:
        """The keys this file understands."""
        return set(cls.model_fields) - _BOOKKEEPING

    @classmethod
    def from_mapping(cls, values: dict[str, str], source: str = "<mapping>") -> Self:
        """Build a config from raw `key = value` pairs, sorting out unknown and JVM-only keys."""
        known = cls.keys()
        accepted = {k: v for k, v in values.items() if k in known}
        try:
            config = cls.model_validate(accepted)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{source}: invalid value for '{key}': {first['msg']}") from None
        config.ignored_keys = sorted(k for k in values if k in JVM_ONLY_KEYS)
        config.unknown_keys = sorted(k for k in values if k not in known and k not in JVM_ONLY_KEYS)
        config.source = source
        config.after_load()
        return config

    def after_load(self) -> None:
        """Hook for a subclass: runs once the values are read (e.g. to register secrets)."""

    @classmethod
    def load(cls, path: str | Path | None) -> Self:
        """Read the conf file at `path`, or return the defaults when `path` is None."""
        if path is None:
            return cls()
        return cls.from_mapping(read_conf_file(path), str(path))

    def report_keys(self) -> None:
        """Log, once, the keys this process accepted but does not use."""
        if self.ignored_keys:
            log.info("%s: ignoring JVM-only keys: %s", self.FILE_NAME, ", ".join(self.ignored_keys))
        if self.unknown_keys:
            log.info("%s: ignoring keys Cairn does not use: %s", self.FILE_NAME, ", ".join(self.unknown_keys))

    def set_runtime(self, key: str, value: str) -> None:
        """Change a key at runtime (ADMIN SET FRONTEND CONFIG); raises ConfigError if unknown."""
        if key not in self.keys():
            raise ConfigError(f"Config '{key}' does not exist")
        try:
            setattr(self, key, value)
        except ValidationError as exc:
            raise ConfigError(f"invalid value for '{key}': {exc.errors()[0]['msg']}") from None

