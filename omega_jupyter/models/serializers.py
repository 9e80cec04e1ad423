"""Model serializers: skops (no pickle; the default) and joblib (pickle; opt-in and opt-in to load).

The types skops may load beyond its own safe defaults are listed here, in code: what a stored
file says it contains is checked against this list and never widens it.
"""

from __future__ import annotations

import io
import platform
import warnings
from typing import Any, Protocol

from omega_jupyter.exceptions import UnsupportedObjectError, UntrustedModelError

# Types skops reports as untrusted that scikit-learn estimators commonly contain. They are
# trusted because model blobs are written by this store and checked against their sha256.
TRUSTED_SKOPS_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance32",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
)


class Serializer(Protocol):
    name: str

    def dumps(self, model: Any) -> bytes: ...

    def loads(self, data: bytes, trust_pickle: bool) -> Any: ...

    def library_versions(self) -> dict[str, str]: ...


def environment_versions() -> dict[str, str]:
    """Versions that decide whether a stored model loads and behaves the same."""
    import numpy
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "sklearn": sklearn.__version__,
    }


class SkopsSerializer:
    name = "skops"

    def dumps(self, model: Any) -> bytes:
        import skops.io as sio

        try:
            data = sio.dumps(model)
        except (TypeError, NotImplementedError, AttributeError, ValueError) as exc:
            raise UnsupportedObjectError(
                f"skops cannot store a {type(model).__qualname__} ({exc}); store it with "
                "serializer='joblib' (loading it then needs OMEGA_TRUST_PICKLE=1)"
            ) from exc
        untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_SKOPS_TYPES)
        if untrusted:
            raise UnsupportedObjectError(
                f"a {type(model).__qualname__} contains types skops does not trust "
                f"({', '.join(sorted(untrusted))}); store it with serializer='joblib' "
                "(loading it then needs OMEGA_TRUST_PICKLE=1)"
            )
        return data

    def loads(self, data: bytes, trust_pickle: bool) -> Any:
        import skops.io as sio

        found = set(sio.get_untrusted_types(data=data))
        refused = found - set(TRUSTED_SKOPS_TYPES)
        if refused:
            raise UntrustedModelError(
                "the stored model contains types that are not trusted: "
                + ", ".join(sorted(refused))
            )
        return sio.loads(data, trusted=sorted(found))

    def library_versions(self) -> dict[str, str]:
        import skops

        return {"skops": skops.__version__}


class JoblibSerializer:
    name = "joblib"

    def dumps(self, model: Any) -> bytes:
        import joblib

        buffer = io.BytesIO()
        try:
            joblib.dump(model, buffer)
        except Exception as exc:  # pickling errors come in many types
            raise UnsupportedObjectError(f"joblib cannot store this model: {exc}") from exc
        return buffer.getvalue()

    def loads(self, data: bytes, trust_pickle: bool) -> Any:
        if not trust_pickle:
            raise UntrustedModelError(
                "this model version was stored with joblib (pickle), which can run arbitrary "
                "code when loaded; set OMEGA_TRUST_PICKLE=1 (or setup(trust_pickle=True)) "
                "if you trust whoever stored it"
            )
        import joblib

        return joblib.load(io.BytesIO(data))

    def library_versions(self) -> dict[str, str]:
        import joblib

        return {"joblib": joblib.__version__}


SERIALIZERS: dict[str, Serializer] = {"skops": SkopsSerializer(), "joblib": JoblibSerializer()}
# Formats whose loading runs no code of the stored file (the types are checked against
# TRUSTED_SKOPS_TYPES). Any other format is a pickle: loading and calling it runs its code.
RUNS_NO_STORED_CODE = frozenset({"skops"})


def serializer(name: str) -> Serializer:
    try:
        return SERIALIZERS[name]
    except KeyError:
        raise UnsupportedObjectError(
            f"unknown serializer {name!r}; use one of {', '.join(SERIALIZERS)}"
        ) from None


def warn_on_version_mismatch(name: str, version: int, stored: dict[str, str]) -> None:
    """Warn when a model is loaded under other library versions than it was stored with."""
    current = environment_versions()
    changed = [
        f"{lib} {stored[lib]} -> {current[lib]}"
        for lib in ("sklearn", "numpy", "python")
        if lib in stored and stored[lib] != current[lib]
    ]
    if changed:
        warnings.warn(
            f"model {name!r} version {version} was stored under other library versions "
            f"({'; '.join(changed)}); its behaviour may differ",
            ModelVersionWarning,
            stacklevel=3,
        )


class ModelVersionWarning(UserWarning):
    """A model is loaded under other library versions than it was stored with."""
