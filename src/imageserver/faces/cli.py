"""`imageserver faces ...`: maintenance commands of the faces feature."""

from __future__ import annotations

import typer

faces_app = typer.Typer(no_args_is_help=True, help="Faces and people.")


@faces_app.command("recluster")
def recluster() -> None:
    """Regroup every face into people; named or hidden people and your own assignments stay."""
    # The database only (no server start-up): a feature never imports the server package.
    from imageserver.clock import system_clock
    from imageserver.config import load_settings
    from imageserver.db import migrate
    from imageserver.db.engine import existing_schema, make_engine
    from imageserver.faces import service
    from imageserver.telemetry.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if not existing_schema(settings.resolved_database_url):
        typer.echo(f"error: no imageserver database in {settings.data_dir}", err=True)
        raise typer.Exit(1)
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        summary = service.recluster(conn, settings, system_clock())
    engine.dispose()
    typer.echo(
        f"faces={summary.faces} clusters={summary.clusters} "
        f"people_kept={summary.kept_people} people_new={summary.new_people} "
        f"people_removed={summary.removed_people} assigned={summary.assigned} "
        f"unassigned={summary.unassigned}"
    )
