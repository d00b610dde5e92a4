"""The on-disk layout of an exported CLIP model and the config it carries.

The layout is the one self-hosted photo servers use for exported CLIP models (Immich's
model repositories, for one), so a folder pulled for them works here unchanged:

    MODEL/config.json                    embed_dim, vision_cfg.image_size, text_cfg.*
    MODEL/visual/model.onnx
    MODEL/visual/preprocess_cfg.json     size, mean, std, interpolation, resize_mode
    MODEL/textual/model.onnx
    MODEL/textual/tokenizer.json         Hugging Face `tokenizers` file
    MODEL/textual/tokenizer_config.json  pad_token (optional)

`text_cfg.hf_tokenizer_name` marks a SigLIP-style model (Hugging Face tokenizer, no BOS,
text canonicalised when `tokenizer_kwargs.clean == "canonicalize"`); otherwise the model is
OpenAI-style CLIP (BOS/EOT around the text, the EOT kept last on truncation, pad id 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from imageserver.ml.encoders.base import ModelError

ResizeMode = Literal["shortest", "squash", "longest"]
TextStyle = Literal["openai", "siglip"]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
DIGEST_CHARS = 16


@dataclass(frozen=True)
class VisualConfig:
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    resize_mode: ResizeMode = "shortest"
    fill_color: int = 0


@dataclass(frozen=True)
class TextConfig:
    context_length: int
    style: TextStyle = "openai"
    pad_token: str | None = None
    canonicalize: bool = False


@dataclass(frozen=True)
class ModelFiles:
    root: Path
    name: str
    embed_dim: int | None
    visual: VisualConfig
    text: TextConfig

    @property
    def visual_model(self) -> Path:
        return self.root / "visual" / "model.onnx"

    @property
    def textual_model(self) -> Path:
        return self.root / "textual" / "model.onnx"

    @property
    def tokenizer(self) -> Path:
        return self.root / "textual" / "tokenizer.json"

    def digest_inputs(self) -> list[Path]:
        """Every file whose bytes decide the vectors: weights (+ external data) and configs."""
        files = [self.root / "config.json", self.root / "visual" / "preprocess_cfg.json"]
        files += [self.tokenizer, self.root / "textual" / "tokenizer_config.json"]
        for model in (self.visual_model, self.textual_model):
            files.append(model)
            files += sorted(p for p in model.parent.glob("*.onnx*data") if p.is_file())
            files += sorted(p for p in model.parent.glob("*.data") if p.is_file())
        return [f for f in dict.fromkeys(files) if f.is_file()]

    def digest(self) -> str:
        """blake3 over (relative path, bytes) of `digest_inputs()`: renames don't matter,
        any changed weight or config does."""
        import blake3

        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        for path in self.digest_inputs():
            hasher.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            with path.open("rb") as fh:
                while chunk := fh.read(8 << 20):
                    hasher.update(chunk)
        return str(hasher.hexdigest())[:DIGEST_CHARS]


def _read_json(path: Path, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise ModelError(f"model file missing: {path}")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data


def _triple(value: Any, default: tuple[float, float, float]) -> tuple[float, float, float]:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return (float(value),) * 3
    values = [float(v) for v in value]
    if len(values) != 3:
        raise ModelError(f"expected 3 values for mean/std, got {values}")
    return (values[0], values[1], values[2])


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def load_model_files(root: Path) -> ModelFiles:
    """Read and validate the folder's configs; raises ModelError with the file at fault."""
    root = root.expanduser()
    if not root.is_dir():
        raise ModelError(f"model folder not found: {root}")
    config = _read_json(root / "config.json", required=True)
    pre = _read_json(root / "visual" / "preprocess_cfg.json", required=False)
    tok_cfg = _read_json(root / "textual" / "tokenizer_config.json", required=False)
    vision_cfg = config.get("vision_cfg") or {}
    text_cfg = config.get("text_cfg") or {}
    size_value = pre.get("size", vision_cfg.get("image_size", 224))
    size = int(size_value[0] if isinstance(size_value, list) else size_value)
    resize_mode = str(pre.get("resize_mode", "shortest"))
    if resize_mode not in ("shortest", "squash", "longest"):
        raise ModelError(f"unsupported resize_mode {resize_mode!r}")
    visual = VisualConfig(
        size=size,
        mean=_triple(pre.get("mean"), OPENAI_MEAN),
        std=_triple(pre.get("std"), OPENAI_STD),
        interpolation=str(pre.get("interpolation", "bicubic")),
        resize_mode=resize_mode,  # type: ignore[arg-type]
        fill_color=int(pre.get("fill_color", 0) or 0),
    )
    siglip = bool(text_cfg.get("hf_tokenizer_name"))
    kwargs = text_cfg.get("tokenizer_kwargs") or {}
    text = TextConfig(
        context_length=int(text_cfg.get("context_length", 64 if siglip else 77)),
        style="siglip" if siglip else "openai",
        pad_token=_token_text(tok_cfg.get("pad_token")),
        canonicalize=kwargs.get("clean") == "canonicalize",
    )
    files = ModelFiles(
        root=root,
        name=str(config.get("model_name") or root.resolve().name),
        embed_dim=int(config["embed_dim"]) if "embed_dim" in config else None,
        visual=visual,
        text=text,
    )
    for required in (files.visual_model, files.textual_model, files.tokenizer):
        if not required.is_file():
            raise ModelError(f"model file missing: {required}")
    return files
