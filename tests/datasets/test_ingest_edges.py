"""CSV and frame edges refused with clear errors before anything is written: NUL bytes,
foreign encodings, duplicate headers, missing column names, too many columns."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.exceptions import IngestError, UnsupportedObjectError
from tests.storage.test_gc import tables_of


def nothing_written(om, name: str) -> None:
    assert not om.datasets.exists(name)
    assert tables_of(om) == {m.location for m in om.datasets.list(raw=True)}


def test_csv_with_nul_bytes_names_row_and_column(om):
    data = b"a,b\n1,x\n2,y\x00z\n3,w\n"
    if not om.db.is_postgres:  # SQLite text holds NUL: it round-trips
        om.datasets.read_csv(io.BytesIO(data), "nul")
        assert om.datasets.get("nul")["b"].tolist() == ["x", "y\x00z", "w"]
        return
    with pytest.raises(UnsupportedObjectError, match=r"row 2 column 'b'.*NUL"):
        om.datasets.read_csv(io.BytesIO(data), "nul")
    nothing_written(om, "nul")


def test_csv_with_nul_in_a_later_chunk(om):
    if not om.db.is_postgres:
        pytest.skip("SQLite text holds NUL")
    rows = b"".join(b"%d,ok\n" % i for i in range(50)) + b"50,b\x00d\n"
    with pytest.raises(UnsupportedObjectError, match=r"row 51 column 'b'"):
        om.datasets.read_csv(io.BytesIO(b"a,b\n" + rows), "nul", chunksize=7)
    nothing_written(om, "nul")


def test_latin1_csv_needs_and_takes_an_encoding(om, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nJosé,Zürich\nRenée,Besançon\n".encode("latin-1"))
    with pytest.raises(IngestError, match="encoding='latin-1'"):
        om.datasets.read_csv(path, "latin")
    nothing_written(om, "latin")
    om.datasets.read_csv(path, "latin", encoding="latin-1")
    expected = pd.DataFrame({"name": ["José", "Renée"], "city": ["Zürich", "Besançon"]})
    pd.testing.assert_frame_equal(om.datasets.get("latin"), expected)
    with pytest.raises(IngestError, match="unknown encoding"):
        om.datasets.read_csv(path, "latin2", encoding="no-such-codec")
    with pytest.raises(IngestError, match="not a text encoding"):
        om.datasets.read_csv(path, "latin2", encoding="base64")  # a codec, but of bytes
    nothing_written(om, "latin2")


@pytest.mark.parametrize(
    "header", [b"a,a\n", b"a,b,a\n", b'"a","a"\n', b"\xef\xbb\xbfa,a\n", b"x;x\n"]
)
def test_duplicate_csv_headers_are_refused_like_put(om, header):
    sep = ";" if b";" in header else ","
    body = (
        b"1" + sep.encode() + b"2\n"
        if header.count(b",") + header.count(b";") == 1
        else (b"1,2,3\n")
    )
    with pytest.raises(IngestError, match="more than once"):
        om.datasets.read_csv(io.BytesIO(header + body), "dupes", sep=sep)
    nothing_written(om, "dupes")
    with pytest.raises(UnsupportedObjectError, match="duplicate"):
        om.datasets.put(pd.DataFrame([[1, 2]], columns=["a", "a"]), "dupes")


def test_duplicate_headers_from_text_streams_and_names_that_only_look_renamed(om):
    with pytest.raises(IngestError, match="more than once"):
        om.datasets.read_csv(io.StringIO("a,a\n1,2\n"), "dupes")
    om.datasets.read_csv(io.StringIO("a,a.1\n1,2\n"), "fine")
    assert om.datasets.get("fine").columns.tolist() == ["a", "a.1"]
    om.datasets.read_csv(io.BytesIO(b"a,a\n1,2\n"), "named", names=["x", "y"], header=0)
    assert om.datasets.get("named").columns.tolist() == ["x", "y"]


@pytest.mark.parametrize("label", [None, np.nan, float("nan")])
def test_missing_column_names_are_refused(om, label):
    df = pd.DataFrame({"a": [1, 2]})
    df[label] = [3, 4]
    with pytest.raises(UnsupportedObjectError, match="column name is missing"):
        om.datasets.put(df, "unnamed")
    nothing_written(om, "unnamed")


def test_too_many_columns_are_refused_before_writing(om):
    width = 1700 if om.db.is_postgres else 2100
    df = pd.DataFrame(np.zeros((2, width)))
    with pytest.raises(UnsupportedObjectError, match="columns are more than"):
        om.datasets.put(df, "wide")
    nothing_written(om, "wide")
    header = ",".join(f"c{i}" for i in range(width)).encode()
    with pytest.raises(UnsupportedObjectError, match="columns are more than"):
        om.datasets.read_csv(io.BytesIO(header + b"\n" + b"0," * (width - 1) + b"0\n"), "wide")
    nothing_written(om, "wide")
    om.datasets.put(pd.DataFrame(np.zeros((2, 900))), "wide")  # within the limits
    assert om.datasets.get("wide").shape == (2, 900)


def test_rows_wider_than_a_postgres_page_are_refused_before_writing(om):
    df = pd.DataFrame(np.zeros((2, 1100)))  # 8.8 kB of float64 per row
    if not om.db.is_postgres:
        om.datasets.put(df, "wide")
        assert om.datasets.get("wide").shape == (2, 1100)
        return
    with pytest.raises(UnsupportedObjectError, match="more than a PostgreSQL row holds"):
        om.datasets.put(df, "wide")
    nothing_written(om, "wide")
