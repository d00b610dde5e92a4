"""Libraries: root folders the server indexes, their CRUD API, health and live registry."""
