"""Make one hash folder without ever exposing a half-written one.

ffmpeg writes into `VIDEO_PATH/{shard}/.tmp-{hash}-{host}-{pid}-{random}`; only after it
exits cleanly and the playlist reads back complete (#EXT-X-ENDLIST, every segment present)
is the folder renamed to `{shard}/{hash}` (same file system, so the rename is atomic). Any
failure, timeout, kill or exception removes the temporary folder. A crash can still leave
one behind; `clean_leftovers` removes those at start (owner process gone, or too old).

Failures are classified once, here: the source is at fault (`Unsupported`: a sentinel is
written and it is never retried) or the environment is (`Transient`: disk full, VIDEO_PATH
not writable, timeout, killed, source unreachable; retried later with backoff).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from imageserver.video import accel, ladder, layout, ownership, runner, timing
from imageserver.video.ffmpeg import decode_check_argv, hls_argv, preview_argv
from imageserver.video.plan import HlsOptions, PlanMode, PreviewPlan, TranscodePlan

log = logging.getLogger("imageserver.video")

HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
MIN_FREE_BYTES = 64 * 1024 * 1024  # below this, no job starts
FULL_AFTER_FAILURE = 16 * 1024 * 1024  # below this, incomplete output is the disk's fault

# stderr phrases that blame the machine, not the file: retried later, never a sentinel.
TRANSIENT_MARKERS = (
    "No space left on device",
    "Disk quota exceeded",
    "Read-only file system",
    "Permission denied",
    "Input/output error",
    "Cannot allocate memory",
    "Resource temporarily unavailable",
    "Too many open files",
    "Stale file handle",
    "Transport endpoint is not connected",
    "received signal",
)
# Phrases that point at our command line or the ffmpeg build (a filter or encoder missing):
# retried a few times, then given up on, so an upgrade can fix them without a sentinel hunt.
TOOLING_MARKERS = ("No such filter", "Unknown encoder", "Unrecognized option", "Option not found")
TOOLING_GIVE_UP = 3
_CONTEXT = re.compile(r"^\[[^\]]*@ ?0x[0-9a-f]+\]\s*")


class GenerationError(Exception):
    def __init__(self, reason: str, details: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class Unsupported(GenerationError):
    """The source cannot be decoded: write the sentinel, do not retry."""


class Transient(GenerationError):
    """Not the source's fault; `give_up_after` limits retries of tooling errors."""

    def __init__(self, reason: str, details: str = "", give_up_after: int | None = None) -> None:
        super().__init__(reason, details)
        self.give_up_after = give_up_after


def first_error_line(stderr: str) -> str:
    """The most specific ffmpeg message: the first line, without its '[mov @ 0x..]' prefix."""
    for raw in stderr.splitlines():
        line = _CONTEXT.sub("", raw.strip())
        if line:
            return line[:300]
    return "no message"


def classify(exc: runner.FfmpegError, src: Path, video_root: Path) -> GenerationError:
    """Blame the source only when the machine looks healthy and the source is still there."""
    if exc.transient:
        return Transient(f"ffmpeg {exc.reason}", exc.stderr)
    stderr = exc.stderr
    for marker in TRANSIENT_MARKERS:
        if marker in stderr:
            return Transient(f"ffmpeg: {marker}", stderr)
    for marker in TOOLING_MARKERS:
        if marker in stderr:
            return Transient(f"ffmpeg: {first_error_line(stderr)}", stderr, TOOLING_GIVE_UP)
    problem = environment_problem(src, video_root)
    if problem is not None:
        return Transient(problem, stderr)
    return Unsupported(f"ffmpeg cannot decode the source: {first_error_line(stderr)}", stderr)


def environment_problem(src: Path, video_root: Path, min_free: int | None = None) -> str | None:
    """A reason to call a failure transient: source unreadable, VIDEO_PATH full or gone."""
    try:
        with src.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        return f"source not readable: {exc.strerror or exc}"
    existing = video_root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent  # not created yet: the disk it will be made on counts
    try:
        if shutil.disk_usage(existing).free < (MIN_FREE_BYTES if min_free is None else min_free):
            return "VIDEO_PATH is (nearly) full"
    except OSError as exc:
        return f"VIDEO_PATH not usable: {exc.strerror or exc}"
    return None


def explain_bad_output(
    exc: GenerationError, stderr: str, src: Path, video_root: Path
) -> GenerationError:
    """ffmpeg exited 0 but its output is incomplete: its HLS muxer ignores write errors
    (a full disk gives an empty playlist and status 0), so rule out the machine first."""
    for marker in TRANSIENT_MARKERS:
        if marker in stderr:
            return Transient(f"ffmpeg: {marker}", stderr)
    problem = environment_problem(src, video_root, max(MIN_FREE_BYTES, FULL_AFTER_FAILURE))
    if problem is not None:
        return Transient(problem, stderr)
    return exc


# --- the temporary folder and its rename into place -------------------------------------


def temp_name(content_hash: str, suffix: str = "") -> str:
    return f"{layout.TEMP_PREFIX}{content_hash}-{HOST}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def parse_temp_name(name: str) -> tuple[str, int] | None:
    """(host, pid) of a temporary entry we named, None for anything else."""
    if not name.startswith(layout.TEMP_PREFIX):
        return None
    rest = name[len(layout.TEMP_PREFIX) :]
    content_hash, _, owner = rest.partition("-")
    parts = owner.split(".", 1)[0].split("-")
    if not layout.is_hash(content_hash) or len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def make_staging(video_root: Path, content_hash: str) -> Path:
    """A fresh temporary folder beside the final one; an unwritable VIDEO_PATH is transient."""
    shard = video_root / content_hash[:2]
    for attempt in (1, 2):
        try:
            shard.mkdir(parents=True, exist_ok=True)
            staging = shard / temp_name(content_hash)
            staging.mkdir()
            ownership.stamp(staging, video_root)  # the record that lets cleanup remove it
            return staging
        except FileNotFoundError:
            if attempt == 2:  # orphan cleanup removed the empty shard in between: once more
                raise Transient("VIDEO_PATH vanished while creating a folder") from None
        except OSError as exc:
            raise Transient(f"VIDEO_PATH not writable: {exc.strerror or exc}") from exc
    raise AssertionError("unreachable")


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def publish(staging: Path, content_hash: str, video_root: Path) -> Path:
    """Rename the finished folder into place; an older folder is swapped out, then removed."""
    final = layout.hash_dir(video_root, content_hash)
    try:
        if final.exists() or final.is_symlink():
            old = final.parent / temp_name(content_hash)
            os.rename(final, old)
            os.rename(staging, final)
            remove_tree(old)
        else:
            os.rename(staging, final)
    except OSError as exc:
        raise Transient(f"cannot move the result into place: {exc.strerror or exc}") from exc
    return final


def write_sentinel(video_root: Path, content_hash: str, reason: str, details: str = "") -> None:
    """The hash folder holds only the sentinel: first line the reason, then ffmpeg's words."""
    staging = make_staging(video_root, content_hash)
    try:
        text = reason.strip() + "\n"
        if details.strip():
            text += "\n" + details.strip()[-8000:] + "\n"
        (staging / layout.SENTINEL).write_text(text, encoding="utf-8")
        publish(staging, content_hash, video_root)
    except OSError as exc:
        raise Transient(f"cannot write the sentinel: {exc.strerror or exc}") from exc
    finally:
        remove_tree(staging)


# --- generation -----------------------------------------------------------------------------


def check_playlist(folder: Path, name: str = layout.PLAYLIST) -> None:
    """A complete VOD playlist whose segments all exist, or Unsupported."""
    try:
        text = (folder / name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise Unsupported("ffmpeg wrote no playlist (no decodable video frames)") from exc
    except OSError as exc:
        raise Transient(f"cannot read the new playlist: {exc.strerror or exc}") from exc
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not text.startswith("#EXTM3U"):
        # ffmpeg always writes the header: a torn file means a write failed, not the source
        raise Transient("the playlist was not fully written", give_up_after=TOOLING_GIVE_UP)
    if "#EXT-X-ENDLIST" not in text or not segments:
        raise Unsupported("ffmpeg wrote an empty playlist (no decodable video frames)")
    for name in segments:
        if not layout.is_segment(name) or not (folder / name).is_file():
            raise Unsupported(f"playlist names a missing segment: {name[:80]!r}")


@dataclass(frozen=True)
class Made:
    seconds: float
    preview_error: GenerationError | None  # None: made (or not asked for)
    mode: PlanMode = "copy"  # the plan that produced the published playlist
    copy_failures: tuple[str, ...] = ()  # why each stream-copy try was rejected
    accel_fallbacks: int = 0  # hardware encodes redone with libx264 (0 or 1 a video)


def clear_folder(folder: Path) -> None:
    """Empty a staging folder between tries (one try's segments must not mix with another's);
    the ownership stamp stays: it is what lets cleanup remove the folder later."""
    for entry in folder.iterdir():
        if entry.name != ownership.STAMP:
            remove_tree(entry)


def decode_errors(path: Path, timeout: float, control: runner.RunControl | None) -> list[str]:
    """Error lines of a decode of `path` to nothing; a failing ffmpeg adds its reason."""
    try:
        result = runner.run(decode_check_argv(path), timeout, control)
    except runner.FfmpegError as exc:
        if exc.transient:
            raise Transient(f"ffmpeg {exc.reason} while verifying", exc.stderr) from exc
        return [line for line in exc.stderr.splitlines() if line.strip()] or [exc.reason]
    return [line for line in result.stderr.splitlines() if line.strip()]


def playlist_segments(folder: Path, name: str = layout.PLAYLIST) -> list[str]:
    text = (folder / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def verify_copy(
    folder: Path,
    timeout: float,
    control: runner.RunControl | None,
    playlist: str = layout.PLAYLIST,
) -> None:
    """A stream copy is published only when its first and last segments, each decoded on
    its own, give no error line: missing parameter sets show in the first (a player starts
    there), broken generated timestamps in every segment, a damaged tail in the last.
    Two short decodes: seconds, against the minutes a needless re-encode costs."""
    segments = playlist_segments(folder, playlist)
    for name in dict.fromkeys([segments[0], segments[-1]]):
        errors = decode_errors(folder / name, min(timeout, 120.0), control)
        if errors:
            raise Unsupported(f"the copied {name} does not decode cleanly: {errors[0][:200]}")


def _run_into(
    src: Path,
    staging: Path,
    video_root: Path,
    plan: TranscodePlan,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None,
    rung: int | None = None,
    encoders: Encoders | None = None,
) -> runner.RunResult:
    """One rendition into the staging folder, checked and classified. A re-encode tries
    the hardware encoder first while this video still trusts it (`encoders`); any failure
    of it (no device, a driver error, output that does not verify) is redone with libx264,
    logged and counted, and the rest of the video is made with libx264: only libx264's
    failure is a verdict on the source."""
    encoders = encoders if encoders is not None else Encoders(options.accel)
    hardware = encoders.accel
    if hardware is not None and not plan.copy_video:
        try:
            return _run_once(
                src, staging, video_root, plan, options, timeout, control, rung, hardware
            )
        except GenerationError as exc:
            if isinstance(exc.__cause__, runner.FfmpegCancelled):
                raise
            encoders.accel = None
            encoders.fallbacks += 1
            accel.note_fallback(hardware, src.name, exc.reason)
    return _run_once(src, staging, video_root, plan, options, timeout, control, rung, None)


@dataclass
class Encoders:
    """The hardware encoder one video still trusts: cleared by its first failure."""

    accel: accel.Accel | None
    fallbacks: int = 0


def _run_once(
    src: Path,
    staging: Path,
    video_root: Path,
    plan: TranscodePlan,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None,
    rung: int | None,
    encoder: accel.Accel | None,
) -> runner.RunResult:
    """One ffmpeg run. The main rendition starts from an empty folder; a rung only
    replaces its own files."""
    if rung is None:
        clear_folder(staging)
    else:
        remove_rung(staging, rung)
    argv = hls_argv(src, staging, plan, options, rung=rung, accel=encoder)
    try:
        result = runner.run(argv, timeout, control)
    except runner.FfmpegError as exc:
        raise classify(exc, src, video_root) from exc
    name = layout.PLAYLIST if rung is None else layout.rung_playlist(rung)
    try:
        check_playlist(staging, name)
    except GenerationError as exc:
        raise explain_bad_output(exc, result.stderr, src, video_root) from None
    if plan.copy_video:
        verify_copy(staging, timeout, control)
    elif encoder is not None:
        # a hardware encoder's output is checked like a copy: a driver can fail quietly
        verify_copy(staging, timeout, control, name)
    return result


def remove_rung(folder: Path, height: int) -> None:
    for entry in folder.glob(f"v{height}[._]*"):
        remove_tree(entry)


def _make_ladder(
    src: Path,
    staging: Path,
    video_root: Path,
    rungs: list[tuple[int, TranscodePlan]],
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None,
    encoders: Encoders | None = None,
) -> float:
    """Lower rungs and the master beside the finished main rendition; seconds spent.

    A rung that fails is left out (the video still plays, in fewer sizes); a rung that
    would not be smaller than the main rendition is never made. Without a rung, no master:
    the main playlist is served as before."""
    try:
        main = ladder.measure(staging, layout.MAIN, min(timeout, 60.0), control)
    except (ValueError, OSError, runner.FfmpegError) as exc:
        if isinstance(exc, runner.FfmpegCancelled):
            raise Transient("cancelled", str(exc)) from exc
        log.warning("event=video_ladder_skipped path=%r reason=%r", src.name, str(exc))
        return 0.0
    variants = [main]
    seconds = 0.0
    for height, plan in rungs:
        if height >= min(main.width, main.height):
            continue
        try:
            result = _run_into(
                src, staging, video_root, plan, options, timeout, control, height, encoders
            )
            timing.fix_durations(staging, layout.rung_playlist(height))
            variants.append(
                ladder.measure(staging, layout.rung_playlist(height), min(timeout, 60.0), control)
            )
            seconds += result.seconds
        except Unsupported as exc:
            remove_rung(staging, height)
            log.warning(
                "event=video_rung_failed path=%r rung=%d reason=%r", src.name, height, exc.reason
            )
        except (ValueError, OSError, runner.FfmpegError) as exc:
            if isinstance(exc, runner.FfmpegCancelled):
                raise Transient("cancelled", str(exc)) from exc
            remove_rung(staging, height)
            log.warning(
                "event=video_rung_failed path=%r rung=%d reason=%r", src.name, height, str(exc)
            )
    if len(variants) > 1:
        try:
            (staging / layout.MASTER).write_text(ladder.master_text(variants), encoding="utf-8")
        except OSError as exc:
            raise Transient(f"cannot write the master playlist: {exc.strerror or exc}") from exc
    return seconds


def _make_playlist(
    src: Path,
    staging: Path,
    video_root: Path,
    plan: TranscodePlan,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None,
    fallback: TranscodePlan | None,
    encoders: Encoders | None = None,
) -> tuple[float, PlanMode, tuple[str, ...]]:
    """The planned copy, then (if it fails or does not verify) the re-encode: only the
    re-encode's failure is the source's verdict. The copy's own fixes (generated
    timestamps, in-band parameter sets) are in its one command line, not further tries.
    Transient failures (the machine's fault) end the job at once."""
    tries = [plan]
    if plan.copy_video and fallback is not None and not fallback.copy_video:
        tries.append(fallback)
    failures: list[str] = []
    for index, current in enumerate(tries):
        try:
            result = _run_into(
                src, staging, video_root, current, options, timeout, control, None, encoders
            )
        except Unsupported as exc:
            if index == len(tries) - 1:
                if failures:
                    raise Unsupported(
                        f"{exc.reason} (after: {'; '.join(failures)})", exc.details
                    ) from exc
                raise
            failures.append(f"{current.mode}: {exc.reason}")
            log.info(
                "event=video_copy_rejected path=%r try=%s reason=%r",
                src.name,
                current.mode,
                exc.reason,
            )
            continue
        return result.seconds, current.mode, tuple(failures)
    raise AssertionError("unreachable")


def make_hls(
    src: Path,
    video_root: Path,
    content_hash: str,
    plan: TranscodePlan,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None = None,
    preview: PreviewPlan | None = None,
    fallback: TranscodePlan | None = None,
    rungs: list[tuple[int, TranscodePlan]] | None = None,
) -> Made:
    """Playlist + segments (+ preview clip) for one hash, published only when complete.

    A stream copy that fails or does not verify is replaced by `fallback` (a re-encode):
    a sentinel means the re-encode failed too."""
    staging = make_staging(video_root, content_hash)
    encoders = Encoders(options.accel)
    try:
        seconds, mode, failures = _make_playlist(
            src, staging, video_root, plan, options, timeout, control, fallback, encoders
        )
        try:
            timing.fix_durations(staging, layout.PLAYLIST)
        except OSError as exc:
            raise Transient(f"cannot rewrite the playlist: {exc.strerror or exc}") from exc
        if rungs:
            seconds += _make_ladder(
                src, staging, video_root, rungs, options, timeout, control, encoders
            )
        preview_error: GenerationError | None = None
        if preview is not None:
            try:
                make_preview_file(
                    src, staging / layout.PREVIEW, video_root, preview, options, timeout, control
                )
            except Transient as exc:
                if isinstance(exc.__cause__, runner.FfmpegCancelled):
                    raise
                preview_error = exc
            except Unsupported as exc:
                preview_error = exc
        publish(staging, content_hash, video_root)
        return Made(seconds, preview_error, mode, failures, encoders.fallbacks)
    finally:
        remove_tree(staging)


def make_preview_file(
    src: Path,
    out: Path,
    video_root: Path,
    plan: PreviewPlan,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None = None,
) -> None:
    try:
        result = runner.run(preview_argv(src, out, plan, options), timeout, control)
    except runner.FfmpegError as exc:
        out.unlink(missing_ok=True)
        raise classify(exc, src, video_root) from exc
    try:
        empty = out.stat().st_size == 0
    except FileNotFoundError:
        empty = True
    if empty:
        out.unlink(missing_ok=True)
        bad = Unsupported("ffmpeg wrote no preview clip (no decodable frames there)")
        raise explain_bad_output(bad, result.stderr, src, video_root)
    try:
        verify_preview(out, min(timeout, 60.0), control)
    except Unsupported as bad:
        out.unlink(missing_ok=True)
        raise explain_bad_output(bad, result.stderr, src, video_root) from None


def verify_preview(path: Path, timeout: float, control: runner.RunControl | None) -> None:
    """A preview is "done" only when it holds a video stream that decodes without an error
    line: an MP4 with a header and no video (262 bytes, seen from an FLV source) or with
    damaged frames is a failure. The clip is a few seconds at 320 px: the check is cheap."""
    if video_packets(path, timeout, control) == 0:
        raise Unsupported("ffmpeg wrote a preview clip without a video stream")
    errors = decode_errors(path, timeout, control)
    if errors:
        raise Unsupported(f"the preview clip does not decode cleanly: {errors[0][:200]}")


def video_packets(path: Path, timeout: float, control: runner.RunControl | None) -> int:
    """Packets of the first video stream ffprobe counts in `path` (0: none, unreadable)."""
    argv = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-count_packets",
        "-show_entries",
        "stream=nb_read_packets",
        "-print_format",
        "json",
        str(path),
    ]
    try:
        data = runner.run_json(argv, timeout, control)
    except runner.FfmpegError as exc:
        if exc.transient:
            raise Transient(f"ffprobe {exc.reason} while verifying", exc.stderr) from exc
        return 0
    except ValueError:
        return 0
    streams = data.get("streams") if isinstance(data, dict) else None
    if not isinstance(streams, list) or not streams or not isinstance(streams[0], dict):
        return 0
    try:
        return int(streams[0].get("nb_read_packets", 0))
    except (TypeError, ValueError):
        return 0


def make_preview(
    src: Path,
    video_root: Path,
    content_hash: str,
    plan: PreviewPlan,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None = None,
) -> None:
    """A preview for a hash whose playlist already exists: temp file, then atomic replace."""
    shard = video_root / content_hash[:2]
    tmp = shard / temp_name(content_hash, ".mp4")
    try:
        make_preview_file(src, tmp, video_root, plan, options, timeout, control)
        os.replace(tmp, layout.preview_path(video_root, content_hash))
    except OSError as exc:
        raise Transient(f"cannot write the preview: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


# --- crash leftovers -------------------------------------------------------------------------


def _owner_gone(name: str, mtime: float, now: float, max_age: float) -> bool:
    owner = parse_temp_name(name)
    if owner is None:
        return False  # not a name we make: never ours to remove
    if owner[0] != HOST:
        return now - mtime > max_age
    pid = owner[1]
    if pid == os.getpid():
        return True  # called at start, before any job: a previous life of this pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return now - mtime > max_age


def clean_leftovers(video_root: Path, now: float, max_age: float) -> int:
    """Remove temporary folders and files of generations that can no longer finish.

    Call it at start, before this process runs any job: an entry named with our own pid
    then belongs to an earlier life of the same pid (a restarted container) and is dead.
    Entries of another host are only removed once older than `max_age`.
    """
    removed = 0
    if ownership.token(video_root) is None:
        return 0  # not a folder the server marked: nothing in it is provably ours
    try:
        shards = [e for e in os.scandir(video_root) if layout.is_shard(e.name)]
    except OSError:
        return 0
    for shard in shards:
        if not shard.is_dir(follow_symlinks=False):
            continue
        try:
            entries = list(os.scandir(shard.path))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(layout.TEMP_PREFIX) or entry.is_symlink():
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if _owner_gone(entry.name, mtime, now, max_age):
                remove_tree(Path(entry.path))
                removed += 1
    if removed:
        log.info("event=video_leftovers_removed count=%d", removed)
    return removed
