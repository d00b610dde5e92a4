"""`imageserver faces ...`: maintenance commands of the faces feature."""

from __future__ import annotations

import typer

faces_app = typer.Typer(no_args_is_help=True, help="Faces and people.")


@faces_app.command("recluster")
def recluster() -> None:
    """Regroup every face into people; named or hidden people and your own assignments stay."""
    from imageserver.config import load_settings
    from imageserver.faces import service
    from imageserver.server.bootstrap import bootstrap
    from imageserver.telemetry.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    ctx = bootstrap(settings).ctx
    with ctx.engine.begin() as conn:
        summary = service.recluster(conn, settings, ctx.clock())
    ctx.engine.dispose()
    typer.echo(
        f"faces={summary.faces} clusters={summary.clusters} "
        f"people_kept={summary.kept_people} people_new={summary.new_people} "
        f"people_removed={summary.removed_people} assigned={summary.assigned} "
        f"unassigned={summary.unassigned}"
    )
