"""Drift monitoring of a tracked model: snapshots of its input features compared with a
baseline, per feature, with scipy's tests.

A snapshot is one ``snapshot`` event per feature in the model's tracking experiment
(``om.models.track``) whose ``data`` is the feature's sketch (``sketch.py``: a quantile sketch
of a numeric feature, the category counts of a categorical one; never the rows themselves);
``value`` is the number of rows. Snapshots come from a frame, a stored dataset or the inputs
the model's tracked predictions logged; on PostgreSQL the last two are summarized in the
database. A tracked fit takes the ``baseline`` snapshot from its training data.

``compare`` tests the latest snapshot against the latest baseline, per feature:
Kolmogorov-Smirnov and PSI for numeric features, chi-square and PSI for categorical ones
(``sketch.compare_sketches``), each test with its thresholds (``sketch.THRESHOLDS``); a feature
drifts when one of its tests does. Each comparison is logged as ``drift`` events (``value``:
the main test's statistic), so drift over time is a query of the experiment (``history``,
``plot``). ``schedule`` runs ``check`` on the scheduler (run kind ``monitor``,
``monitor_run.py``), which alerts to a stream and the log when a feature drifts.
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
from omega_jupyter.experiments import sketch as sketches
from omega_jupyter.experiments.experiment import Experiment, VegaLite
from omega_jupyter.experiments.tables import events
from omega_jupyter.names import validate_name

P_THRESHOLD = sketches.THRESHOLDS["ks"]["pvalue"]
PSI_THRESHOLD = sketches.THRESHOLDS["psi"]["statistic"]
MAX_CATEGORIES = sketches.MAX_CATEGORIES
COMPARE_COLUMNS = [
    "feature", "kind", "test", "statistic", "pvalue", "psi", "drift",
    "baseline_rows", "current_rows", "tests",
]  # fmt: skip
MAIN_TEST = {"numeric": "ks", "categorical": "chi2"}
DEFAULT_ALERT_STREAM = "drift-alerts"


def capture_frame(
    exp: Experiment, frame: pd.DataFrame, label: str, model: str, version: int | None
) -> str:
    """Log a snapshot of ``frame``'s columns into ``exp``; returns the snapshot's id."""
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame))
    if frame.empty:
        raise InvalidParameterError("a snapshot needs at least one row")
    return capture_sketches(exp, sketches.frame_sketches(frame), label, model, version)


def capture_sketches(
    exp: Experiment,
    features: dict[str, dict[str, Any]],
    label: str,
    model: str,
    version: int | None,
    dataset: str | None = None,
) -> str:
    """Log one ``snapshot`` event per feature sketch; returns the snapshot's id."""
    snapshot = uuid.uuid4().hex
    now = datetime.now(UTC)
    rows = []
    for feature, summary in features.items():
        data = {"snapshot": snapshot, "label": label, **summary}
        if dataset is not None:
            data["dataset"] = dataset
        row = exp._row("snapshot", feature, float(summary["rows"]), data=data, dt=now)
        rows.append({**row, "model": model, "model_version": version, "dataset": dataset})
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

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(
        self,
        data: pd.DataFrame | str | None = None,
        label: str = "current",
        since: datetime | None = None,
    ) -> str:
        """Snapshot ``data`` (a frame or a dataset name), or by default the inputs logged by
        the model's tracked predictions (``since`` a time; default: after the latest snapshot).
        ``label='baseline'`` makes it the baseline. Returns the snapshot's id. A dataset and
        the logged inputs are summarized in the database on PostgreSQL."""
        if label not in ("baseline", "current"):
            raise InvalidParameterError("label must be 'baseline' or 'current'")
        if isinstance(data, str):
            features = sketches.dataset_sketches(self.om.datasets, data)
            if features is None:  # SQLite, or not a DataFrame: summarized here
                frame = self.om.datasets.get(data)
                if not isinstance(frame, pd.DataFrame):
                    frame = pd.DataFrame(np.asarray(frame))
                if frame.empty:
                    raise InvalidParameterError("a snapshot needs at least one row")
                features = sketches.frame_sketches(frame)
            if not features or not max(f["rows"] for f in features.values()):
                raise InvalidParameterError("a snapshot needs at least one row")
            return capture_sketches(
                self.experiment, features, label, self.model, None, dataset=data
            )
        if data is None:
            features, version = self._logged_inputs(since)
            return capture_sketches(self.experiment, features, label, self.model, version)
        return capture_frame(self.experiment, data, label, self.model, None)

    def _logged_inputs(self, since: datetime | None) -> tuple[dict[str, dict], int | None]:
        if since is None:
            latest = self.snapshots()
            since = latest["dt"].max().to_pydatetime() if not latest.empty else None
        where = [*self._where("predict"), events.c.model == self.model]
        if since is not None:
            where.append(events.c.dt > since)
        with self.om.db.connect() as conn:
            version = conn.execute(
                sa.select(events.c.model_version).where(*where).order_by(events.c.id.desc())
            ).first()
            if version is not None and self.om.db.is_postgres:
                features, rows = sketches.prediction_sketches(
                    conn,
                    self.om.bucket,
                    self.experiment.name,
                    self.model,
                    since or datetime(1970, 1, 1, tzinfo=UTC),
                )
                if rows:
                    return features, version[0]
            elif version is not None:
                frame = self._logged_frame(conn, where)
                if not frame.empty:
                    return sketches.frame_sketches(frame), version[0]
        raise ObjectNotFoundError(
            f"no predictions of {self.model!r} logged since {since}: nothing to snapshot"
        )

    @staticmethod
    def _logged_frame(conn: Any, where: list[Any]) -> pd.DataFrame:
        """The logged inputs as one frame (SQLite: the events are read and summarized here)."""
        frames = []
        for (data,) in conn.execute(sa.select(events.c.data).where(*where).order_by(events.c.id)):
            inputs = (data or {}).get("inputs")
            if isinstance(inputs, dict) and "columns" in inputs:
                frames.append(pd.DataFrame(inputs["data"], columns=inputs["columns"]))
            elif isinstance(inputs, list) and inputs:
                frames.append(pd.DataFrame(inputs))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _where(self, event: str) -> list[Any]:
        self.experiment.flush()
        return [
            events.c.bucket == self.om.bucket,
            events.c.experiment == self.experiment.name,
            events.c.event == event,
        ]

    def snapshots(self) -> pd.DataFrame:
        """One row per snapshot: ``snapshot``, ``label``, ``dt``, ``rows``, ``features``,
        ``dataset`` (the dataset it summarizes, if any)."""
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
                    "dataset": data.get("dataset"),
                },
            )
            entry["rows"] = max(entry["rows"], int(value))
            entry.setdefault("features", []).append(key)
        columns = ["snapshot", "label", "dt", "rows", "features", "dataset"]
        frame = pd.DataFrame(list(out.values()), columns=columns)
        frame["dt"] = pd.to_datetime(frame["dt"], utc=True)
        return frame

    def _features(self, snapshot: str) -> dict[str, dict]:
        query = sa.select(events.c.key, events.c.data).where(
            *self._where("snapshot"),
            events.c.model == self.model,
            events.c.data["snapshot"].as_string() == snapshot,
        )
        with self.om.db.connect() as conn:
            rows = conn.execute(query.order_by(events.c.id)).all()
        return {key: data for key, data in rows}

    # -- comparing ------------------------------------------------------------------------
    def report(
        self,
        baseline: str | None = None,
        current: str | None = None,
        thresholds: dict[str, dict[str, float]] | None = None,
    ) -> dict[str, Any]:
        """The comparison as JSON-ready data (what ``GET …/monitor/compare`` returns, see
        ``docs/rest.md``): the two snapshots, the thresholds, ``drift``, ``drifted`` and per
        feature its ``tests``. Logs nothing."""
        limits = sketches.thresholds(thresholds)
        snaps = self.snapshots()
        baseline = baseline or _latest(snaps, snaps["label"] == "baseline", "baseline")
        current = current or _latest(snaps, snaps["snapshot"] != baseline, "current")
        base, cur = self._features(baseline), self._features(current)
        for snapshot, found in ((baseline, base), (current, cur)):
            if not found:
                raise ObjectNotFoundError(f"no snapshot {snapshot!r} of model {self.model!r}")
        features = []
        for feature in [f for f in base if f in cur]:
            result = sketches.compare_sketches(base[feature], cur[feature], limits)
            features.append({"feature": feature, **result})
        by_id = snaps.set_index("snapshot")

        def about(snapshot: str) -> dict[str, Any]:
            row = by_id.loc[snapshot]
            return {
                "snapshot": snapshot,
                "label": row["label"],
                "dt": row["dt"].isoformat(),
                "rows": int(row["rows"]),
                "dataset": row["dataset"],
            }

        return {
            "model": self.model,
            "experiment": self.experiment.name,
            "baseline": about(baseline),
            "current": about(current),
            "thresholds": limits,
            "drift": any(f["drift"] for f in features),
            "drifted": [f["feature"] for f in features if f["drift"]],
            "features": features,
        }

    def compare(
        self,
        baseline: str | None = None,
        current: str | None = None,
        p_threshold: float | None = None,
        psi_threshold: float | None = None,
        thresholds: dict[str, dict[str, float]] | None = None,
        log: bool = True,
    ) -> pd.DataFrame:
        """Per feature: the main test (``ks`` numeric, ``chi2`` categorical), its statistic
        and p-value, the PSI, whether the feature drifted, the rows compared and every test's
        result (``tests``); the latest baseline against the latest other snapshot by default.
        ``thresholds`` per test (``{"ks": {"pvalue": 0.001, "statistic": 0.1}}``; the
        defaults are ``sketch.THRESHOLDS``), ``p_threshold``/``psi_threshold`` set the p-value
        bound of every test and the PSI's. Logs the result as ``drift`` events unless
        ``log=False``."""
        limits = {test: dict(bounds) for test, bounds in (thresholds or {}).items()}
        if p_threshold is not None:
            for test in ("ks", "chi2"):
                limits.setdefault(test, {})["pvalue"] = p_threshold
        if psi_threshold is not None:
            limits.setdefault("psi", {})["statistic"] = psi_threshold
        result = self.report(baseline, current, limits)
        frame = pd.DataFrame(
            [_flat(feature) for feature in result["features"]], columns=COMPARE_COLUMNS
        )
        if log:
            now = datetime.now(UTC)
            exp = self.experiment
            extra = {"baseline": result["baseline"]["snapshot"]}
            extra["current"] = result["current"]["snapshot"]
            exp._recorder.add_many(
                [
                    {
                        **exp._row(
                            "drift",
                            r["feature"],
                            r["statistic"],
                            data=json.loads(json.dumps({**r, **extra}, default=_plain)),
                            dt=now,
                        ),
                        "model": self.model,
                    }
                    for r in frame.to_dict("records")
                ]
            )
            exp.flush()
        return frame

    def check(
        self,
        stream: str | None = None,
        since: datetime | None = None,
        against: str | None = None,
        thresholds: dict[str, dict[str, float]] | None = None,
    ) -> pd.DataFrame:
        """Snapshot the dataset ``against`` (default: the predictions logged since the last
        snapshot) and compare it with the baseline; when a feature drifts, log a warning and
        (with ``stream``) append an alert ``{"model", "experiment", "drifted": [features],
        "baseline", "current", "result": [...]}`` to that stream. :meth:`schedule` runs it on
        the scheduler."""
        if stream is not None:
            validate_name(stream)
        current = self.snapshot(against, since=since) if against else self.snapshot(since=since)
        result = self.compare(current=current, thresholds=thresholds)
        drifted = result.loc[result["drift"], "feature"].tolist()
        if drifted:
            alert = {
                "model": self.model,
                "experiment": self.experiment.name,
                "drifted": drifted,
                "current": current,
                "against": against or "predictions",
                "result": json.loads(result.drop(columns=["tests"]).to_json(orient="records")),
            }
            self.om.logger.warning(
                f"drift of model {self.model!r} in feature(s) {', '.join(drifted)}", **alert
            )
            if stream is not None:
                self.om.streams.put(alert, stream)
        return result

    # -- scheduled checks -----------------------------------------------------------------
    def schedule(
        self,
        when: str,
        against: str | None = None,
        alert_stream: str | None = DEFAULT_ALERT_STREAM,
        thresholds: dict[str, dict[str, float]] | None = None,
        missed: str = "once",
        timezone: str | None = None,
        paused: bool | None = None,
    ) -> dict:
        """Run :meth:`check` on the scheduler (``"daily at 06:00"``, cron, …): each slot, once,
        snapshots ``against`` (a dataset name; default the predictions logged since the last
        snapshot), compares it with the baseline and alerts to ``alert_stream`` and the log
        when a feature drifts. One schedule per model (scheduling again replaces it)."""
        from omega_jupyter.jobs.schedules import ScheduleStore

        if against is not None:
            self.om.datasets.metadata(against)  # an unknown dataset is refused now
        if alert_stream is not None:
            validate_name(alert_stream)
        sketches.thresholds(thresholds)  # bad thresholds are refused now
        parameters = {"against": against, "alert_stream": alert_stream}
        if thresholds:
            parameters["thresholds"] = thresholds
        store = ScheduleStore(self.om.db, self.om.bucket)
        return store.put(
            MONITOR_KIND, self.model, when, parameters, missed, 0, timezone, paused=paused
        )

    def unschedule(self) -> bool:
        """Drop the scheduled check (ObjectNotFoundError if there is none)."""
        from omega_jupyter.jobs.schedules import ScheduleStore

        return ScheduleStore(self.om.db, self.om.bucket).delete(MONITOR_KIND, self.model)

    def schedule_info(self) -> dict:
        """The scheduled check: when, next times, its parameters."""
        from omega_jupyter.jobs.schedules import ScheduleStore

        return ScheduleStore(self.om.db, self.om.bucket).get(MONITOR_KIND, self.model)

    # -- over time ------------------------------------------------------------------------
    def history(self) -> pd.DataFrame:
        """Every logged comparison, per feature: ``dt``, ``feature``, ``kind``, ``test``,
        ``statistic``, ``pvalue``, ``psi``, ``drift``, ``current`` (the snapshot)."""
        query = sa.select(events.c.dt, events.c.key, events.c.value, events.c.data).where(
            *self._where("drift"), events.c.model == self.model
        )
        with self.om.db.connect() as conn:
            rows = conn.execute(query.order_by(events.c.id)).all()
        columns = ["dt", "feature", "kind", "test", "statistic", "pvalue", "psi", "drift"]
        frame = pd.DataFrame(
            [
                {"dt": dt, "feature": key, "kind": data.get("kind"), "test": data.get("test"),
                 "statistic": value, "pvalue": data.get("pvalue"), "psi": data.get("psi"),
                 "drift": bool(data.get("drift")), "current": data.get("current")}
                for dt, key, value, data in rows
            ],
            columns=[*columns, "current"],
        )  # fmt: skip
        frame["dt"] = pd.to_datetime(frame["dt"], utc=True)
        return frame

    def plot(self, measure: str = "statistic") -> VegaLite:
        """Each feature's drift ``measure`` (``statistic``, ``pvalue`` or ``psi``) over time,
        drifted comparisons marked (a Vega-Lite chart; :func:`drift_chart`)."""
        return VegaLite(drift_chart(self.model, self.history(), measure))

    def __repr__(self) -> str:
        return f"DriftMonitor({self.model!r}, experiment={self.experiment.name!r})"


MONITOR_KIND = "monitor"
MEASURES = ("statistic", "pvalue", "psi")


def drift_chart(model: str, history: pd.DataFrame, measure: str = "statistic") -> dict:
    """The Vega-Lite spec of a model's drift history (also ``GET …/monitor/plot``): one line
    per feature, x the time of each comparison, y the ``measure``, filled points where the
    feature drifted."""
    if measure not in MEASURES:
        raise InvalidParameterError(f"measure must be one of {', '.join(MEASURES)}")
    if history.empty:
        raise ObjectNotFoundError(f"no drift comparisons of {model!r} yet: compare()")
    values = [
        {"dt": r["dt"].isoformat(), "feature": r["feature"], "test": r["test"],
         "value": _plain(r[measure]), "drift": bool(r["drift"])}
        for r in history.to_dict("records")
    ]  # fmt: skip
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": f"drift of {model}: {measure}",
        "data": {"values": values},
        "mark": {"type": "line", "point": {"filled": True}},
        "encoding": {
            "x": {"field": "dt", "type": "temporal", "title": "compared"},
            "y": {"field": "value", "type": "quantitative", "title": measure},
            "color": {"field": "feature", "type": "nominal"},
            "shape": {"field": "drift", "type": "nominal"},
            "tooltip": [
                {"field": "feature", "type": "nominal"},
                {"field": "test", "type": "nominal"},
                {"field": "value", "type": "quantitative", "title": measure},
                {"field": "drift", "type": "nominal"},
                {"field": "dt", "type": "temporal"},
            ],
        },
    }


def _flat(feature: dict[str, Any]) -> dict[str, Any]:
    """One row of ``compare()``: the main test's figures and the PSI."""
    main = MAIN_TEST[feature["kind"]]
    test = feature["tests"].get(main, {})
    return {
        "feature": feature["feature"],
        "kind": feature["kind"],
        "test": main,
        "statistic": test.get("statistic"),
        "pvalue": test.get("pvalue"),
        "psi": feature["tests"].get("psi", {}).get("statistic"),
        "drift": feature["drift"],
        "baseline_rows": feature["baseline_rows"],
        "current_rows": feature["current_rows"],
        "tests": feature["tests"],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _latest(snaps: pd.DataFrame, mask: Any, what: str) -> str:
    chosen = snaps[mask]
    if chosen.empty:
        raise ObjectNotFoundError(f"no {what} snapshot to compare: snapshot() first")
    return str(chosen["snapshot"].iloc[-1])
