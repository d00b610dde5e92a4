"""Search rows: search latency at 100k and 1M synthetic vectors against numpy brute
force over the same vectors (same top hits required), the index's memory against the raw
vector bytes, and the embedding drain's throughput against a bare onnxruntime loop over the
same previews and the same model.

Run alone with `python -m bench.rows.search [--sizes 100000,1000000] [--drain-images 48]`.
The drain rows use a synthetic ONNX model shaped like ViT-B/32's visual tower (patch
projection + 12 MLP blocks, random weights) so inference costs what a real model costs
and the overhead ratio means something; no model hub is involved.
"""

# ruff: noqa: I001, RUF100  (whether `bench` counts as first-party differs until the harness lands)
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.table import Row, render

DIM = 512
QUERIES = 100
TOP = 50


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def synthetic(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Clustered unit vectors (real embeddings are clustered, not uniform on the sphere)."""
    labels = rng.integers(0, len(centres), n)
    out = centres[labels] + rng.standard_normal((n, DIM), dtype=np.float32) * 0.6
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def search_rows(n: int, seed: int = 1) -> list[Row]:
    from imageserver.search.index import VersionIndex
    from imageserver.search.service import ranked_rows

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, DIM), dtype=np.float32)
    reference = np.empty((n, DIM), dtype=np.float32)  # numpy's own copy, outside the index
    before = rss_bytes()
    index = VersionIndex("bench", DIM, capacity=n + max(256, n // 32))
    chunk = 50_000
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        vectors = synthetic(size, rng, centres)
        reference[start : start + size] = vectors
        ids = list(range(start + 1, start + size + 1))
        digests = [os.urandom(32).hex() for _ in range(size)]
        index.add(ids, digests, vectors)
        del vectors
    grown = rss_bytes() - before - reference.nbytes
    raw = n * DIM * 4
    snap = index.snapshot()
    queries = synthetic(QUERIES, rng, centres)

    def ours(q: np.ndarray) -> np.ndarray:
        scores = snap.scores(q)
        return next(ranked_rows(scores, -1.0, TOP))[:TOP]

    def numpy_brute(q: np.ndarray) -> np.ndarray:
        scores = reference @ q
        return np.argsort(-scores, kind="stable")[:TOP]

    ours_t, ref_t, same, found = [], [], 0, 0
    for q in queries:
        t0 = time.perf_counter()
        a = ours(q)
        t1 = time.perf_counter()
        b = numpy_brute(q)
        t2 = time.perf_counter()
        ours_t.append(t1 - t0)
        ref_t.append(t2 - t1)
        same += int(np.array_equal(a, b))
        found += len(set(a[:10].tolist()) & set(b[:10].tolist()))
    p50, p99 = np.percentile(ours_t, 50) * 1e3, np.percentile(ours_t, 99) * 1e3
    r50, r99 = np.percentile(ref_t, 50) * 1e3, np.percentile(ref_t, 99) * 1e3
    label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
    mode = "int8 scan + float16 rescore" if index.quantized else "exact float32"
    recall = found / (10 * QUERIES)
    note = f"{mode}; {same}/{QUERIES} queries with the same top {TOP} as numpy (argsort)"
    rows = [
        Row(
            "search",
            f"p50 latency, {label} x {DIM}-d",
            "ms",
            p50,
            r50,
            "numpy brute force",
            target=1.0,
            goal="lower",
            note=note,
        ),
        Row(
            "search",
            f"p99 latency, {label} x {DIM}-d",
            "ms",
            p99,
            r99,
            "numpy brute force",
            target=1.0,
            goal="lower",
        ),
        Row(
            "search",
            f"index memory, {label}",
            "MB",
            index.nbytes / 1e6,
            raw / 1e6,
            "raw float32 vectors",
            target=1.1,
            goal="lower",
            note=f"process RSS grew {grown / 1e6:,.0f} MB while building",
        ),
    ]
    rows.append(
        Row(
            "search",
            f"recall@10 vs exact float32, {label}",
            "",
            recall,
            target=0.98,
            goal="higher",
            note=mode,
        )
    )
    if n >= 1_000_000:
        rows.append(
            Row(
                "search",
                f"p50 latency target, {label}",
                "ms",
                p50,
                target=50,
                goal="lower",
                note="absolute target on this 2-core machine",
            )
        )
    return rows


# --- drain throughput ----------------------------------------------------------------------


def vit_like_model(root: Path, blocks: int = 12, width: int = 768, hidden: int = 2048) -> Path:
    """A folder in the CLIP layout whose visual tower costs about what ViT-B/32 costs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tests.ml.tiny_clip import build_tiny_clip

    build_tiny_clip(root, size=224)  # configs, tokenizer, text tower
    rng = np.random.default_rng(0)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[-2])).astype(
            np.float32
        )

    inits = [numpy_helper.from_array(w(width, 3, 32, 32), "patch")]
    nodes = [
        helper.make_node("Conv", ["image", "patch"], ["p"], strides=[32, 32]),  # (b,768,7,7)
        helper.make_node("Reshape", ["p", "shape"], ["p2"]),
        helper.make_node("Transpose", ["p2"], ["x0"], perm=[0, 2, 1]),  # (b,49,768)
    ]
    inits.append(numpy_helper.from_array(np.array([0, width, -1], dtype=np.int64), "shape"))
    x = "x0"
    for i in range(blocks):
        inits += [
            numpy_helper.from_array(w(width, hidden), f"a{i}"),
            numpy_helper.from_array(w(hidden, width), f"b{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [x, f"a{i}"], [f"h{i}"]),
            helper.make_node("Relu", [f"h{i}"], [f"r{i}"]),
            helper.make_node("MatMul", [f"r{i}", f"b{i}"], [f"o{i}"]),
            helper.make_node("Add", [x, f"o{i}"], [f"x{i + 1}"]),
        ]
        x = f"x{i + 1}"
    inits.append(numpy_helper.from_array(w(width, DIM), "proj"))
    nodes += [
        helper.make_node("ReduceMean", [x], ["pooled"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["pooled", "proj"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(root / "visual" / "model.onnx"))
    (root / "config.json").write_text(
        '{"embed_dim": 512, "vision_cfg": {"image_size": 224}, "text_cfg": {"context_length": 12}}'
    )
    return root


def bare_loop(model: Path, files: list[Path]) -> float:
    """The reference: decode, preprocess and run each preview, one at a time, nothing else."""
    import onnxruntime as ort
    from PIL import Image, ImageOps

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    session = ort.InferenceSession(
        str(model / "visual" / "model.onnx"), so, providers=["CPUExecutionProvider"]
    )
    mean = np.asarray([0.5, 0.4, 0.3], np.float32)
    std = np.asarray([0.25, 0.25, 0.25], np.float32)
    start = time.perf_counter()
    for path in files:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        s = 224 / min(w, h)
        im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.Resampling.BICUBIC)
        left, top = (im.width - 224) // 2, (im.height - 224) // 2
        im = im.crop((left, top, left + 224, top + 224))
        x = ((np.asarray(im, np.float32) / 255 - mean) / std).transpose(2, 0, 1)[None]
        session.run(None, {"image": np.ascontiguousarray(x)})
    return len(files) / (time.perf_counter() - start)


def drain_rows(images: int, corpus: Path, workdir: Path) -> list[Row]:
    from imageserver.server.bootstrap import bootstrap
    from imageserver.config import Settings
    from imageserver.media.layout import thumb_path
    from imageserver.ml.drain import embeddings_stage
    from imageserver.scan.pipeline import STAGES
    from imageserver.scan.watcher import Watcher

    model = vit_like_model(workdir / "vit-like")
    from bench.library import build_library, find_sources

    lib = build_library(workdir / "lib", find_sources(corpus), images)
    settings = Settings(
        data_dir=workdir / "data",
        clip_model_path=model,
        run_background=False,
        admin_password="bench-password",
        clip_backlog_max_per_tick=images,
        _env_file=None,
    )
    ctx = bootstrap(settings).ctx
    from imageserver.libraries import service as libraries_service
    from imageserver.libraries.schemas import LibraryCreate

    body = LibraryCreate(name="bench", root_path=str(lib.root))
    with ctx.engine.begin() as conn:
        libraries_service.create(conn, body, settings.owned_dirs(), time.time())
    before = [
        s
        for s in STAGES
        if s.name
        in (
            "probe",
            "walk",
            "diff",
            "ingest",
            "reconcile",
            "excluded",
            "hash",
            "metadata",
            "companions",
            "thumbnails",
        )
    ]
    Watcher(ctx, stages=before).tick(full=True)
    from imageserver.ml.encoders import get_encoder

    get_encoder(ctx)  # load the model outside the timed part, as a running server has it
    from imageserver.scan.pipeline import Stage

    watcher = Watcher(ctx, stages=[Stage("embeddings", embeddings_stage)])
    start = time.perf_counter()
    [t] = watcher.tick(full=False)
    ours = t.counts["encoded"] / (time.perf_counter() - start)
    with ctx.engine.connect() as conn:
        from sqlalchemy import select

        from imageserver.db.tables import clip_embeddings

        hashes = [r[0] for r in conn.execute(select(clip_embeddings.c.content_hash))]
    files = [thumb_path(settings.thumbs_dir, h, "large") for h in hashes]
    reference = bare_loop(model, files)
    return [
        Row(
            "search",
            f"embedding drain, {len(files)} previews",
            "images/s",
            ours,
            reference,
            "bare onnxruntime loop",
            target=0.9,
            goal="higher",
            note="same previews and model (ViT-B/32-shaped, random weights); the drain also "
            "queries the backlog and stores each vector; target = overhead <= 10 %",
        ),
    ]


def run(ctx: Any) -> list[Row]:
    """Entry for bench/__main__.py's GROUPS."""
    rows: list[Row] = []
    for n in (100_000, 1_000_000):
        ctx.log(f"search: {n} vectors")
        rows += search_rows(n)
    ctx.log("search: embedding drain vs bare onnxruntime")
    rows += drain_rows(48, ctx.corpus, ctx.path("search-drain"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rows.search")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--drain-images", type=int, default=48)
    parser.add_argument(
        "--corpus", default=str(Path(__file__).resolve().parents[3] / "shared" / "corpus")
    )
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for n in (int(s) for s in args.sizes.split(",") if s):
        print(f"search rows at {n} ...", file=sys.stderr, flush=True)
        rows += search_rows(n)
    if args.drain_images > 0:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            print("drain rows ...", file=sys.stderr, flush=True)
            rows += drain_rows(args.drain_images, Path(args.corpus), Path(tmp))
    print(render(rows))
    print("load average during the run:", os.getloadavg())


if __name__ == "__main__":
    main()
