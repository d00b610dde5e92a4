"""Database: engine factory, the schema and its Alembic migrations."""
