import pandas as pd


def test_put_get_roundtrip(om):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    meta = om.datasets.put(df, "sales")
    assert meta.version == 1
    pd.testing.assert_frame_equal(om.datasets.get("sales"), df)
    assert om.datasets.list() == ["sales"]
