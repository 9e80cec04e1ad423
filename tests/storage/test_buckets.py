"""Buckets are isolated namespaces (a PostgreSQL schema each)."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.exceptions import InvalidNameError
from omega_jupyter.names import bucket_schema_name


def test_same_name_in_two_buckets_is_independent(om):
    other = om[om.bucket + "-other"]
    om.datasets.put(pd.DataFrame({"a": [1]}), "data", attributes={"who": "first"})
    other.datasets.put(pd.DataFrame({"b": ["x", "y"]}), "data")
    pd.testing.assert_frame_equal(om.datasets.get("data"), pd.DataFrame({"a": [1]}))
    pd.testing.assert_frame_equal(other.datasets.get("data"), pd.DataFrame({"b": ["x", "y"]}))
    assert other.datasets.metadata("data").attributes == {}
    other.datasets.drop("data")
    assert om.datasets.exists("data") and not other.datasets.exists("data")
    assert om.datasets.list() == ["data"] and other.datasets.list() == []


def test_bucket_client_shares_the_database(om):
    other = om["elsewhere"]
    assert other.bucket == "elsewhere"
    assert other.settings.resolved_database_url == om.settings.resolved_database_url
    assert other.db is om.db


def test_data_tables_live_in_the_bucket_schema(om):
    meta = om.datasets.put(pd.DataFrame({"a": [1, 2]}), "data")
    inspector = sa.inspect(om.db.engine)
    if om.db.is_postgres:
        schema = bucket_schema_name(om.bucket)
        assert om.db.data_schema(om.bucket) == schema
        assert inspector.has_table(meta.location, schema=schema)
        assert not inspector.has_table(meta.location, schema="public")
    else:
        assert om.db.data_schema(om.bucket) is None
        assert inspector.has_table(meta.location)


def test_schema_names_never_collide():
    names = ["Team-A", "team_a", "team-a", "TEAM_A", "a" * 63, "a" * 62 + "b"]
    schemas = {bucket_schema_name(n) for n in names}
    assert len(schemas) == len(names)
    assert all(len(s) <= 63 and s == s.lower() for s in schemas)


@pytest.mark.parametrize("bad", ["", "a b", "x'; DROP SCHEMA public; --", "-x", "a" * 64])
def test_invalid_bucket_names(om, bad):
    with pytest.raises(InvalidNameError):
        om[bad]
    with pytest.raises(InvalidNameError):
        omega_jupyter.setup(url=om.settings.resolved_database_url, bucket=bad)
