"""The ``om`` command line against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omega_jupyter.cli import app, hoist_global_options
from omega_jupyter.cli.context import CliState
from omega_jupyter.cli.files import ProgressReader, table_format
from omega_jupyter.cli.output import progress_bar
from omega_jupyter.cli.params import parse_filters
from omega_jupyter.exceptions import InvalidFilterError
from omega_jupyter.storage import migrate


@pytest.fixture
def om_cli(database_url: str, bucket: str):
    """Run ``om`` in-process with ``--url`` and ``--bucket`` of the test database."""
    runner = CliRunner()

    def run(*args: str, **kw):
        return runner.invoke(app, ["--url", database_url, "--bucket", bucket, *args], **kw)

    return run


@pytest.fixture
def sales_csv(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    pd.DataFrame(
        {
            "region": ["north", "south", "east", "west"],
            "code": ["007", "010", "x12", "999"],
            "units": [5, 12, 7, 30],
            "price": [1.5, 2.25, 3.0, 4.75],
            "paid": [True, False, True, True],
        }
    ).to_csv(path, index=False)
    return path


def ok(result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def failed(result) -> str:
    """Assert exit 1 with exactly one ``error:`` line on stderr, no traceback; return it."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


# -- put / get / ls / info / drop ----------------------------------------------------------------
def test_put_csv_then_ls_get_info_drop(om_cli, sales_csv: Path, tmp_path: Path) -> None:
    out = ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    assert "stored 'sales'" in out and "4 rows" in out

    listed = json.loads(ok(om_cli("datasets", "ls", "--json")))
    assert [(d["name"], d["kind"], d["rows"]) for d in listed] == [("sales", "pandas.dataframe", 4)]
    table = ok(om_cli("datasets", "ls"))
    assert "sales" in table and "pandas.dataframe" in table
    assert json.loads(ok(om_cli("datasets", "ls", "nothing*", "--json"))) == []

    rows = json.loads(ok(om_cli("datasets", "get", "sales", "--json")))
    assert rows == json.loads(pd.read_csv(sales_csv).to_json(orient="records"))
    shown = ok(om_cli("datasets", "get", "sales", "--limit", "2"))
    assert "north" in shown and "south" in shown and "east" not in shown
    assert "first 2 of 4 rows" in shown

    info = json.loads(ok(om_cli("datasets", "info", "sales", "--json")))
    assert info["rows"] == 4 and info["kind"] == "pandas.dataframe"
    assert info["columns"] == [
        {"name": "region", "dtype": "str"},
        {"name": "code", "dtype": "str"},
        {"name": "units", "dtype": "int64"},
        {"name": "price", "dtype": "float64"},
        {"name": "paid", "dtype": "bool"},
    ]
    assert [v["version"] for v in info["versions"]] == [1]
    assert info["attributes"] == {} and info["size"] > 0
    assert "units" in ok(om_cli("datasets", "info", "sales"))

    assert "dropped 'sales'" in ok(om_cli("datasets", "drop", "sales"))
    assert json.loads(ok(om_cli("datasets", "ls", "--json"))) == []


@pytest.mark.parametrize("ext", ["csv", "csv.gz", "tsv", "parquet", "json", "jsonl"])
def test_formats_round_trip_by_extension(om_cli, tmp_path: Path, ext: str) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, 1.5, 2.5]})
    source, target = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
    fmt = table_format(source)
    write = {
        "csv": lambda p: df.to_csv(p, index=False),
        "tsv": lambda p: df.to_csv(p, index=False, sep="\t"),
        "parquet": df.to_parquet,
        "json": lambda p: df.to_json(p, orient="records"),
        "jsonl": lambda p: df.to_json(p, orient="records", lines=True),
    }[fmt]
    write(source)
    ok(om_cli("datasets", "put", str(source), "frame"))
    ok(om_cli("datasets", "get", "frame", str(target)))
    read = {
        "csv": pd.read_csv,
        "tsv": lambda p: pd.read_csv(p, sep="\t"),
        "parquet": pd.read_parquet,
        "json": pd.read_json,
        "jsonl": lambda p: pd.read_json(p, lines=True),
    }[fmt]
    back = read(target)
    assert back["a"].tolist() == [1, 2, 3] and back["c"].tolist() == [0.5, 1.5, 2.5]
    assert back["b"].tolist()[:2] == ["x", "y"] and pd.isna(back["b"].iloc[2])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".om-")]  # no temp left


def test_parquet_keeps_dtypes_and_index(om_cli, tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "cat": pd.Categorical(["b", "a", "b"], categories=["b", "a"], ordered=True),
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]).tz_localize("UTC"),
        },
        index=pd.Index([10, 20, 30], name="key"),
    )
    df.to_parquet(tmp_path / "in.parquet")
    ok(om_cli("datasets", "put", str(tmp_path / "in.parquet"), "typed"))
    ok(om_cli("datasets", "get", "typed", str(tmp_path / "out.parquet")))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), df)
    shown = json.loads(ok(om_cli("datasets", "get", "typed", "--json")))
    assert shown[0]["key"] == 10 and shown[1]["n"] is None


def test_name_modifiers_and_filters(om_cli, sales_csv: Path) -> None:
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))

    def get(*args: str) -> list[dict]:
        return json.loads(ok(om_cli("datasets", "get", *args, "--json")))

    assert list(get("sales[region,units]")[0]) == ["region", "units"]
    assert "price" not in get("sales[^price]")[0]
    assert [r["region"] for r in get("sales", "--filter", "units__gte=10")] == ["south", "west"]
    assert [r["units"] for r in get("sales", "-f", "units__gt=5", "-f", "price__lt=4")] == [12, 7]
    assert [r["region"] for r in get("sales", "-f", 'region__in=["east","west"]')] == [
        "east",
        "west",
    ]
    assert [r["units"] for r in get("sales", "-f", "units__between=[6,12]")] == [12, 7]
    assert [r["region"] for r in get("sales", "-f", "paid=false")] == ["south"]
    # text columns keep number-looking values as text
    assert [r["region"] for r in get("sales", "-f", "code=007")] == ["north"]
    assert [r["region"] for r in get("sales", "-f", "region__startswith=n")] == ["north"]
    csv = ok(om_cli("datasets", "get", "sales[region,units]", "-", "-f", "units__lt=10"))
    assert csv.splitlines() == ["region,units", "north,5", "east,7"]
    assert get("sales", "-f", "units__gt=1000") == []
    assert "0 rows" in ok(om_cli("datasets", "get", "sales", "-f", "units__gt=1000"))


def test_replace_append_and_versions(om_cli, sales_csv: Path, monkeypatch) -> None:
    monkeypatch.setenv("OMEGA_DATASET_VERSIONS", "2")
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    ok(om_cli("datasets", "put", str(sales_csv), "sales", "--append"))
    assert json.loads(ok(om_cli("datasets", "info", "sales", "--json")))["rows"] == 8
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))  # replaces: a new version
    info = json.loads(ok(om_cli("datasets", "info", "sales", "--json")))
    assert info["rows"] == 4 and [v["version"] for v in info["versions"]] == [1, 2]
    assert len(json.loads(ok(om_cli("datasets", "get", "sales@1", "--json")))) == 8


def test_files_are_streamed_both_ways(om_cli, tmp_path: Path) -> None:
    payload = np.random.default_rng(1).bytes(3 * 1024 * 1024 + 17)
    (tmp_path / "blob.bin").write_bytes(payload)
    out = ok(om_cli("datasets", "put", str(tmp_path / "blob.bin"), "blob", "--progress"))
    assert "python.file" in out
    info = json.loads(ok(om_cli("datasets", "info", "blob", "--json")))
    assert info["kind"] == "python.file" and info["size"] == len(payload)
    assert info["filename"] == "blob.bin"
    ok(om_cli("datasets", "get", "blob", str(tmp_path / "back.anything"), "--progress"))
    assert (tmp_path / "back.anything").read_bytes() == payload
    assert "give a FILE" in ok(om_cli("datasets", "get", "blob"))
    result = om_cli("datasets", "get", "blob", "-")
    assert result.exit_code == 0 and result.stdout_bytes == payload


def test_kind_forces_storage(om_cli, tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text('{"a": [1, 2], "nested": {"b": true}}')
    ok(om_cli("datasets", "put", str(tmp_path / "data.json"), "config", "--kind", "python.data"))
    assert json.loads(ok(om_cli("datasets", "get", "config", "--json"))) == {
        "a": [1, 2],
        "nested": {"b": True},
    }
    ok(om_cli("datasets", "get", "config", str(tmp_path / "back.json")))
    assert json.loads((tmp_path / "back.json").read_text())["nested"] == {"b": True}

    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    ok(om_cli("datasets", "put", str(tmp_path / "t.csv"), "raw", "--kind", "python.file"))
    ok(om_cli("datasets", "get", "raw", str(tmp_path / "raw.csv")))
    assert (tmp_path / "raw.csv").read_text() == "a,b\n1,2\n"

    np.save(tmp_path / "arr.npy", np.arange(6, dtype="int16").reshape(2, 3))
    ok(om_cli("datasets", "put", str(tmp_path / "arr.npy"), "arr", "--kind", "numpy.ndarray"))
    assert json.loads(ok(om_cli("datasets", "get", "arr", "--json"))) == [[0, 1, 2], [3, 4, 5]]
    ok(om_cli("datasets", "get", "arr", str(tmp_path / "back.npy")))
    back = np.load(tmp_path / "back.npy")
    assert back.dtype == np.int16 and back.shape == (2, 3)


def test_global_options_anywhere(database_url: str, bucket: str, sales_csv: Path) -> None:
    runner = CliRunner()
    put = ["datasets", "put", str(sales_csv), "sales", "--bucket", bucket, "--url", database_url]
    assert runner.invoke(app, put).exit_code == 0
    before = runner.invoke(
        app, [f"--url={database_url}", "--json", "--bucket", bucket, "datasets", "ls"]
    )
    after = runner.invoke(
        app, ["datasets", "ls", "--json", f"--bucket={bucket}", "--url", database_url]
    )
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert [d["name"] for d in json.loads(after.stdout)] == ["sales"]


def test_tables_show_text_literally(om_cli, tmp_path: Path) -> None:
    pd.DataFrame({"[b]tag": ["[red]x[/red]", "a;b'c"]}).to_csv(tmp_path / "m.csv", index=False)
    ok(om_cli("datasets", "put", str(tmp_path / "m.csv"), "team/markup"))
    shown = ok(om_cli("datasets", "get", "team/markup"))
    assert "[b]tag" in shown and "[red]x[/red]" in shown and "a;b'c" in shown
    assert "team/markup" in ok(om_cli("datasets", "ls", "team/*"))


def test_buckets_are_isolated(om_cli, database_url: str, sales_csv: Path) -> None:
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    other = CliRunner().invoke(
        app, ["--url", database_url, "--bucket", "other-bucket-x", "datasets", "ls", "--json"]
    )
    assert "sales" not in [d["name"] for d in json.loads(ok(other))]


# -- bad input ------------------------------------------------------------------------------------
def test_unknown_names(om_cli) -> None:
    assert failed(om_cli("datasets", "get", "nope")) == "error: dataset 'nope' does not exist"
    assert "'nope' does not exist" in failed(om_cli("datasets", "info", "nope"))
    assert "'nope' does not exist" in failed(om_cli("datasets", "drop", "nope"))
    assert "did not exist" in ok(om_cli("datasets", "drop", "nope", "--force"))
    assert "--json" not in failed(om_cli("datasets", "get", "nope", "--json"))
    assert "reserved for modifiers" in failed(om_cli("datasets", "drop", "a[b"))


def test_unknown_version_and_column(om_cli, sales_csv: Path) -> None:
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    assert "no version 7" in failed(om_cli("datasets", "get", "sales@7"))
    assert "unknown column 'nope'" in failed(om_cli("datasets", "get", "sales[nope]"))


def test_malformed_csv_stores_nothing(om_cli, sales_csv: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    line = failed(om_cli("datasets", "put", str(bad), "bad"))
    assert "bad.csv" in line and "line 3" in line and "nothing was stored" in line
    assert json.loads(ok(om_cli("datasets", "ls", "--json"))) == []
    # an existing dataset is left as it was
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    failed(om_cli("datasets", "put", str(bad), "sales"))
    assert len(json.loads(ok(om_cli("datasets", "get", "sales", "--json")))) == 4
    (tmp_path / "empty.csv").write_text("")
    line = failed(om_cli("datasets", "put", str(tmp_path / "empty.csv"), "e"))
    assert "empty.csv" in line and "nothing was stored" in line
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "scalar.json").write_text('{"a": 1, "b": "x"}')
    line = failed(om_cli("datasets", "put", str(tmp_path / "scalar.json"), "j"))
    assert "scalar.json as JSON" in line and "--kind python.data" in line
    assert "as PARQUET" in failed(om_cli("datasets", "put", str(tmp_path / "broken.parquet"), "p"))


def test_bad_files_and_extensions(om_cli, sales_csv: Path, tmp_path: Path) -> None:
    assert "no such file" in failed(om_cli("datasets", "put", str(tmp_path / "none.csv"), "x"))
    assert "is a directory" in failed(om_cli("datasets", "put", str(tmp_path), "x"))
    (tmp_path / "notes.xyz").write_text("a,b\n1,2\n")
    line = failed(
        om_cli("datasets", "put", str(tmp_path / "notes.xyz"), "x", "--kind", "pandas.dataframe")
    )
    assert "unknown extension" in line
    assert "unknown kind 'bogus'" in failed(
        om_cli("datasets", "put", str(sales_csv), "x", "--kind", "bogus")
    )
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    assert "cannot write a DataFrame to out.xyz" in failed(
        om_cli("datasets", "get", "sales", str(tmp_path / "out.xyz"))
    )
    assert not (tmp_path / "out.xyz").exists()
    assert "no such file" in failed(
        om_cli("datasets", "get", "sales", str(tmp_path / "missing" / "out.csv"))
    )
    assert json.loads(ok(om_cli("datasets", "ls", "--json")))[0]["name"] == "sales"


def test_bad_filters(om_cli, sales_csv: Path) -> None:
    ok(om_cli("datasets", "put", str(sales_csv), "sales"))
    assert "bad filter 'units'" in failed(om_cli("datasets", "get", "sales", "-f", "units"))
    assert "unknown column 'nope'" in failed(om_cli("datasets", "get", "sales", "-f", "nope=1"))
    assert "not a number" in failed(om_cli("datasets", "get", "sales", "-f", "units__gt=abc"))
    assert "two values" in failed(om_cli("datasets", "get", "sales", "-f", "units__between=3"))
    assert "malformed JSON list" in failed(om_cli("datasets", "get", "sales", "-f", "units__in=[3"))
    # injection-like values are just values
    assert (
        json.loads(ok(om_cli("datasets", "get", "sales", "-f", "region=x' OR '1'='1", "--json")))
        == []
    )


def test_usage_errors_keep_exit_code_2(om_cli) -> None:
    assert om_cli("datasets", "put").exit_code == 2
    assert om_cli("datasets", "get", "x", "--limit", "0").exit_code == 2
    assert om_cli("nosuchcommand").exit_code == 2


def test_debug_shows_the_exception(om_cli) -> None:
    result = om_cli("--debug", "datasets", "get", "nope")
    assert result.exit_code == 1
    assert isinstance(result.exception, KeyError)
    assert "error: " not in result.stderr


def test_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql+psycopg://root:secret@127.0.0.1:1/nodb"
    result = CliRunner().invoke(app, ["--url", url, "datasets", "ls"])
    line = failed(result)
    assert "cannot connect" in line and "secret" not in line
    assert "malformed" in failed(CliRunner().invoke(app, ["--url", "::nope::", "db", "status"]))


# -- db -------------------------------------------------------------------------------------------
def test_db_status_and_upgrade(fresh_database_url: str) -> None:
    url = fresh_database_url
    if url.startswith("postgresql"):  # a password (ignored by trust auth) must never be shown
        url = url.replace("root@", "root:s3cret@")
    runner = CliRunner()
    head = migrate.head_revision()
    status = json.loads(ok(runner.invoke(app, ["--url", url, "--json", "db", "status"])))
    assert status["current"] is None and status["head"] == head and not status["up_to_date"]
    assert "s3cret" not in json.dumps(status)
    assert "om db upgrade" in ok(runner.invoke(app, ["--url", url, "db", "status"]))

    upgraded = json.loads(ok(runner.invoke(app, ["--url", url, "--json", "db", "upgrade"])))
    assert upgraded["before"] is None and upgraded["after"] == head
    again = ok(runner.invoke(app, ["--url", url, "db", "upgrade"]))
    assert f"already at revision {head}" in again and "s3cret" not in again
    status = json.loads(ok(runner.invoke(app, ["--url", url, "--json", "db", "status"])))
    assert status["up_to_date"] and status["current"] == head
    assert "up to date" in ok(runner.invoke(app, ["--url", url, "db", "status"]))


# -- pieces ---------------------------------------------------------------------------------------
def test_parse_filters() -> None:
    specs = {"name": {"sql": "text"}, "day": {"sql": "int64", "unit": "ns"}, "n": {"sql": "int64"}}
    assert parse_filters(
        [
            "n__gte=10",
            "n__in=[1, 2]",
            "name=007",
            'name__in=[1, "b"]',
            "day__gte=2024-01-01",
            "flag=True",
            "x__isnull=false",
            "z=null",
            "w=1.5",
            "t=hello world",
            "e=a=b",
        ],
        specs,
    ) == {
        "n__gte": 10,
        "n__in": [1, 2],
        "name": "007",
        "name__in": ["1", "b"],
        "day__gte": "2024-01-01",
        "flag": True,
        "x__isnull": False,
        "z": None,
        "w": 1.5,
        "t": "hello world",
        "e": "a=b",
    }
    for bad in (["novalue"], ["=3"], ["a=1", "a=2"]):
        with pytest.raises(InvalidFilterError):
            parse_filters(bad)


def test_hoist_global_options() -> None:
    args = [
        "datasets",
        "get",
        "x",
        "--json",
        "--bucket",
        "b",
        "--url=u",
        "-f",
        "a=1",
        "--",
        "--debug",
    ]
    assert hoist_global_options(args) == [
        "--json",
        "--bucket",
        "b",
        "--url=u",
        "datasets",
        "get",
        "x",
        "-f",
        "a=1",
        "--",
        "--debug",
    ]


def test_progress_bar_only_when_asked() -> None:
    with progress_bar(CliState(progress=False), "x") as callback:
        assert callback is None
    with progress_bar(CliState(progress=True), "x", unit="bytes") as callback:
        assert callback is not None
        callback(0, None)
        callback(50, 100)
        callback(100, 100)
    with progress_bar(CliState(), "x") as callback:  # stderr is not a terminal under pytest
        assert callback is None


def test_every_command_speaks_json(om_cli, sales_csv: Path, tmp_path: Path) -> None:
    put = json.loads(ok(om_cli("--json", "datasets", "put", str(sales_csv), "sales")))
    assert put["name"] == "sales" and put["version"] == 1 and put["rows"] == 4
    out = tmp_path / "s.parquet"
    got = json.loads(ok(om_cli("--json", "datasets", "get", "sales", str(out))))
    assert got == {"name": "sales", "file": str(out), "rows": 4}
    dropped = json.loads(ok(om_cli("--json", "datasets", "drop", "sales")))
    assert dropped == {"name": "sales", "dropped": True}
    again = json.loads(ok(om_cli("--json", "datasets", "drop", "sales", "--force")))
    assert again == {"name": "sales", "dropped": False}


def test_progress_reader_reports_bytes(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    seen: list[tuple[int, int | None]] = []
    with (tmp_path / "f").open("rb") as handle:
        reader = ProgressReader(handle, 1000, lambda done, total: seen.append((done, total)))
        assert reader.read(600) == b"x" * 600 and reader.read() == b"x" * 400
    assert seen[-1] == (1000, 1000) and reader.name == str(tmp_path / "f")


# -- the installed console script -----------------------------------------------------------------
def _om_script() -> str:
    script = Path(sys.executable).parent / ("om.exe" if os.name == "nt" else "om")
    assert script.exists(), "the om console script is not installed in this environment"
    return str(script)


def test_console_script_end_to_end(database_url: str, bucket: str, tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"id": range(50), "city": ["Zürich", "Basel"] * 25, "v": np.linspace(0, 1, 50)}
    )
    df.to_csv(tmp_path / "cities.csv", index=False)
    base = [_om_script(), "--url", database_url, "--bucket", bucket]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)

    put = run("datasets", "put", str(tmp_path / "cities.csv"), "cities")
    assert put.returncode == 0, put.stderr
    listed = run("datasets", "ls", "--json")
    assert listed.returncode == 0 and [d["name"] for d in json.loads(listed.stdout)] == ["cities"]
    got = run("datasets", "get", "cities", str(tmp_path / "cities.parquet"))
    assert got.returncode == 0, got.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cities.parquet"), df)
    assert run("datasets", "drop", "cities").returncode == 0
    missing = run("datasets", "get", "cities")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == ["error: dataset 'cities' does not exist"]
    assert missing.stdout == ""


def test_put_csv_with_encoding_and_duplicate_headers(om_cli, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("city\nZürich\n".encode("latin-1"))
    says = failed(om_cli("datasets", "put", str(latin), "cities"))
    assert "--encoding latin-1" in says
    result = om_cli("datasets", "put", str(latin), "cities", "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    assert "Zürich" in om_cli("datasets", "get", "cities", "-").stdout
    dupes = tmp_path / "dupes.csv"
    dupes.write_text("a,a\n1,2\n")
    assert "more than once" in failed(om_cli("datasets", "put", str(dupes), "dupes"))
    bad = om_cli("datasets", "put", str(tmp_path / "latin.csv"), "x", "--kind", "python.file",
                 "--encoding", "latin-1")  # fmt: skip
    assert bad.exit_code != 0
    assert "dupes" not in om_cli("--json", "datasets", "ls").stdout
