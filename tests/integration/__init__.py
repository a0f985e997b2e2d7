"""Integration tests: the real pipeline on real databases (SQLite and PostgreSQL)."""
