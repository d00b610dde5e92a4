"""One module per row group; each exposes `run(ctx) -> list[Row]` (see bench/__main__.py)."""
