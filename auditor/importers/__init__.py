"""Importers: turn each source format into canonical events, rejecting what cannot be parsed."""
