"""Per-feature summaries ("sketches") of data for the drift monitor, and their comparison.

A snapshot stores one sketch per feature, never the data:

- numeric: ``rows``, ``count`` (non-null), ``min``/``max``/``mean``/``std`` and the
  ``QUANTILES + 1`` quantiles at probabilities ``0, 1/QUANTILES, …, 1`` (a quantile sketch,
  about 4 KB of JSON whatever the size of the data);
- categorical (text, category, bool): ``rows``, ``count`` and the count of each of the
  ``MAX_CATEGORIES`` most frequent values, ``other`` counting the rest.

Where the data is large it is summarized in the database: a stored dataset on PostgreSQL with
``percentile_cont(ARRAY[…]) WITHIN GROUP (ORDER BY x)`` per numeric column and a ``GROUP BY``
per categorical one (the dataset profile's queries, on its read-only snapshot); the inputs
logged by tracked predictions with the same aggregates over the events' JSON
(``jsonb_array_elements``). On SQLite (single-user, embedded) the columns are read and
summarized with numpy.

Comparing two sketches (:func:`compare_sketches`), all statistics from ``scipy.stats``:

- ``ks``: the two-sample Kolmogorov-Smirnov statistic is the largest distance between the two
  empirical distribution functions, here evaluated from the quantile sketches (linear between
  quantiles) at every quantile of both; its p-value is ``scipy.stats.kstwo`` with the
  effective sample size ``n·m/(n+m)`` (what ``ks_2samp``'s asymptotic method uses). The
  sketch's resolution bounds the statistic's error to well below the default threshold.
- ``chi2``: ``scipy.stats.chi2_contingency`` of the two count tables (categorical).
- ``psi``: the population stability index, the symmetric Kullback-Leibler divergence of the
  two shares (``scipy.stats.entropy`` both ways); for a numeric feature over the baseline's
  deciles.

A test drifts when it passes its thresholds (:data:`THRESHOLDS`); a feature drifts when any of
its tests does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

QUANTILES = 200
PROBS = [i / QUANTILES for i in range(QUANTILES + 1)]
MAX_CATEGORIES = 200
PSI_BINS = 10
# per test: a feature drifts when the p-value is below ``pvalue`` and the statistic at least
# ``statistic`` (the effect that matters: with millions of rows any difference is significant)
THRESHOLDS: dict[str, dict[str, float]] = {
    "ks": {"pvalue": 0.01, "statistic": 0.05},
    "chi2": {"pvalue": 0.01},
    "psi": {"statistic": 0.2},
}


def thresholds(overrides: dict[str, dict[str, float]] | None = None) -> dict[str, dict]:
    """:data:`THRESHOLDS` with ``overrides`` (per test, per bound) applied."""
    from omega_jupyter.exceptions import InvalidParameterError

    merged = {test: dict(bounds) for test, bounds in THRESHOLDS.items()}
    for test, bounds in (overrides or {}).items():
        if test not in merged or not isinstance(bounds, dict):
            raise InvalidParameterError(
                f"thresholds: {test!r} is not a test; use {', '.join(THRESHOLDS)}"
            )
        for bound, value in bounds.items():
            if bound not in ("pvalue", "statistic") or not isinstance(value, int | float):
                raise InvalidParameterError(
                    f"thresholds[{test!r}]: {bound!r} must be 'pvalue' or 'statistic' with a number"
                )
            merged[test][bound] = float(value)
    return merged


# -- sketches from a frame (numpy) ---------------------------------------------------------
def is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def numeric_sketch(values: np.ndarray, rows: int) -> dict[str, Any]:
    clean = values[np.isfinite(values)]
    sketch: dict[str, Any] = {"kind": "numeric", "rows": int(rows), "count": len(clean)}
    if len(clean):
        sketch.update(
            min=float(clean.min()),
            max=float(clean.max()),
            mean=float(clean.mean()),
            std=float(clean.std(ddof=1)) if len(clean) > 1 else 0.0,
            quantiles=[float(q) for q in np.quantile(clean, PROBS)],
        )
    return sketch


def categorical_sketch(counts: dict[str, int], rows: int) -> dict[str, Any]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[:MAX_CATEGORIES])
    total = sum(counts.values())
    return {
        "kind": "categorical",
        "rows": int(rows),
        "count": int(total),
        "counts": {str(k): int(v) for k, v in kept.items()},
        "other": int(total - sum(kept.values())),
    }


def frame_sketches(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """One sketch per column of ``frame``."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if is_numeric(values):
            out[str(column)] = numeric_sketch(values.to_numpy(dtype=float), len(values))
        else:
            counts = values.dropna().astype(str).value_counts()
            out[str(column)] = categorical_sketch(
                {str(k): int(v) for k, v in counts.items()}, len(values)
            )
    return out


# -- sketches computed in PostgreSQL ----------------------------------------------------------
def dataset_sketches(store: Any, name: str) -> dict[str, dict[str, Any]] | None:
    """Sketches of a stored DataFrame's columns computed in PostgreSQL, on the read-only
    snapshot the dataset profile uses; None where that does not apply (SQLite, not a frame)."""
    if not store.db.is_postgres:
        return None
    from omega_jupyter.datasets.backends import select_columns
    from omega_jupyter.datasets.lazy.expressions import family
    from omega_jupyter.datasets.lazy.plan import source_plan
    from omega_jupyter.datasets.profile import _number, _snapshot, _top_values

    ref = store.reference(name)
    meta = store.meta.resolve(ref)
    if meta.kind != "pandas.dataframe":
        return None
    plan = source_plan(store, meta, select_columns(meta.kind_meta["columns"], ref, None))
    numeric = [c for c in plan.columns if family(c.spec) == "number"]
    categorical = [c for c in plan.columns if family(c.spec) in ("text", "category", "bool")]
    probs = sa.literal(PROBS, sa.ARRAY(sa.Double))
    outputs: list[Any] = [sa.func.count()]
    for col in numeric:
        x = _number(col)
        outputs += [
            sa.func.count(x),
            sa.func.min(x),
            sa.func.max(x),
            sa.func.avg(x),
            sa.func.stddev_samp(x),
            sa.func.percentile_cont(probs).within_group(x),
        ]
    for col in categorical:
        outputs.append(sa.func.count(col.expr))
    out: dict[str, dict[str, Any]] = {}
    with _snapshot(store, meta, exact=True) as conn:  # percentile sorts: the sorts' work_mem
        row = conn.execute(sa.select(*outputs).select_from(plan.base)).one()
        rows, i = int(row[0]), 1
        for col in numeric:
            count, lo, hi, mean, std, quantiles = row[i : i + 6]
            i += 6
            sketch: dict[str, Any] = {"kind": "numeric", "rows": rows, "count": int(count)}
            if count and quantiles is not None and all(map(math.isfinite, quantiles)):
                sketch.update(
                    min=float(lo),
                    max=float(hi),
                    mean=float(mean),
                    std=float(std or 0.0),
                    quantiles=[float(q) for q in quantiles],
                )
            elif count:  # NaN (a value in PostgreSQL, sorted last) or infinities: numpy
                values = pd.read_sql(sa.select(_number(col)).select_from(plan.base), conn).iloc[
                    :, 0
                ]
                sketch = numeric_sketch(values.to_numpy(dtype=float), rows)
            out[str(col.label)] = sketch
        for col in categorical:
            count = int(row[i])
            i += 1
            top = _top_values(conn, plan, col, MAX_CATEGORIES + 1) if count else []
            counts = {str(t["value"]): int(t["count"]) for t in top}
            sketch = categorical_sketch(counts, rows)
            sketch["count"] = count
            sketch["other"] = count - sum(sketch["counts"].values())
            out[str(col.label)] = sketch
    return out


_PREDICTION_VALUES = """
SELECT c.value #>> '{}' AS feature, r.value -> (c.ord::int - 1) AS v
FROM om_experiment_events e
CROSS JOIN LATERAL jsonb_array_elements(e.data -> 'inputs' -> 'data') AS r(value)
CROSS JOIN LATERAL jsonb_array_elements(e.data -> 'inputs' -> 'columns')
    WITH ORDINALITY AS c(value, ord)
WHERE e.bucket = :bucket AND e.experiment = :experiment AND e.event = 'predict'
  AND e.model = :model AND e.dt > :since
  AND jsonb_typeof(e.data -> 'inputs' -> 'columns') = 'array'
  AND jsonb_typeof(r.value) = 'array'
"""


def prediction_sketches(
    conn: Any, bucket: str, experiment: str, model: str, since: Any
) -> tuple[dict[str, dict[str, Any]], int]:
    """Sketches of the inputs logged by a tracked model's predictions after ``since``,
    computed in PostgreSQL over the events' JSON; also the number of input rows."""
    params = {"bucket": bucket, "experiment": experiment, "model": model, "since": since}
    kinds = conn.execute(
        sa.text(
            f"SELECT feature, count(*) AS n_rows,"
            f" count(*) FILTER (WHERE jsonb_typeof(v) = 'number') AS n_numbers,"
            f" count(*) FILTER (WHERE jsonb_typeof(v) IN ('string', 'boolean')) AS n_labels"
            f" FROM ({_PREDICTION_VALUES}) s GROUP BY feature ORDER BY feature"
        ),
        params,
    ).all()
    out: dict[str, dict[str, Any]] = {}
    rows = 0
    numbers = []
    for feature, n_rows, n_numbers, n_labels in kinds:
        rows = max(rows, int(n_rows))
        if n_numbers and not n_labels:
            numbers.append(feature)
        else:
            out[feature] = {"kind": "categorical", "rows": int(n_rows)}
    if numbers:
        stats = conn.execute(
            sa.text(
                f"SELECT feature, count(*), count(x), min(x), max(x), avg(x), stddev_samp(x),"
                f" percentile_cont(CAST(:probs AS double precision[])) WITHIN GROUP (ORDER BY x)"
                f" FROM (SELECT feature, CASE WHEN jsonb_typeof(v) = 'number'"
                f" THEN (v #>> '{{}}')::double precision END AS x"
                f" FROM ({_PREDICTION_VALUES}) s0) s"
                f" WHERE feature = ANY(:features) GROUP BY feature"
            ),
            {**params, "probs": PROBS, "features": numbers},
        ).all()
        for feature, n_rows, count, lo, hi, mean, std, quantiles in stats:
            out[feature] = {
                "kind": "numeric",
                "rows": int(n_rows),
                "count": int(count),
                "min": float(lo),
                "max": float(hi),
                "mean": float(mean),
                "std": float(std or 0.0),
                "quantiles": [float(q) for q in quantiles],
            }
    labels = [f for f, s in out.items() if s["kind"] == "categorical"]
    if labels:
        counted: dict[str, dict[str, int]] = {f: {} for f in labels}
        for feature, value, n in conn.execute(
            sa.text(
                f"SELECT feature, v #>> '{{}}' AS value, count(*) FROM ({_PREDICTION_VALUES}) s"
                f" WHERE feature = ANY(:features) AND jsonb_typeof(v) <> 'null'"
                f" GROUP BY feature, value"
            ),
            {**params, "features": labels},
        ):
            counted[feature][str(value)] = int(n)
        for feature in labels:
            out[feature] = categorical_sketch(counted[feature], out[feature]["rows"])
    return out, rows


# -- comparing two sketches -----------------------------------------------------------------
def _cdf(sketch: dict[str, Any], at: np.ndarray) -> np.ndarray:
    """The sketch's distribution function at ``at``: right-continuous at repeated quantiles
    (a value many rows share), linear between distinct quantiles."""
    q = np.asarray(sketch["quantiles"], dtype=float)
    p = np.asarray(PROBS, dtype=float)
    distinct, last = np.unique(q[::-1], return_index=True)  # the highest prob of each value
    highest = p[::-1][last]
    return np.interp(at, distinct, highest, left=0.0, right=1.0)


def ks(a: dict[str, Any], b: dict[str, Any], stats: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value of two numeric sketches."""
    at = np.union1d(a["quantiles"], b["quantiles"])
    statistic = float(np.max(np.abs(_cdf(a, at) - _cdf(b, at))))
    n, m = a["count"], b["count"]
    effective = max(1, round(n * m / (n + m)))
    pvalue = float(stats.kstwo.sf(statistic, effective)) if statistic > 0 else 1.0
    return statistic, min(1.0, max(0.0, pvalue))


def psi(expected: np.ndarray, actual: np.ndarray, stats: Any) -> float:
    """Population stability index of two count vectors over the same bins."""
    table = np.vstack([expected, actual]).astype(float) + 0.5  # no empty bins
    share = table / table.sum(axis=1, keepdims=True)
    return float(stats.entropy(share[1], share[0]) + stats.entropy(share[0], share[1]))


def numeric_psi(a: dict[str, Any], b: dict[str, Any], stats: Any) -> float:
    """PSI of ``b`` against the deciles of ``a`` (the baseline)."""
    edges = np.unique(np.quantile(a["quantiles"], np.linspace(0, 1, PSI_BINS + 1))[1:-1])
    fa = np.concatenate([[0.0], _cdf(a, edges), [1.0]])
    fb = np.concatenate([[0.0], _cdf(b, edges), [1.0]])
    return psi(np.diff(fa) * a["count"], np.diff(fb) * b["count"], stats)


def chi2(a: dict[str, Any], b: dict[str, Any], stats: Any) -> tuple[float, float, float]:
    """chi-square statistic and p-value of two categorical sketches' counts, and their PSI."""
    categories = sorted(set(a["counts"]) | set(b["counts"]))
    table = np.array(
        [
            [a["counts"].get(c, 0) for c in categories] + [a.get("other", 0)],
            [b["counts"].get(c, 0) for c in categories] + [b.get("other", 0)],
        ],
        dtype=float,
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0, 0.0
    statistic, pvalue, _dof, _expected = stats.chi2_contingency(table)
    return float(statistic), float(pvalue), psi(table[0], table[1], stats)


def compare_sketches(
    a: dict[str, Any], b: dict[str, Any], limits: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """The tests of one feature: ``kind``, ``tests`` ({name: statistic, pvalue, drift}) and
    the feature's ``drift``."""
    from scipy import stats  # the monitor's one optional dependency

    tests: dict[str, dict[str, Any]] = {}
    if a["kind"] == "numeric" and b["kind"] == "numeric":
        kind = "numeric"
        if a.get("quantiles") and b.get("quantiles"):
            d, p = ks(a, b, stats)
            tests["ks"] = {"statistic": d, "pvalue": p}
            tests["psi"] = {"statistic": numeric_psi(a, b, stats), "pvalue": None}
    else:
        kind = "categorical"
        if a["kind"] == "categorical" and b["kind"] == "categorical":
            statistic, p, index = chi2(a, b, stats)
            tests["chi2"] = {"statistic": statistic, "pvalue": p}
            tests["psi"] = {"statistic": index, "pvalue": None}
    for name, result in tests.items():
        bounds = limits[name]
        drift = True
        if "pvalue" in bounds:
            drift = drift and result["pvalue"] is not None and result["pvalue"] < bounds["pvalue"]
        if "statistic" in bounds:
            drift = drift and result["statistic"] >= bounds["statistic"]
        result["drift"] = bool(drift)
    return {
        "kind": kind,
        "tests": tests,
        "drift": any(t["drift"] for t in tests.values()),
        "baseline_rows": a.get("count"),
        "current_rows": b.get("count"),
    }
