"""`imageserver models pull NAME` and `imageserver encoder serve` (Typer sub-apps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from imageserver.config import Settings

models_app = typer.Typer(no_args_is_help=True, help="Get CLIP models for semantic search.")
encoder_app = typer.Typer(no_args_is_help=True, help="Run or check a CLIP encoder service.")

DEFAULT_ORG = "immich-app"
MODEL_FILES = [
    "config.json",
    "visual/model.onnx",
    "visual/model.onnx_data",
    "visual/preprocess_cfg.json",
    "textual/model.onnx",
    "textual/model.onnx_data",
    "textual/tokenizer.json",
    "textual/tokenizer_config.json",
    "textual/special_tokens_map.json",
]


def _settings() -> Settings:
    from imageserver.config import load_settings

    return load_settings()


def repo_id_for(name: str) -> str:
    """`ViT-B-32__openai` -> `immich-app/ViT-B-32__openai`; `org/name` is kept as given."""
    return name if "/" in name else f"{DEFAULT_ORG}/{name}"


@models_app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="model name, e.g. ViT-B-32__openai, or org/repo")],
    dest: Annotated[
        Path | None, typer.Option(help="target folder (default DATA_DIR/models/NAME)")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="git revision of the model repo")] = None,
) -> None:
    """Download a CLIP model folder (ONNX + tokenizer + configs) from the Hugging Face hub.

    Needs network access once; the server itself never downloads. Exported models in the
    layout Immich publishes (immich-app/<name>) work as they are.
    """
    settings = _settings()
    target = dest or settings.data_dir / "models" / name.replace("/", "__")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        typer.echo(f"huggingface_hub is not installed: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        snapshot_download(
            repo_id=repo_id_for(name),
            revision=revision,
            local_dir=str(target),
            allow_patterns=MODEL_FILES,
        )
    except Exception as exc:  # network, unknown repo, auth: one clear line
        typer.echo(f"could not download {repo_id_for(name)}: {exc}", err=True)
        raise typer.Exit(1) from None
    from imageserver.ml.encoders.model_files import load_model_files

    files = load_model_files(target)
    typer.echo(f"model {files.name} in {target}")
    typer.echo(f"use it with: IMAGESERVER_CLIP_MODEL_PATH={target}")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


@encoder_app.command("serve")
def serve(
    host: Annotated[
        str,
        typer.Option(help="bind address; other than loopback only with a shared secret"),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (Immich's ML service uses 3003)")] = 3003,
    model: Annotated[
        Path | None, typer.Option(help="model folder (default IMAGESERVER_CLIP_MODEL_PATH)")
    ] = None,
) -> None:
    """Serve the local CLIP model over HTTP (GET /ping, POST /predict) for other machines.

    The shared secret is IMAGESERVER_CLIP_REMOTE_SECRET; clients send it as X-Encoder-Secret.
    """
    import uvicorn

    from imageserver.ml.encoders import ModelError, load_local_encoder
    from imageserver.ml.server import create_encoder_app

    settings = _settings()
    if not is_loopback(host) and settings.clip_remote_secret is None:
        typer.echo(
            f"error: refusing to serve on {host} without IMAGESERVER_CLIP_REMOTE_SECRET: "
            "anyone on the network could use the model; set the secret or bind 127.0.0.1",
            err=True,
        )
        raise typer.Exit(2)
    if model is not None:
        settings.clip_model_path = model
    try:
        encoder = load_local_encoder(settings)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if encoder is None:
        typer.echo("error: no model: pass --model or set IMAGESERVER_CLIP_MODEL_PATH", err=True)
        raise typer.Exit(2)
    name = encoder.model_version.split("@", 1)[0]
    secret = settings.clip_remote_secret
    app = create_encoder_app(
        encoder, name=name, secret=secret.get_secret_value() if secret else None
    )
    typer.echo(f"encoder {encoder.model_version} listening on http://{host}:{port}/")
    uvicorn.run(app, log_config=None, access_log=False, **http_options(settings, host, port))


def http_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """The web server's protocol bounds (a deadline and a size cap on request heads)."""
    from imageserver.work.bodylimits import header_deadline_protocol

    return {
        "host": host,
        "port": port,
        "http": header_deadline_protocol(settings.http_header_timeout_seconds),
        "h11_max_incomplete_event_size": settings.http_header_max_bytes,
        "timeout_keep_alive": 5,
    }


@encoder_app.command("ping")
def ping() -> None:
    """Check every IMAGESERVER_CLIP_REMOTE_URLS service answers GET /ping."""
    from imageserver.ml.encoders.remote import RemoteEncoder

    settings = _settings()
    if not settings.clip_remote_urls:
        typer.echo("IMAGESERVER_CLIP_REMOTE_URLS is empty", err=True)
        raise typer.Exit(2)
    encoder = RemoteEncoder(settings.clip_remote_urls, settings.clip_remote_model_name)
    results = encoder.ping()
    encoder.close()
    for url, ok in results.items():
        typer.echo(f"{url}\t{'up' if ok else 'DOWN'}")
    raise typer.Exit(0 if any(results.values()) else 1)
