"""Models: versioned, tagged, stored with skops (or joblib when asked)."""

from omega_jupyter.models.store import ModelStore

__all__ = ["ModelStore"]
