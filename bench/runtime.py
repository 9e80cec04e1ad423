"""Runtime benchmark: what a recorded run on Dask costs over a bare Dask round trip and over
doing the same work in-process. Prints medians and ratios measured in the same run.

    python bench/runtime.py [--url URL] [--repeat N] [--processes]

Without ``--url`` a SQLite file in a temporary folder is used; pass a PostgreSQL URL to measure
there. The cluster is the runtime's own default (a thread-based LocalCluster); ``--processes``
uses process workers instead. Targets: overhead over the bare round trip <= 50 ms; a fit within
1.2x of in-process fit + data read.
"""

from __future__ import annotations

import argparse
import io
import pickle
import tempfile
import uuid
from typing import Any

import numpy as np
import pandas as pd
from _common import median_seconds
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import omega_jupyter
from omega_jupyter.runtime import cluster


def make_data(rows: int, cols: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols))
    y = (X @ rng.normal(size=cols) + rng.normal(scale=0.5, size=rows) > 0).astype("int64")
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(cols)])
    frame["y"] = y
    return frame


def stored_data(om: Any, rows: int, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of a new ``rows``-row frame, also stored as dataset ``name``."""
    frame = make_data(rows)
    om.datasets.put(frame, name)
    return frame.drop(columns="y"), frame["y"]


def noop() -> int:
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: SQLite temp file)")
    parser.add_argument("--repeat", type=int, default=30, help="rounds for round trips")
    parser.add_argument("--processes", action="store_true", help="process-based workers")
    args = parser.parse_args()

    home = tempfile.mkdtemp()
    url = args.url or f"sqlite:///{home}/bench.db"
    if args.processes:
        local = cluster.local_cluster(processes=True, n_workers=1, threads_per_worker=2)
    else:
        local = cluster.local_cluster()
    om = omega_jupyter.setup(
        url=url, bucket=f"bench{uuid.uuid4().hex[:6]}", home=home, dask=local.scheduler_address
    )
    client = om.runtime.client
    print(
        f"database {om.db.safe_url}; cluster {local.scheduler_address} "
        f"({'processes' if args.processes else 'threads'})"
    )

    # -- predict round trip on a stored 10k-row dataset -----------------------------------
    X10, y10 = stored_data(om, 10_000, "data10k")
    model = LogisticRegression(max_iter=500).fit(X10, y10)
    om.models.put(model, "lr")
    runtime = om.runtime.model("lr")
    runtime.predict("data10k[^y]").result()  # warm: worker imports, model cache
    client.submit(noop, pure=False).result()
    bare = median_seconds(lambda: client.submit(noop, pure=False).result(), args.repeat)
    ours = median_seconds(lambda: runtime.predict("data10k[^y]").result(), args.repeat)
    local_predict = median_seconds(lambda: model.predict(X10), args.repeat)
    local_read_predict = median_seconds(
        lambda: model.predict(om.datasets.get("data10k[^y]")), args.repeat
    )
    print("\npredict, 10k rows (median s)")
    print(f"  bare client.submit(f).result()          {bare:8.4f}")
    print(f"  om.runtime predict (recorded run)        {ours:8.4f}")
    print(f"  in-process predict (data in memory)      {local_predict:8.4f}")
    print(f"  in-process read + predict                {local_read_predict:8.4f}")
    # The run does the same work as "read + predict" in-process; what remains is the runtime's
    # own cost: run row, task spec, state updates, result encoding.
    overhead = ours - bare - local_read_predict
    print(
        f"  runtime - bare - (read + predict): {overhead * 1000:.1f} ms (target <= 50 ms) "
        f"{'OK' if overhead <= 0.05 else 'MISSED'}"
    )
    print(
        f"  ratio runtime / bare: {ours / bare:.2f}x; runtime / in-process read+predict: "
        f"{ours / local_read_predict:.2f}x"
    )

    # -- fit of LogisticRegression, 100k x 10 -----------------------------------------------
    Xb, yb = stored_data(om, 100_000, "data100k")
    om.models.put(LogisticRegression(max_iter=500), "lrbig")
    fit_runtime = om.runtime.model("lrbig@1")
    fit_runtime.fit("data100k[^y]", "data100k[y]").result()  # warm
    reps = max(3, args.repeat // 6)
    read = median_seconds(lambda: om.datasets.get("data100k"), reps)
    with threadpool_limits(1, user_api="blas"):  # the same BLAS setting the workers use
        fit_local = median_seconds(lambda: LogisticRegression(max_iter=500).fit(Xb, yb), reps)
    fit_local_default = median_seconds(lambda: LogisticRegression(max_iter=500).fit(Xb, yb), reps)
    fit_ours = median_seconds(lambda: fit_runtime.fit("data100k[^y]", "data100k[y]").result(), reps)
    base = read + min(fit_local, fit_local_default)
    print("\nfit LogisticRegression, 100k x 10 (median s)")
    print(f"  dataset read                              {read:8.4f}")
    print(f"  in-process fit, 1 BLAS thread             {fit_local:8.4f}")
    print(f"  in-process fit, default BLAS threads      {fit_local_default:8.4f}")
    print(f"  om.runtime fit (read, fit, save version)  {fit_ours:8.4f}")
    print(
        f"  ratio runtime / (read + best in-process fit): {fit_ours / base:.2f}x "
        f"(target <= 1.2x) {'OK' if fit_ours / base <= 1.2 else 'MISSED'}"
    )

    # -- model blobs: RandomForest round trip -------------------------------------------------
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(X10, y10)
    reps = 3

    def store_round_trip() -> None:
        meta = om.models.put(forest, "forest")
        om.models.load(meta)

    def pickle_round_trip() -> None:
        pickle.loads(pickle.dumps(forest))

    def joblib_round_trip() -> None:
        meta = om.models.put(forest, "forest_joblib", serializer="joblib")
        om.models.blobs.open(meta.location or "").readall()

    skops_rt = median_seconds(store_round_trip, reps)
    pickle_rt = median_seconds(pickle_round_trip, reps)
    joblib_rt = median_seconds(joblib_round_trip, reps)
    size = len(io.BytesIO(pickle.dumps(forest)).getvalue())
    print(f"\nRandomForest(100 trees) model round trip, pickle size {size / 1e6:.1f} MB (median s)")
    print(f"  om.models put + get (skops)               {skops_rt:8.4f}")
    print(f"  om.models put + read bytes (joblib)       {joblib_rt:8.4f}")
    print(f"  pickle dumps + loads in memory            {pickle_rt:8.4f}")
    print(f"  ratio skops store / pickle in memory: {skops_rt / pickle_rt:.1f}x")
    client.close()


if __name__ == "__main__":
    main()
