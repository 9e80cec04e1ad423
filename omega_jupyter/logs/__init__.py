"""Logging to the database: ``om.logger`` and a standard ``logging.Handler``."""

from omega_jupyter.logs.logger import OmegaLogger, OmegaLogHandler, current_run

__all__ = ["OmegaLogHandler", "OmegaLogger", "current_run"]
