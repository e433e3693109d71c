"""The SQL adapter: schema, engine set-up, migrations and the event store. The only SQLAlchemy user."""
