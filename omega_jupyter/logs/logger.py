"""``om.logger``: log lines in the database, tagged with the run they were written in."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.runtime.tables import logs
from omega_jupyter.storage.metadata import now

if TYPE_CHECKING:
    from omega_jupyter.client import Omega

current_run: ContextVar[str | None] = ContextVar("omega_current_run", default=None)
"""The id of the run the current code executes in (set by the worker-side task)."""

PRUNE_EVERY = 500  # writes between retention checks


class OmegaLogger:
    """Write and read log lines of one bucket."""

    def __init__(self, om: Omega, name: str = "omega") -> None:
        self.om = om
        self.name = name
        self._writes = 0

    # -- writing --------------------------------------------------------------------------
    def log(self, level: int | str, msg: Any, **extra: Any) -> None:
        """Store one line; inside a run it carries the run id."""
        number = _level_number(level)
        record = {
            "bucket": self.om.bucket,
            "created": now(),
            "level": number,
            "levelname": logging.getLevelName(number),
            "logger": str(extra.pop("logger", self.name))[:255],
            "message": str(msg),
            "run_id": extra.pop("run_id", None) or current_run.get(),
            "extra": _jsonable(extra) if extra else None,
        }
        db = self.om.db
        db.ensure_schema()
        with db.begin() as conn:
            conn.execute(sa.insert(logs).values(**record))
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            self.prune()

    def debug(self, msg: Any, **extra: Any) -> None:
        self.log(logging.DEBUG, msg, **extra)

    def info(self, msg: Any, **extra: Any) -> None:
        self.log(logging.INFO, msg, **extra)

    def warning(self, msg: Any, **extra: Any) -> None:
        self.log(logging.WARNING, msg, **extra)

    def error(self, msg: Any, **extra: Any) -> None:
        self.log(logging.ERROR, msg, **extra)

    def handler(self, level: int | str = logging.INFO) -> OmegaLogHandler:
        """A :class:`logging.Handler` writing here (``logging.getLogger().addHandler(h)``)."""
        return OmegaLogHandler(self, level=_level_number(level))

    def prune(self) -> int:
        """Apply retention to this bucket: drop lines older than ``log_retention_days``, then the
        oldest lines beyond ``log_max_rows``. Returns the number of lines removed."""
        settings = self.om.settings
        cutoff = now() - timedelta(days=settings.log_retention_days)
        db = self.om.db
        db.ensure_schema()
        with db.begin() as conn:
            mine = logs.c.bucket == self.om.bucket
            removed = conn.execute(sa.delete(logs).where(mine & (logs.c.created < cutoff))).rowcount
            total = conn.execute(sa.select(sa.func.count()).where(mine)).scalar_one()
            excess = total - settings.log_max_rows
            if excess > 0:
                oldest = (
                    sa.select(logs.c.id).where(mine).order_by(logs.c.id).limit(excess)
                ).scalar_subquery()
                removed += conn.execute(sa.delete(logs).where(logs.c.id.in_(oldest))).rowcount
        return removed

    # -- reading --------------------------------------------------------------------------
    def dataframe(
        self,
        level: int | str | None = None,
        run: str | None = None,
        since: datetime | timedelta | str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Lines of this bucket, oldest first: at least ``level``, of one ``run``, after ``since``
        (a datetime, a timedelta back from now, or an ISO string); the newest ``limit``."""
        query = self._query(level, run, since).order_by(logs.c.id.desc())
        if limit is not None:
            query = query.limit(int(limit))
        rows = self._fetch(query)[::-1]
        columns = ["id", "created", "levelname", "logger", "message", "run_id", "extra"]
        frame = pd.DataFrame([dict(r._mapping) for r in rows], columns=[*columns, "level"])
        return frame[[*columns[:2], "level", *columns[2:]]]

    def tail(
        self,
        n: int = 10,
        follow: bool = False,
        run: str | None = None,
        level: int | str | None = None,
        interval: float = 0.5,
    ) -> list[str] | Iterator[str]:
        """The last ``n`` lines, formatted; with ``follow=True`` an endless iterator that also
        yields new lines as they are written (stop it with Ctrl-C or by breaking out)."""
        query = self._query(level, run, None).order_by(logs.c.id.desc()).limit(int(n))
        first = self._fetch(query)[::-1]
        if not follow:
            return [format_line(r) for r in first]
        return self._follow(first, run, level, interval)

    def _follow(
        self, first: list[Any], run: str | None, level: Any, interval: float
    ) -> Iterator[str]:
        last_id = 0
        for row in first:
            last_id = row.id
            yield format_line(row)
        while True:
            rows = self._fetch(
                self._query(level, run, None).where(logs.c.id > last_id).order_by(logs.c.id)
            )
            for row in rows:
                last_id = row.id
                yield format_line(row)
            if not rows:
                time.sleep(interval)

    def _query(self, level: Any, run: str | None, since: Any) -> sa.Select:
        query = sa.select(logs).where(logs.c.bucket == self.om.bucket)
        if level is not None:
            query = query.where(logs.c.level >= _level_number(level))
        if run is not None:
            query = query.where(logs.c.run_id == run)
        if since is not None:
            query = query.where(logs.c.created >= _since(since))
        return query

    def _fetch(self, query: sa.Select) -> list[Any]:
        db = self.om.db
        db.ensure_schema()
        with db.connect() as conn:
            return list(conn.execute(query))


class OmegaLogHandler(logging.Handler):
    """Sends standard :mod:`logging` records to ``om.logger`` (with the current run id)."""

    def __init__(self, logger: OmegaLogger, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.omega_logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.omega_logger.log(record.levelno, self.format(record), logger=record.name)
        except Exception:
            self.handleError(record)


def format_line(row: Any) -> str:
    m = row._mapping
    created = m["created"]
    stamp = created.strftime("%Y-%m-%d %H:%M:%S") if created else ""
    run = f" [{m['run_id'][:8]}]" if m["run_id"] else ""
    return f"{stamp} {m['levelname']:<7}{run} {m['message']}"


def _level_number(level: int | str) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise ConfigurationError(
            f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return number


def _since(since: datetime | timedelta | str) -> datetime:
    if isinstance(since, timedelta):
        return now() - since
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    if since.tzinfo is None:
        since = since.astimezone()
    return since


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(extra, default=str))
