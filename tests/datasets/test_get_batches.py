"""``get`` decodes the rows column by column from the batches it read (each column's Arrow
buffers freed once decoded): the frame is the same as written, whatever the batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from omega_jupyter.datasets import frame_codec


def mixed_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    price = rng.random(rows)
    price[::7] = np.nan
    return pd.DataFrame(
        {
            "i": np.arange(rows, dtype="int64"),
            "u": rng.integers(0, 2**63, rows, dtype="uint64") * 2,
            "n": pd.array(np.where(np.arange(rows) % 5 == 0, None, np.arange(rows)), "Int64"),
            "price": price,
            "flag": np.arange(rows) % 3 == 0,
            "when": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(rows), "s"),
            "s": pd.Series([None if k % 11 == 0 else f"v{k}" for k in range(rows)], dtype="str"),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], rows)),
        },
        index=pd.RangeIndex(10, 10 + 2 * rows, 2, name="pos"),
    )


def test_a_frame_read_in_many_batches_comes_back_equal(om) -> None:
    df = mixed_frame(120_000)  # more than one read batch on both databases
    om.datasets.put(df, "mixed")
    back = om.datasets.get("mixed")
    pd.testing.assert_frame_equal(back, df)
    assert back.dtypes.to_dict() == df.dtypes.to_dict() and back.shape == df.shape
    part = om.datasets.get("mixed", columns=["s", "price"])
    pd.testing.assert_frame_equal(part, df[["s", "price"]])


def test_batches_out_of_row_order_are_sorted() -> None:
    df = mixed_frame(50)
    kind_meta = frame_codec.describe_frame(df, native_timestamps=False)
    batches = list(frame_codec.encode_batches(df, kind_meta, 20))
    schema = batches[0].schema
    columns = frame_codec.ColumnBatches(reversed(batches), schema)
    assert columns.num_rows == 50 and not columns.in_row_order()
    table = frame_codec.order_by_row(columns.to_table())
    back = frame_codec.decode_table(table, kind_meta, kind_meta["columns"])
    pd.testing.assert_frame_equal(back, df)
    in_order = frame_codec.ColumnBatches(iter(batches), schema)
    assert in_order.in_row_order()
    back = frame_codec.decode_table(in_order, kind_meta, kind_meta["columns"])
    pd.testing.assert_frame_equal(back, df)
    assert isinstance(in_order.column(frame_codec.ROW_COLUMN), pa.ChunkedArray)
