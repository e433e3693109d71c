"""Alembic environment: migrations run on the engine handed in by auditor.store.migrate."""

from alembic import context

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection)
    context.run_migrations()
