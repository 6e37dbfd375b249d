"""The schema's migrations (Alembic, ``versions/``), and what they share.

SQLite and PostgreSQL: a trigger is written for each (SQLite's body is
SQL statements; PostgreSQL's is a PL/pgSQL function of the same name).
"""

from __future__ import annotations


def dialect() -> str:
    from alembic import op

    return str(op.get_bind().dialect.name)


def pg_trigger(name: str, table: str, when: str, body: str, each: str = "ROW",
               referencing: str = "") -> None:
    """A PostgreSQL trigger ``name`` on ``table`` (``when``: "AFTER DELETE",
    ...) running the PL/pgSQL statements ``body``, through a function of
    the same name."""
    from alembic import op

    op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
               f"BEGIN {body} RETURN NULL; END $body$")
    op.execute(f"CREATE TRIGGER {name} {when} ON {table} {referencing} "
               f"FOR EACH {each} EXECUTE FUNCTION {name}()")


def drop_trigger(name: str, table: str) -> None:
    """Drop a trigger (and on PostgreSQL its function), if it is there."""
    from alembic import op

    if dialect() == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
