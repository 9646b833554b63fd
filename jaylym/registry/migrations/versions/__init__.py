"""Alembic revisions of the registry (a package so wheels include them)."""
