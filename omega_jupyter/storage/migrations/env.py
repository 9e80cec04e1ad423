"""Alembic environment: always driven programmatically with a connection from omega_jupyter."""

from alembic import context

from omega_jupyter.storage.schema import metadata_obj

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata_obj,
    version_table="om_alembic_version",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
