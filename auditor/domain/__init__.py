"""The domain core: events, licenses and errors. Imports no framework and no database."""
