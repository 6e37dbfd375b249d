"""Alembic environment: runs on the connection doclib hands over."""

from alembic import context

from doclib.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("doclib migrations run through doclib (Database.migrate), "
                       "which supplies the connection")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
