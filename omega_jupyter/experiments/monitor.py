"""Drift monitoring of a tracked model: snapshots of its input features compared with a
baseline, per feature, with scipy's tests.

A snapshot is one ``snapshot`` event per feature in the model's tracking experiment
(``om.models.track``): for a numeric feature a sample of at most ``SAMPLE_SIZE`` values (a
random sample when there are more), for a categorical one the count of each category; ``value``
is the number of rows. Snapshots come from a frame, a dataset, or the inputs the model's tracked
predictions logged. A tracked fit takes the ``baseline`` snapshot from its training data.

``compare`` tests the latest snapshot against the latest baseline, per feature:
two-sample Kolmogorov-Smirnov (``scipy.stats.ks_2samp``) for numeric features, and for
categorical ones a chi-square test of the counts (``scipy.stats.chi2_contingency``) and the
population stability index (the symmetric Kullback-Leibler divergence,
``scipy.stats.entropy``). A feature drifts when the test's p-value is below ``p_threshold``
(default 0.01) or, for categories, the PSI exceeds ``psi_threshold`` (0.2).
Each comparison is logged as ``drift`` events (``value``: the statistic), so drift over time is
a query of the experiment.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from omega_jupyter.exceptions import InvalidParameterError, ObjectNotFoundError
from omega_jupyter.experiments.experiment import Experiment, VegaLite
from omega_jupyter.experiments.tables import events
from omega_jupyter.names import validate_name

SAMPLE_SIZE = 5_000
P_THRESHOLD = 0.01
PSI_THRESHOLD = 0.2
MAX_CATEGORIES = 200
COMPARE_COLUMNS = ["feature", "kind", "test", "statistic", "pvalue", "psi", "drift"]


def capture_frame(
    exp: Experiment, frame: pd.DataFrame, label: str, model: str, version: int | None
) -> str:
    """Log a snapshot of ``frame``'s columns into ``exp``; returns the snapshot's id."""
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame))
    if frame.empty:
        raise InvalidParameterError("a snapshot needs at least one row")
    snapshot = uuid.uuid4().hex
    rng = np.random.default_rng()
    rows = []
    now = datetime.now(UTC)
    for column in frame.columns:
        values = frame[column]
        base = {"snapshot": snapshot, "label": label, "rows": len(values)}
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            clean = values.dropna().to_numpy(dtype=float)
            if len(clean) > SAMPLE_SIZE:
                clean = rng.choice(clean, SAMPLE_SIZE, replace=False)
            data = {**base, "kind": "numeric", "values": [float(v) for v in clean]}
        else:
            counts = values.astype(str).value_counts().head(MAX_CATEGORIES)
            data = {
                **base,
                "kind": "categorical",
                "counts": {str(k): int(v) for k, v in counts.items()},
            }
        row = exp._row("snapshot", str(column), float(len(values)), data=data, dt=now)
        rows.append({**row, "model": model, "model_version": version})
    exp._recorder.add_many(rows)
    exp.flush()
    return snapshot


class DriftMonitor:
    """``om.runtime.model(name).monitor()``: snapshots and drift of a tracked model."""

    def __init__(self, om: Any, model: str) -> None:
        self.om = om
        self.model = model
        experiment = om.models.tracking(model)
        if experiment is None:
            raise InvalidParameterError(
                f"model {model!r} is not tracked: om.models.track({model!r}, 'experiment') first"
            )
        self.experiment = Experiment(om, experiment, model=model)

    def snapshot(
        self,
        data: pd.DataFrame | str | None = None,
        label: str = "current",
        since: datetime | None = None,
    ) -> str:
        """Snapshot ``data`` (a frame or a dataset name), or by default the inputs logged by
        the model's tracked predictions (``since`` a time; default: after the latest snapshot).
        ``label='baseline'`` makes it the baseline. Returns the snapshot's id."""
        if label not in ("baseline", "current"):
            raise InvalidParameterError("label must be 'baseline' or 'current'")
        version = None
        if isinstance(data, str):
            frame = self.om.datasets.get(data)
        elif data is None:
            frame, version = self._logged_inputs(since)
        else:
            frame = data
        return capture_frame(self.experiment, frame, label, self.model, version)

    def _logged_inputs(self, since: datetime | None) -> tuple[pd.DataFrame, int | None]:
        if since is None:
            latest = self.snapshots()
            since = latest["dt"].max().to_pydatetime() if not latest.empty else None
        query = sa.select(events.c.data, events.c.model_version).where(
            *self._where("predict"), events.c.model == self.model
        )
        if since is not None:
            query = query.where(events.c.dt > since)
        with self.om.db.connect() as conn:
            rows = conn.execute(query.order_by(events.c.id)).all()
        frames = []
        for data, _version in rows:
            inputs = (data or {}).get("inputs")
            if isinstance(inputs, dict) and "columns" in inputs:
                frames.append(pd.DataFrame(inputs["data"], columns=inputs["columns"]))
            elif isinstance(inputs, list) and inputs:
                frames.append(pd.DataFrame(inputs))
        if not frames:
            raise ObjectNotFoundError(
                f"no predictions of {self.model!r} logged since {since}: nothing to snapshot"
            )
        return pd.concat(frames, ignore_index=True), rows[-1][1]

    def _where(self, event: str) -> list[Any]:
        self.experiment.flush()
        return [
            events.c.bucket == self.om.bucket,
            events.c.experiment == self.experiment.name,
            events.c.event == event,
        ]

    def snapshots(self) -> pd.DataFrame:
        """One row per snapshot: ``snapshot``, ``label``, ``dt``, ``rows``, ``features``."""
        query = sa.select(events.c.key, events.c.value, events.c.data, events.c.dt).where(
            *self._where("snapshot"), events.c.model == self.model
        )
        with self.om.db.connect() as conn:
            rows = conn.execute(query.order_by(events.c.id)).all()
        out: dict[str, dict[str, Any]] = {}
        for key, value, data, dt in rows:
            entry = out.setdefault(
                data["snapshot"],
                {
                    "snapshot": data["snapshot"],
                    "label": data["label"],
                    "dt": dt,
                    "rows": int(value),
                },
            )
            entry.setdefault("features", []).append(key)
        frame = pd.DataFrame(
            list(out.values()), columns=["snapshot", "label", "dt", "rows", "features"]
        )
        frame["dt"] = pd.to_datetime(frame["dt"], utc=True)
        return frame

    def _features(self, snapshot: str) -> dict[str, dict]:
        query = sa.select(events.c.key, events.c.data).where(
            *self._where("snapshot"), events.c.model == self.model
        )
        with self.om.db.connect() as conn:
            rows = conn.execute(query).all()
        return {key: data for key, data in rows if data.get("snapshot") == snapshot}

    def compare(
        self,
        baseline: str | None = None,
        current: str | None = None,
        p_threshold: float = P_THRESHOLD,
        psi_threshold: float = PSI_THRESHOLD,
    ) -> pd.DataFrame:
        """Per feature: the test, its statistic and p-value, the PSI (categories) and whether
        it drifted; the latest baseline against the latest other snapshot by default. Logs
        the result as ``drift`` events."""
        from scipy import stats  # optional dependency of monitoring only

        snaps = self.snapshots()
        baseline = baseline or _latest(snaps, snaps["label"] == "baseline", "baseline")
        current = current or _latest(snaps, snaps["snapshot"] != baseline, "current")
        base, cur = self._features(baseline), self._features(current)
        results = []
        for feature in [f for f in base if f in cur]:
            a, b = base[feature], cur[feature]
            if a["kind"] == "numeric" and b["kind"] == "numeric":
                test = stats.ks_2samp(a["values"], b["values"])
                statistic, pvalue, psi = float(test.statistic), float(test.pvalue), None
                drift = pvalue < p_threshold
                name = "ks"
            else:
                statistic, pvalue, psi = _categorical(a, b, stats)
                drift = pvalue < p_threshold or psi > psi_threshold
                name = "chi2"
            results.append([feature, a["kind"], name, statistic, pvalue, psi, bool(drift)])
        frame = pd.DataFrame(results, columns=COMPARE_COLUMNS)
        now = datetime.now(UTC)
        exp = self.experiment
        exp._recorder.add_many(
            [
                exp._row(
                    "drift",
                    r["feature"],
                    r["statistic"],
                    data={**r, "baseline": baseline, "current": current},
                    dt=now,
                )
                for r in frame.to_dict("records")
            ]
        )
        exp.flush()
        return frame

    def check(self, stream: str | None = None, since: datetime | None = None) -> pd.DataFrame:
        """Snapshot the predictions logged since the last snapshot and compare them with the
        baseline; when a feature drifts, log a warning and (with ``stream``) append an alert
        ``{"model", "experiment", "drifted": [features], "result": [...]}`` to that stream.
        Meant to be scheduled: a notebook or script that calls it, under ``om.jobs.schedule``."""
        if stream is not None:
            validate_name(stream)
        self.snapshot(since=since)
        result = self.compare()
        drifted = result.loc[result["drift"], "feature"].tolist()
        if drifted:
            alert = {
                "model": self.model,
                "experiment": self.experiment.name,
                "drifted": drifted,
                "result": json.loads(result.to_json(orient="records")),
            }
            self.om.logger.warning(
                f"drift of model {self.model!r} in feature(s) {', '.join(drifted)}", **alert
            )
            if stream is not None:
                self.om.streams.put(alert, stream)
        return result

    def history(self) -> pd.DataFrame:
        """Every logged comparison: ``dt``, ``feature``, ``statistic``, ``pvalue``, ``drift``."""
        query = sa.select(events.c.dt, events.c.key, events.c.value, events.c.data).where(
            *self._where("drift"), events.c.model == self.model
        )
        with self.om.db.connect() as conn:
            rows = conn.execute(query.order_by(events.c.id)).all()
        frame = pd.DataFrame(
            [
                {"dt": dt, "feature": key, "statistic": value, "pvalue": data.get("pvalue"),
                 "drift": data.get("drift")}
                for dt, key, value, data in rows
            ],
            columns=["dt", "feature", "statistic", "pvalue", "drift"],
        )  # fmt: skip
        frame["dt"] = pd.to_datetime(frame["dt"], utc=True)
        return frame

    def plot(self) -> VegaLite:
        """Each feature's drift statistic over time (a Vega-Lite chart)."""
        history = self.history()
        if history.empty:
            raise ObjectNotFoundError(f"no drift comparisons of {self.model!r} yet: compare()")
        values = [
            {"dt": d.isoformat(), "feature": f, "statistic": s, "drift": bool(x)}
            for d, f, s, x in zip(
                history["dt"], history["feature"], history["statistic"], history["drift"],
                strict=True,
            )
        ]  # fmt: skip
        return VegaLite(
            {
                "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                "title": f"drift of {self.model}",
                "data": {"values": values},
                "mark": {"type": "line", "point": True},
                "encoding": {
                    "x": {"field": "dt", "type": "temporal"},
                    "y": {"field": "statistic", "type": "quantitative"},
                    "color": {"field": "feature", "type": "nominal"},
                },
            }
        )

    def __repr__(self) -> str:
        return f"DriftMonitor({self.model!r}, experiment={self.experiment.name!r})"


def _latest(snaps: pd.DataFrame, mask: Any, what: str) -> str:
    chosen = snaps[mask]
    if chosen.empty:
        raise ObjectNotFoundError(f"no {what} snapshot to compare: snapshot() first")
    return str(chosen["snapshot"].iloc[-1])


def _categorical(a: dict, b: dict, stats: Any) -> tuple[float, float, float]:
    """chi-square statistic and p-value of the two count tables, and their PSI."""
    categories = sorted(set(a["counts"]) | set(b["counts"]))
    table = np.array(
        [[a["counts"].get(c, 0) for c in categories], [b["counts"].get(c, 0) for c in categories]],
        dtype=float,
    )
    if len(categories) < 2:
        return 0.0, 1.0, 0.0
    chi2, pvalue, _dof, _expected = stats.chi2_contingency(table)
    share = (table + 0.5) / (table + 0.5).sum(axis=1, keepdims=True)  # no empty bins
    # PSI is the symmetric Kullback-Leibler divergence of the two shares
    psi = float(stats.entropy(share[1], share[0]) + stats.entropy(share[0], share[1]))
    return float(chi2), float(pvalue), psi
