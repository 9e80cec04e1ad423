"""One resolved Settings object: arguments > ``OMEGA_*`` environment > config file > defaults."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omega_jupyter.exceptions import ConfigurationError

CONFIG_FILENAME = "config.toml"


def _default_home() -> Path:
    return Path("~/.omega_jupyter").expanduser()


@dataclass(frozen=True)
class Settings:
    """Everything a client needs to know; build it with :meth:`Settings.resolve`."""

    home: Path = field(default_factory=_default_home)
    database_url: str | None = None  # None: SQLite file in ``home``
    bucket: str = "default"
    dataset_versions: int = 1
    dask_address: str | None = None
    trust_pickle: bool = False
    log_retention_days: int = 30  # log lines older than this are pruned
    log_max_rows: int = 1_000_000  # per bucket; the oldest lines go first
    chunk_rows: int = 100_000
    blob_chunk_bytes: int = 4 * 1024 * 1024
    # the longest a run may take with its bucket credential (runtime/service.credential_ttl)
    max_run_seconds: int = 24 * 3600
    # apps (apps/app_run.py): crashes after which an app's run is failed, and the address its
    # process listens on (0.0.0.0 on a cluster whose proxy reaches workers over the network)
    app_max_crashes: int = 3
    app_bind: str = "127.0.0.1"
    # kernels kept started per worker process, kernel name and bucket for notebook runs
    # (jobs/kernel_pool.py); 0 starts every run's kernel cold
    warm_kernels: int = 1
    # om scheduler: a running run without heartbeat for this long is failed (or retried); a
    # queued run this old is failed only if Dask no longer holds its task (runtime/reconcile.py)
    stale_after_seconds: int = 15
    queued_after_seconds: int = 600

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'omega.db'}"

    @classmethod
    def resolve(cls, **overrides: Any) -> Settings:
        """Resolve settings: non-None ``overrides`` > environment > config file > defaults.

        The config file is ``$OMEGA_HOME/config.toml`` with the same keys as the fields
        (``database_url = "postgresql+psycopg://..."``).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        home = overrides.get("home") or os.environ.get("OMEGA_HOME")
        home_path = Path(home).expanduser() if home else _default_home()
        values.update(_read_config_file(home_path / CONFIG_FILENAME, names))
        for name in names:
            env = os.environ.get(f"OMEGA_{name.upper()}")
            if env not in (None, ""):
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["home"] = home_path
        return cls(**{k: _convert(k, v) for k, v in values.items()})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _read_config_file(path: Path, names: set[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc
    unknown = set(data) - names
    if unknown:
        raise ConfigurationError(f"unknown key(s) in {path}: {', '.join(sorted(unknown))}")
    return data


_ZERO_ALLOWED = {"warm_kernels"}  # integer settings where 0 means "off"
_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _convert(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if kind == "bool" and isinstance(value, str):
            low = value.strip().lower()
            if low not in _BOOL_TRUE | _BOOL_FALSE:
                raise ValueError(f"expected one of {sorted(_BOOL_TRUE | _BOOL_FALSE)}")
            return low in _BOOL_TRUE
        if kind == "int":
            number = int(value)
            if number < (0 if name in _ZERO_ALLOWED else 1):
                raise ValueError(f"must be >= {0 if name in _ZERO_ALLOWED else 1}")
            return number
        if kind == "Path":
            return Path(value).expanduser()
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"setting {name}={value!r} is invalid: {exc}") from exc
