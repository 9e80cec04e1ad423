"""om.logger: lines in the database, filters, tail/follow, the logging.Handler, retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.logs import current_run
from omega_jupyter.runtime.tables import logs


def test_lines_with_levels_extra_and_run_ids(om: Omega) -> None:
    om.logger.debug("d")
    om.logger.info("loaded", rows=3, when=datetime(2026, 1, 1))
    token = current_run.set("a" * 32)
    try:
        om.logger.warning("inside a run")
    finally:
        current_run.reset(token)
    om.logger.error("boom")
    frame = om.logger.dataframe()
    assert frame["message"].tolist() == ["d", "loaded", "inside a run", "boom"]
    assert frame["levelname"].tolist() == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert frame["extra"].iloc[1] == {"rows": 3, "when": "2026-01-01 00:00:00"}
    assert om.logger.dataframe(level="warning")["message"].tolist() == ["inside a run", "boom"]
    assert om.logger.dataframe(run="a" * 32)["message"].tolist() == ["inside a run"]
    assert len(om.logger.dataframe(since=timedelta(minutes=5))) == 4
    assert om.logger.dataframe(since=datetime.now(UTC) + timedelta(hours=1)).empty
    assert om["other"].logger.dataframe().empty  # buckets keep their own lines
    with pytest.raises(ConfigurationError, match="unknown log level"):
        om.logger.dataframe(level="LOUD")


def test_tail_and_follow(om: Omega) -> None:
    for i in range(15):
        om.logger.info(f"line {i}")
    lines = om.logger.tail(3)
    assert [line.split("INFO")[-1].strip() for line in lines] == ["line 12", "line 13", "line 14"]
    follow = om.logger.tail(1, follow=True, interval=0.01)
    assert next(follow).endswith("line 14")
    om.logger.error("new one")
    assert next(follow).endswith("new one")
    follow.close()


def test_logging_handler(om: Omega) -> None:
    pylogger = logging.getLogger(f"omega-test-{om.bucket}")
    pylogger.setLevel(logging.DEBUG)
    handler = om.logger.handler(level="INFO")
    pylogger.addHandler(handler)
    try:
        pylogger.debug("too quiet")
        pylogger.info("from logging %s", "module")
    finally:
        pylogger.removeHandler(handler)
    frame = om.logger.dataframe()
    assert frame["message"].tolist() == ["from logging module"]
    assert frame["logger"].tolist() == [pylogger.name]


def test_retention_by_age_and_size(om: Omega) -> None:
    small = Omega(om.settings.replace(log_max_rows=3, log_retention_days=1))
    for i in range(5):
        small.logger.info(f"line {i}")
    with small.db.begin() as conn:
        conn.execute(
            sa.update(logs)
            .where((logs.c.bucket == om.bucket) & (logs.c.message == "line 4"))
            .values(created=datetime.now(UTC) - timedelta(days=2))
        )
    removed = small.logger.prune()
    remaining = small.logger.dataframe()["message"].tolist()
    assert "line 4" not in remaining and len(remaining) <= 3
    assert removed >= 2
