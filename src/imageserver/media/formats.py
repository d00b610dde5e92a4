"""Recognise media files by their first bytes, with the extension only as a tie-breaker.

Cameras and phones produce files with no extension, the wrong one (a HEIC named .jpg),
or TIFF-based RAW formats that only the extension tells apart. `sniff` decides from the
content first; `classify` adds the extension fallback used for files whose content is
unreadable (so a broken `.jpg` still gets a row and a failure reason instead of vanishing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 512


@dataclass(frozen=True, slots=True)
class Format:
    name: str  # jpeg, heic, avif, png, webp, gif, tiff, cr2, cr3, nef, ..., mp4, mov, ...
    kind: str  # photo | video
    mime: str

    @property
    def is_raw(self) -> bool:
        return self.name in RAW_FORMATS

    @property
    def is_video(self) -> bool:
        return self.kind == "video"


def _photo(name: str, mime: str) -> Format:
    return Format(name, "photo", mime)


def _video(name: str, mime: str) -> Format:
    return Format(name, "video", mime)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        _photo("jpeg", "image/jpeg"),
        _photo("heic", "image/heic"),
        _photo("avif", "image/avif"),
        _photo("png", "image/png"),
        _photo("webp", "image/webp"),
        _photo("gif", "image/gif"),
        _photo("tiff", "image/tiff"),
        _photo("cr2", "image/x-canon-cr2"),
        _photo("cr3", "image/x-canon-cr3"),
        _photo("nef", "image/x-nikon-nef"),
        _photo("raf", "image/x-fuji-raf"),
        _photo("rw2", "image/x-panasonic-rw2"),
        _photo("dng", "image/x-adobe-dng"),
        _photo("arw", "image/x-sony-arw"),
        _photo("orf", "image/x-olympus-orf"),
        _photo("pef", "image/x-pentax-pef"),
        _photo("srw", "image/x-samsung-srw"),
        _photo("mrw", "image/x-minolta-mrw"),
        _video("mp4", "video/mp4"),
        _video("mov", "video/quicktime"),
        _video("3gp", "video/3gpp"),
        _video("mkv", "video/x-matroska"),
        _video("webm", "video/webm"),
        _video("avi", "video/x-msvideo"),
        _video("flv", "video/x-flv"),
        _video("mpegts", "video/mp2t"),
        _video("m2ts", "video/mp2t"),
        _video("asf", "video/x-ms-asf"),
        _video("mpeg", "video/mpeg"),
    )
}

RAW_FORMATS = frozenset(
    {"cr2", "cr3", "nef", "raf", "rw2", "dng", "arw", "orf", "pef", "srw", "mrw"}
)

# TIFF containers that only the extension distinguishes.
_TIFF_RAW_BY_EXT = {
    ".nef": "nef",
    ".nrw": "nef",
    ".dng": "dng",
    ".arw": "arw",
    ".srf": "arw",
    ".sr2": "arw",
    ".pef": "pef",
    ".srw": "srw",
    ".cr2": "cr2",
}

EXTENSIONS: dict[str, str] = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".heic": "heic",
    ".heif": "heic",
    ".hif": "heic",
    ".avif": "avif",
    ".png": "png",
    ".webp": "webp",
    ".gif": "gif",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".cr2": "cr2",
    ".cr3": "cr3",
    ".nef": "nef",
    ".nrw": "nef",
    ".raf": "raf",
    ".rw2": "rw2",
    ".dng": "dng",
    ".arw": "arw",
    ".orf": "orf",
    ".pef": "pef",
    ".srw": "srw",
    ".mrw": "mrw",
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".qt": "mov",
    ".3gp": "3gp",
    ".3g2": "3gp",
    ".mkv": "mkv",
    ".webm": "webm",
    ".avi": "avi",
    ".flv": "flv",
    ".ts": "mpegts",
    ".mts": "m2ts",
    ".m2ts": "m2ts",
    ".asf": "asf",
    ".wmv": "asf",
    ".mpg": "mpeg",
    ".mpeg": "mpeg",
}

# Never media, never sniffed: sidecars, documents, databases, low-res proxies.
IGNORED_EXTENSIONS = frozenset(
    {
        ".xmp",
        ".json",
        ".txt",
        ".md",
        ".db",
        ".ini",
        ".thm",
        ".aae",
        ".pdf",
        ".zip",
        ".html",
        ".htm",
        ".nfo",
        ".log",
        ".lrv",
        ".pp3",
        ".dop",
        ".on1",
        ".xml",
        ".csv",
        ".doc",
        ".docx",
        ".py",
        ".sh",
        ".exe",
        ".dll",
        ".iso",
        ".tmp",
        ".part",
        ".crdownload",
        ".m3u8",
        ".lnk",
        ".url",
        ".sqlite",
        ".bak",
        ".wav",
        ".mp3",
        ".m4a",
        ".flac",
        ".aac",
    }
)

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"dash",
    b"M4V ",
    b"M4VH",
    b"M4VP",
    b"MSNV",
    b"XAVC",
    b"f4v ",
    b"mmp4",
    b"NDAS",
    b"MP4 ",
}
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _ftyp(head: bytes) -> Format | None:
    major = head[8:12]
    size = int.from_bytes(head[0:4], "big")
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    brands = {major} | compatible
    if major in (b"avif", b"avis"):
        return FORMATS["avif"]
    if major == b"crx ":
        return FORMATS["cr3"]
    if major in _HEIF_BRANDS:
        return FORMATS["heic"]
    if major in (b"mif1", b"msf1"):
        return FORMATS["avif"] if b"avif" in brands or b"avis" in brands else FORMATS["heic"]
    if major == b"qt  ":
        return FORMATS["mov"]
    if major.startswith(b"3g"):
        return FORMATS["3gp"]
    if major in _MP4_BRANDS or major.startswith(b"mp4") or major.startswith(b"iso"):
        return FORMATS["mp4"]
    if brands & _MP4_BRANDS:
        return FORMATS["mp4"]
    return None


def _tiff_family(head: bytes, ext: str) -> Format:
    if head[8:10] == b"CR" and head[:2] == b"II":
        return FORMATS["cr2"]
    raw = _TIFF_RAW_BY_EXT.get(ext)
    return FORMATS[raw] if raw else FORMATS["tiff"]


def sniff(head: bytes, ext: str = "") -> Format | None:
    """The format of a file from its first bytes (at least SNIFF_BYTES when available)."""
    ext = ext.lower()
    if head[:3] == b"\xff\xd8\xff":
        return FORMATS["jpeg"]
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return FORMATS["png"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FORMATS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["webp"]
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return FORMATS["avi"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_family(head, ext)
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return FORMATS["orf"]
    if head[:4] == b"IIU\x00":
        return FORMATS["rw2"]
    if head[:4] == b"\x00MRM":  # Minolta RAW: an MRM block holding PRD/TTW/WBG/RIF
        return FORMATS["mrw"]
    if head[:15] == b"FUJIFILMCCD-RAW":
        return FORMATS["raf"]
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[0:4], "big") >= 8:
        return FORMATS["mov"]
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return FORMATS["webm"] if b"webm" in head[:64] else FORMATS["mkv"]
    if head[:3] == b"FLV":
        return FORMATS["flv"]
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return FORMATS["asf"]
    if head[:4] == b"\x00\x00\x01\xba":
        return FORMATS["mpeg"]
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return FORMATS["mpegts"]
    if len(head) > 388 and head[4] == 0x47 and head[196] == 0x47 and head[388] == 0x47:
        return FORMATS["m2ts"]
    return None


def by_extension(name: str) -> Format | None:
    fmt = EXTENSIONS.get(Path(name).suffix.lower())
    return FORMATS[fmt] if fmt else None


def is_candidate(name: str) -> bool:
    """Worth sniffing: not hidden and not a known non-media extension."""
    if name.startswith("."):
        return False
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return suffix not in IGNORED_EXTENSIONS


@dataclass(frozen=True, slots=True)
class Classified:
    format: Format
    sniffed: bool  # False: content unrecognised, the extension decided (a likely broken file)


def classify(path: Path) -> Classified | None:
    """Sniff a file; fall back to its extension; None when it is not media at all."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    ext = path.suffix.lower()
    fmt = sniff(head, ext)
    if fmt is not None:
        return Classified(fmt, True)
    by_ext = by_extension(path.name)
    return Classified(by_ext, False) if by_ext else None
