"""One filter grammar: the same ``col__op=value`` text gives the same rows from Python, the CLI
(``om datasets get -f``), the magics (``%om get``) and REST (``GET /datasets/{name}?…``), on
SQLite and PostgreSQL. The grammar is documented in docs/filters.md."""

from __future__ import annotations

import asyncio
import json
import shlex
import threading
from collections.abc import Iterator

import pandas as pd
import pytest
import requests
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from typer.testing import CliRunner

import omega_jupyter
from omega_jupyter.cli import app
from omega_jupyter.params import column_specs, parse_filters
from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.server.standalone import make_app
from tests.magics_shell import make_shell, run

NAME = "filtered"

# (filter texts, ids of the rows they select)
CASES = [
    (["n__gte=3"], [2, 3, 4, 7]),
    (["n__in=1,2"], [0, 1, 5, 6]),
    (["n__in=[1,2]"], [0, 1, 5, 6]),
    (["n__in=4"], [3]),  # one value without a comma: a one-item list
    (["city=007"], [3]),  # a text column keeps number-looking text
    (["city__in=Bern,Basel"], [0, 2, 4, 6]),
    (['city__in=["Bern","Basel"]'], [0, 2, 4, 6]),
    (["city__nin=Bern,Basel"], [1, 3, 5, 7]),  # missing values are "not in"
    (["city=null"], [5]),
    (["city__startswith=B"], [0, 2, 4, 6]),
    (["code=007"], [0, 2, 6]),  # a category of text
    (["code__in=007,010"], [0, 1, 2, 4, 6, 7]),
    (["grade__gt=low"], [1, 2, 4, 5, 7]),  # ordered category: category order
    (["grade__between=mid,high"], [1, 2, 4, 5, 7]),
    (["paid=true"], [0, 2, 4, 5, 7]),
    (["paid=0"], [1, 3, 6]),
    (["price__isnull=true"], [1, 4]),
    (["price__between=1.5,3"], [0, 2, 3, 7]),
    (["day__gte=2024-01-04"], [3, 4, 5, 6, 7]),
    (["key__lt=13"], [0, 1, 2]),  # an index level
    (["key__in=10,17"], [0, 7]),
    (["n__gte=2", "city__ne=Bern"], [1, 2, 3, 6, 7]),
]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(8),
            "city": ["Bern", "Zürich", "Basel", "007", "Bern", None, "Basel", "Genf"],
            "n": [1, 2, 3, 4, 5, 1, 2, 6],
            "price": [1.5, None, 2.0, 3.0, None, 4.0, 1.0, 2.5],
            "paid": [True, False, True, False, True, True, False, True],
            "grade": pd.Categorical(
                ["low", "mid", "high", "low", "mid", "high", "low", "mid"],
                categories=["low", "mid", "high"],
                ordered=True,
            ),
            "code": pd.Categorical(["007", "010", "007", "x", "010", "x", "007", "010"]),
            "day": pd.date_range("2024-01-01", periods=8, freq="D"),
        },
        index=pd.Index([10, 11, 12, 13, 14, 15, 16, 17], name="key"),  # stored as a level
    )


@pytest.fixture(scope="module")
def rest_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``om serve``'s application on the test database, served from a thread."""
    home = tmp_path_factory.mktemp("rest_home")
    client = omega_jupyter.setup(url=database_url, home=str(home))
    sockets = bind_sockets(0, "127.0.0.1")
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            HTTPServer(make_app(client)).add_sockets(sockets)
            started.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="rest-filters", daemon=True)
    thread.start()
    assert started.wait(30)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}/api/v1"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _ids(frame: pd.DataFrame) -> list[int]:
    return sorted(int(i) for i in frame["id"])


@pytest.mark.parametrize(("texts", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_same_text_same_rows_on_every_surface(
    om, database_url: str, bucket: str, rest_url: str, texts: list[str], expected: list[int]
) -> None:
    om.datasets.put(_frame(), NAME)
    meta = om.datasets.metadata(NAME)

    python = om.datasets.get(NAME, **parse_filters(texts, column_specs(meta.kind_meta)))
    assert _ids(python) == expected

    args = [a for text in texts for a in ("-f", text)]
    result = CliRunner().invoke(
        app,
        ["--url", database_url, "--bucket", bucket, "datasets", "get", NAME, *args, "--json"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(r["id"] for r in json.loads(result.output)) == expected

    shell = make_shell(database_url, bucket)
    magic = run(shell, f"%om get {NAME} " + " ".join(shlex.quote(t) for t in texts))
    assert _ids(magic) == expected

    key = ApiKeyService(om.db).create(name="filters", buckets=[bucket])[1]
    query = [tuple(text.split("=", 1)) for text in texts]
    r = requests.get(
        f"{rest_url}/datasets/{NAME}",
        params=query,
        headers={"Authorization": f"Bearer {key}", "Bucket": bucket},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert sorted(row["id"] for row in r.json()["data"]) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("n__gt=abc", "is not a number"),
        ("paid=maybe", "expects true or false"),
        ("price__isnull=perhaps", "expects true or false"),
        ("n__in=[1,2", "malformed JSON list"),
        ("n__between=1", "two values"),
    ],
)
def test_same_text_same_error_on_every_surface(
    om, database_url: str, bucket: str, rest_url: str, text: str, needle: str
) -> None:
    om.datasets.put(_frame(), NAME)
    result = CliRunner().invoke(
        app, ["--url", database_url, "--bucket", bucket, "datasets", "get", NAME, "-f", text]
    )
    assert result.exit_code != 0 and needle in result.output, result.output
    shell = make_shell(database_url, bucket)
    assert needle in str(shell.run_cell(f"%om get {NAME} {shlex.quote(text)}").error_in_exec)
    key = ApiKeyService(om.db).create(name="filters", buckets=[bucket])[1]
    r = requests.get(
        f"{rest_url}/datasets/{NAME}",
        params=[tuple(text.split("=", 1))],
        headers={"Authorization": f"Bearer {key}", "Bucket": bucket},
        timeout=60,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_filter", r.text
    assert needle in r.json()["message"]
