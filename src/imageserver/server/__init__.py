"""The server: app, CLI, start-up and background loops; it wires every feature together."""
