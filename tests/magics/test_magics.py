"""``%om`` / ``%%om`` in a real InteractiveShell, on SQLite and PostgreSQL."""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.linear_model import LogisticRegression

from omega_jupyter.exceptions import ObjectNotFoundError
from omega_jupyter.magics import display
from omega_jupyter.storage.metadata import Metadata
from tests.magics_shell import make_shell, run, usage_error


@pytest.fixture
def shell(om, database_url, bucket):  # type: ignore[no-untyped-def]
    return make_shell(database_url, bucket)


def frame(rows: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {"a": np.arange(rows), "city": pd.Categorical(["Bern", "Basel"] * (rows // 2))},
        index=pd.Index(np.arange(rows) * 2, name="k"),
    )


def test_load_ext_registers_line_and_cell_magic(shell) -> None:
    magics = shell.magics_manager.magics
    assert "om" in magics["line"] and "om" in magics["cell"]
    table = run(shell, "%om")
    assert "%om put" in repr(table) and "<table" in table._repr_html_()


def test_put_get_round_trip_and_preview(shell, om) -> None:
    shell.user_ns["df"] = frame()
    meta = run(shell, "%om put df sales")
    assert isinstance(meta, Metadata) and (meta.store, meta.version) == ("datasets", 1)
    run(shell, "x = %om get sales")
    pd.testing.assert_frame_equal(shell.user_ns["x"], frame())
    with capture_output() as shown:
        value = run(shell, "%om get sales")
    pd.testing.assert_frame_equal(value, frame())  # the object itself, not a copy of its text
    assert "first 10 of 50 rows shown" in shown.stdout and "dtypes:" in shown.stdout
    assert "\n98 " not in shown.stdout  # the last row is never printed
    with capture_output() as plain:
        run(shell, "x")  # an ordinary display of the same frame is untouched
    assert "first 10" not in plain.stdout
    html = display.preview_html(frame(), "sales")
    assert "50 × 2" in html and "category" in html


def test_get_filters_limit_lazy_and_modifiers(shell, om) -> None:
    om.datasets.put(frame(), "sales")
    got = run(shell, "%om get sales a__gte=45 city=Bern")
    assert got.a.tolist() == [46, 48]
    assert run(shell, "%om get sales --limit 3").a.tolist() == [0, 1, 2]
    lazy = run(shell, "%om get sales --lazy")
    assert type(lazy).__name__ == "LazyFrame" and lazy.shape == (50, 2)
    assert list(run(shell, "%om get sales[city]").columns) == ["city"]


def test_put_dispatches_by_type_and_store_override(shell, om) -> None:
    shell.user_ns.update(
        clf=LogisticRegression(),
        cfg={"alpha": 1},
        nb=new_notebook(cells=[new_code_cell("1 + 1")]),
    )
    assert run(shell, "%om put clf clf --tag prod").store == "models"
    assert om.models.metadata("clf@prod").version == 1
    assert run(shell, "%om put cfg cfg").store == "datasets"
    assert run(shell, "%om put nb reports/daily").store == "jobs"
    assert isinstance(om.jobs.get("reports/daily"), nbformat.NotebookNode)
    shell.user_ns["df"] = frame(4)
    run(shell, "%om put df more")
    run(shell, "%om put df more --append")
    assert len(om.datasets.get("more")) == 8
    assert run(shell, "%om put cfg cfg_model --store models").store == "models"


def test_ls_info_versions_drop(shell, om) -> None:
    om.datasets.put(frame(), "sales")
    om.models.put(LogisticRegression(), "clf")
    om.models.put(LogisticRegression(C=2.0), "clf")
    listing = run(shell, "%om ls")
    assert [(r["store"], r["name"]) for r in listing.rows] == [
        ("datasets", "sales"),
        ("models", "clf"),
    ]
    assert "<table" in listing._repr_html_() and "sales" in repr(listing)
    assert [r["name"] for r in run(shell, "%om ls models").rows] == ["clf"]
    assert run(shell, "%om ls datasets 'x*'").rows == []
    info = run(shell, "%om info sales")
    fields = {r["field"]: r["value"] for r in info.rows}
    assert fields["rows"] == 50 and "city: category" in fields["columns"]
    versions = run(shell, "%om versions clf")
    assert [r["version"] for r in versions.rows] == [1, 2]
    assert repr(run(shell, "%om drop clf")) == "dropped clf from models"
    assert not om.models.exists("clf")
    assert "does not exist" in repr(run(shell, "%om drop clf --force"))


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ("%om put nope sales", "no variable named 'nope'"),
        ("%om get nope", "no object named 'nope'"),
        ("%om info nope", "no object named 'nope'"),
        ("%om drop nope", "no object named 'nope'"),
        ("%om put df", "required: name"),
        ("%om put df a b c", "unrecognized arguments"),
        ("%om get", "required: name"),
        ("%om frobnicate", "unknown subcommand 'frobnicate'"),
        ("%om get sales --limit x", "invalid int value"),
        ("%om get sales nocolumn__gte=1", "nocolumn"),
        ("%om get sales a__sideways=1", "sideways"),
        ("%om put df bad@name", "reserved for modifiers"),
        ("%om put df sales --tag prod", "--tag only applies to models"),
        ("%om get sales@7", "no version 7"),
        ("%om ls datasets a b", "at most a store and one pattern"),
        ("%om run nojob -p x", "key=value"),
        ("%om schedule sales 'every 5 minutes'", "does not exist"),
        ("%om --bucket", "--bucket needs a value"),
        ("%om --bucket 'bad bucket' ls", "bucket 'bad bucket' is invalid"),
        ("%om put df 'sales", "check the quotes"),
        ("%%om ls\nbody", "takes no cell body"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(shell, om, cell, says) -> None:
    om.datasets.put(frame(), "sales")
    shell.user_ns["df"] = frame(2)
    before = [(m.name, m.version) for m in om.datasets.list(raw=True)]
    assert says in usage_error(shell, cell)
    assert [(m.name, m.version) for m in om.datasets.list(raw=True)] == before
    assert om.models.list() == [] and om.jobs.list() == []


def test_short_errors_off_shows_the_exception(shell) -> None:
    shell.magics_manager.registry["OmegaMagics"].short_errors = False
    result = shell.run_cell("%om get sales --store datasets")
    assert isinstance(result.error_in_exec, ObjectNotFoundError)


def test_bucket_option_and_trait(shell, om) -> None:
    shell.user_ns["df"] = frame(4)
    run(shell, "%om --bucket other put df sales")
    assert om["other"].datasets.exists("sales") and not om.datasets.exists("sales")
    assert [r["name"] for r in run(shell, "%om --bucket=other ls").rows] == ["sales"]
    om["other"].datasets.drop("sales")


def test_sql_reads_datasets_by_name(shell, om) -> None:
    om.datasets.put(frame(), "sales")
    om.datasets.put(pd.DataFrame({"city": ["Bern", "Basel"], "pop": [134, 173]}), "geo/cities")
    result = run(
        shell,
        "%%om sql\nSELECT s.city, COUNT(*) AS n, MAX(c.pop) AS pop\n"
        'FROM sales s JOIN "geo/cities" c ON s.city = c.city\n'
        "WHERE s.a >= 10 GROUP BY s.city ORDER BY s.city",
    )
    assert result.to_dict("records") == [
        {"city": "Basel", "n": 20, "pop": 173},
        {"city": "Bern", "n": 20, "pop": 134},
    ]
    assert run(shell, "%om sql SELECT k, a FROM sales WHERE city = 'Bern' LIMIT 1").k.tolist() == [
        0
    ]
    meta = run(shell, "%%om sql --into bern\nWITH b AS (SELECT * FROM sales) SELECT a FROM b")
    assert meta.name == "bern" and len(om.datasets.get("bern")) == 50


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("DROP TABLE sales", "not DROP"),
        ("INSERT INTO sales (a) VALUES (1)", "not INSERT"),
        ("DELETE FROM sales", "not DELETE"),
        ("UPDATE sales SET a = 1", "not UPDATE"),
        ("WITH d AS (DELETE FROM sales RETURNING *) SELECT * FROM d", "DELETE"),
        ("SELECT 1; DROP TABLE sales", "exactly one SELECT"),
        ("SELECT * INTO copy FROM sales", "--into"),
        ("SELECT * FROM om_objects", "'om_objects' is not a dataset"),
        ("SELECT * FROM sqlite_master", "'sqlite_master' is not a dataset"),
        ("SELECT * FROM public.om_objects", "schema-qualified"),
        ("SELECT * FROM information_schema.tables", "schema-qualified"),
        ("SELECT * FROM pg_catalog.pg_tables", "schema-qualified"),
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
        ("SELECT query_to_xml('select 1', true, true, '')", "query_to_xml"),
        ("SELECT * FROM nothere", "'nothere' is not a dataset"),
        ("SELECT * FROM cfg", "only DataFrames and Series"),
        ("SELEC * FROM sales", "cannot parse"),
        ("", "cell body is empty"),
        ("   \n  ", "write the query"),
    ],
)
def test_sql_refuses_writes_and_non_datasets(shell, om, query, says) -> None:
    om.datasets.put(frame(), "sales")
    om.datasets.put({"x": 1}, "cfg")
    assert says in usage_error(shell, f"%%om sql\n{query}")
    assert om.datasets.list() == ["cfg", "sales"] and len(om.datasets.get("sales")) == 50


def test_read_csv_with_progress(shell, om, tmp_path) -> None:
    path = tmp_path / "data.csv"
    frame(20).reset_index().to_csv(path, index=False)
    meta = run(shell, f"%om read_csv {path} trips --chunksize 7")
    assert meta.name == "trips" and len(om.datasets.get("trips")) == 20


def test_schedule_runs_and_log_tables(shell, om) -> None:
    shell.user_ns["nb"] = new_notebook(cells=[new_code_cell("x = 1")])
    run(shell, "%om put nb report")
    table = run(shell, '%om schedule report "every 5 minutes" -p x=2')
    fields = {r["field"]: r["value"] for r in table.rows}
    assert fields["when"] == "every 5 minutes" and fields["parameters"] == {"x": 2}
    assert fields["paused"] is False
    table = run(shell, "%om schedule report --pause")
    assert {r["field"]: r["value"] for r in table.rows}["paused"] is True
    assert om.jobs.schedules().paused.tolist() == [True]
    assert "not allowed with" in usage_error(shell, "%om schedule report --pause --resume")
    table = run(shell, "%om schedule report --resume")
    assert {r["field"]: r["value"] for r in table.rows}["paused"] is False
    assert repr(run(shell, "%om schedule report --delete")) == "unscheduled report"
    assert "has no schedule" in usage_error(shell, "%om schedule report --resume")
    runs = run(shell, "%om runs report")
    assert runs.rows == [] and "no runs" in runs._repr_html_()
    om.logger.info("hello from a test")
    lines = run(shell, "%om log -n 5")
    assert [r["message"] for r in lines.rows] == ["hello from a test"]


def test_unschedule_and_its_alias(shell, om) -> None:
    om.jobs.put(new_notebook(), "report")
    run(shell, '%om schedule report "hourly"')
    assert repr(run(shell, "%om unschedule report")) == "unscheduled report"
    assert "has no schedule" in usage_error(shell, "%om unschedule report")
    assert om.jobs.schedules().empty and om.jobs.exists("report")
    usage = usage_error(shell, "%om schedule")
    assert "--pause" in usage and "--delete" not in usage  # the alias is not advertised
    assert "arguments are required: job" in usage_error(shell, "%om unschedule")


def test_save_outside_a_notebook_kernel_is_a_clear_error(shell) -> None:
    assert "plain IPython" in usage_error(shell, "%om save mine")


def test_badges_and_tables_render() -> None:
    table = display.Table([{"state": "failed", "x": None}], ["state", "x"], badges=["state"])
    html = table._repr_html_()
    assert "om-badge om-failed" in html and "#dc3545" in html
    assert repr(table).splitlines()[1].startswith("failed")


def test_read_csv_with_encoding_and_duplicate_headers(shell, om, tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("city\nZürich\n".encode("latin-1"))
    assert "encoding" in usage_error(shell, f"%om read_csv {path} cities")
    run(shell, f"%om read_csv {path} cities --encoding latin-1")
    assert om.datasets.get("cities")["city"].tolist() == ["Zürich"]
    dupes = tmp_path / "dupes.csv"
    dupes.write_text("a,a\n1,2\n")
    assert "more than once" in usage_error(shell, f"%om read_csv {dupes} dupes")
    assert not om.datasets.exists("dupes")
