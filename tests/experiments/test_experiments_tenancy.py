"""Experiment events are a shared table: a bucket's credential sees and writes only its own
bucket's events, whatever SQL it sends (storage/tenancy.py). PostgreSQL only: SQLite is the
single-user store."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.exceptions import PermissionDeniedError
from omega_jupyter.storage import credentials


def _name(tag: str) -> str:
    return f"{tag}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def service(postgres_url):
    return omega_jupyter.setup(url=postgres_url, bucket=_name("a"))


@pytest.fixture
def other(service):
    """Bucket b with a run of experiment 'shared' (the same name bucket a uses)."""
    b = service[_name("b")]
    with b.runtime.experiment("shared") as exp:
        exp.log_metric("secret", 42.0)
        exp.log_param("token", "b-only")
    return b


@pytest.fixture
def tenant(service, other):
    url = credentials.bucket_credentials(service.db, service.bucket, ttl=600)
    client = omega_jupyter.setup(url=url, bucket=service.bucket)
    yield client
    client.db.dispose()


def _sql(client, statement: str, **params):
    with client.db.connect() as conn:
        rows = conn.execute(sa.text(statement), params).all()
        conn.commit()
        return rows


def test_a_bucket_credential_logs_and_reads_its_own_experiments(tenant, other):
    with tenant.runtime.experiment("shared") as exp:
        assert exp.run == 1  # bucket b's run 1 of 'shared' is not this bucket's
        exp.log_metric("mine", 1.0)
    data = tenant.runtime.experiment("shared").data(run="*")
    assert set(data["key"].dropna()) == {"mine", "duration"}
    assert tenant.runtime.experiments()["name"].tolist() == ["shared"]


def test_batches_are_copied_by_the_service_and_inserted_by_a_bucket_credential(
    service, tenant, other
):
    """PostgreSQL refuses COPY into a table with row-level security to a role it applies to:
    a bucket's credential writes its large batches with INSERT, the service with COPY."""
    from omega_jupyter.experiments import recorder

    n = recorder.COPY_ROWS * 4
    for client in (service, tenant):
        with client.runtime.experiment("many") as exp:
            exp.log_metrics({f"m{i}": float(i) for i in range(n)})
        data = client.runtime.experiment("many").data(event="metric")
        assert sorted(data["value"]) == [float(i) for i in range(n)]
    assert service.db.engine not in recorder._copy_refused
    assert tenant.db.engine in recorder._copy_refused


def test_another_buckets_events_are_invisible(tenant, other):
    assert _sql(tenant, "SELECT * FROM om_experiment_events WHERE key = 'secret'") == []
    assert (
        _sql(tenant, "SELECT * FROM om_experiment_events WHERE bucket = :b", b=other.bucket) == []
    )
    sneaky = omega_jupyter.Omega(tenant.settings.replace(bucket=other.bucket))
    assert sneaky.runtime.experiment("shared").data(run="*").empty
    assert sneaky.runtime.experiments().empty


def test_another_buckets_events_cannot_be_written_changed_or_deleted(tenant, other):
    with pytest.raises(PermissionDeniedError, match="row-level security"):
        _sql(
            tenant,
            "INSERT INTO om_experiment_events (bucket, experiment, run, event, key, value, dt)"
            " VALUES (:b, 'shared', 99, 'metric', 'planted', 1, now())",
            b=other.bucket,
        )
    # events are append-only for a bucket: no UPDATE at all, and DELETE finds no other rows
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        _sql(tenant, "UPDATE om_experiment_events SET value = 0 WHERE key = 'secret'")
    assert (
        _sql(
            tenant,
            "DELETE FROM om_experiment_events WHERE bucket = :b RETURNING id",
            b=other.bucket,
        )
        == []
    )
    sneaky = omega_jupyter.Omega(tenant.settings.replace(bucket=other.bucket))
    assert sneaky.runtime.experiment("shared").drop() == 0
    assert other.runtime.experiment("shared").data(key="secret")["value"].tolist() == [42.0]


def test_a_credential_cannot_log_into_another_bucket(tenant, other):
    sneaky = omega_jupyter.Omega(tenant.settings.replace(bucket=other.bucket))
    exp = sneaky.runtime.experiment("shared")
    with pytest.raises(PermissionDeniedError, match="row-level security"):
        exp.start()
    assert other.runtime.experiment("shared").runs()["run"].tolist() == [1]
