"""Alembic environment of the registry, packaged so an installed wheel can migrate."""
