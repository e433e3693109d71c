"""Adapters to outside systems, behind ports the services define."""
