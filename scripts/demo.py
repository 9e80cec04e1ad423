"""The omega_jupyter demo: store a DataFrame, read it back filtered in the database, list the store.

Runs against the default store (a SQLite file in ``OMEGA_HOME``, ``~/.omega_jupyter``) or the
database in ``OMEGA_DATABASE_URL``. Each step prints what it did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import omega_jupyter

BUCKET = "demo"


def make_sales(rows: int = 100_000) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    cities = ["New York", "London", "Zurich", "Tokyo", "Lagos"]
    return pd.DataFrame(
        {
            "order_id": np.arange(rows, dtype="int64"),
            "city": pd.Categorical(rng.choice(cities, rows), categories=cities),
            "amount": rng.gamma(2.0, 50.0, rows).round(2),
            "quantity": rng.integers(1, 10, rows).astype("int16"),
            "ordered_at": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 300 * 86400, rows), unit="s"),
        }
    )


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    om = omega_jupyter.get_default()[BUCKET]
    print(f"store: {om.db.safe_url} (bucket {BUCKET!r})")

    step("put a DataFrame")
    sales = make_sales()
    meta = om.datasets.put(sales, "sales", attributes={"source": "demo"})
    print(f"stored 'sales' version {meta.version}: {meta.kind_meta['rows']:,} rows")

    step("read it back: lossless")
    back = om.datasets.get("sales")
    pd.testing.assert_frame_equal(back, sales)
    print("get('sales') equals the original exactly (values, dtypes, index)")
    print(back.dtypes.to_string())

    step("read it back filtered and column-selected in the database")
    big_zurich = om.datasets.get("sales[city,amount]", city="Zurich", amount__gt=300)
    print(big_zurich.head().to_string())
    print(f"{len(big_zurich):,} rows matched city == 'Zurich' and amount > 300")

    step("list the store")
    om.datasets.put({"owner": "demo", "tags": ["example"]}, "settings")
    om.datasets.put(np.eye(3), "identity")
    for m in om.datasets.list(raw=True):
        print(f"  {m.name:<10} {m.kind:<18} v{m.version}  {m.size:>10,} bytes")


if __name__ == "__main__":
    main()
