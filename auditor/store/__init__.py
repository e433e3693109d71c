"""The SQL adapter: schema, engine, migrations and the event store; the one SQLAlchemy user."""
