"""Extraction: sniff the type from content, check containers, and run the
format's extractor in a child process with a time and memory limit.

``FORMATS`` is the registry: one ``Format`` a kind (its extensions, the
check before parsing, the extractor), PDF like every other.  ``sniff``
decides the kind from the bytes (the name only tells text flavours apart)
and the file name's extension must agree with it (allow-list by extension
AND content).  Every failure is an ``ExtractError`` subclass naming why
(``Encrypted``, ``NoText``, ``TooManyPages``, ``TooLong``, ``Unreadable``,
``ArchiveRefused``, ``OverLimits``), also across the child's pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from ..config import ExtractConfig
from ..errors import (
    N_,
    ArchiveRefused,
    ExtractError,
    OverLimits,
    TooLong,
    UnsupportedFormat,
    extract_error,
)
from ..models import Extracted
from . import zygote


@dataclass(frozen=True)
class Format:
    """One kind of file: the extensions its name may have, a check of the
    file before any parser reads it (``precheck``; a zip bomb is refused
    there), and ``extract`` (path, limits) -> pages, run in the child
    process.  The parsers are imported when a file is extracted, not when
    a file is sniffed."""
    kind: str
    extensions: tuple[str, ...]
    extract: Callable[[str, ExtractConfig], Extracted]
    precheck: Callable[[str, ExtractConfig], None] | None = None


def _pdf(path: str, cfg: ExtractConfig) -> Extracted:
    from .pdf import extract_pdf

    result = extract_pdf(path, cfg.max_pages)
    _ocr_empty_pages(path, result, cfg)
    return result


def _docx(path: str, cfg: ExtractConfig) -> Extracted:
    from .office import extract_docx

    return extract_docx(path)


def _pptx(path: str, cfg: ExtractConfig) -> Extracted:
    from .slides import extract_pptx

    return extract_pptx(path)


def _txt(path: str, cfg: ExtractConfig) -> Extracted:
    from .plain import extract_txt

    return extract_txt(path)


def _md(path: str, cfg: ExtractConfig) -> Extracted:
    from .plain import extract_md

    return extract_md(path)


def _html(path: str, cfg: ExtractConfig) -> Extracted:
    from .plain import extract_html

    return extract_html(path)


def check_zip(path: str | Path, cfg: ExtractConfig) -> None:
    """Refuse zip bombs before a DOCX/PPTX parser inflates anything."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if len(infos) > cfg.max_zip_entries:
            raise ArchiveRefused(f"archive has too many entries ({len(infos)})")
        total = 0
        for info in infos:
            total += info.file_size
            if info.compress_size and info.file_size / info.compress_size > cfg.max_zip_ratio \
                    and info.file_size > 1_000_000:
                raise ArchiveRefused(f"archive entry {info.filename!r} has a suspicious "
                                     "compression ratio")
        if total > cfg.max_zip_uncompressed_mb * 1024 * 1024:
            raise ArchiveRefused("archive declares too much uncompressed data")


FORMATS: dict[str, Format] = {f.kind: f for f in (
    Format("pdf", (".pdf",), _pdf),
    Format("docx", (".docx",), _docx, check_zip),
    Format("pptx", (".pptx",), _pptx, check_zip),
    Format("txt", (".txt", ".text"), _txt),
    Format("md", (".md", ".markdown", ".txt"), _md),
    Format("html", (".html", ".htm"), _html),
)}
# kind -> accepted extensions
EXTENSIONS: dict[str, tuple[str, ...]] = {k: f.extensions for k, f in FORMATS.items()}
ALLOWED_EXTENSIONS = sorted({e for exts in EXTENSIONS.values() for e in exts})


def sniff(path: str | Path, filename: str | None = None) -> str:
    """The kind of a file from its bytes (the name only tells text flavours apart).

    Raises UnsupportedFormat naming the problem.
    """
    name = filename or os.path.basename(str(path))
    ext = os.path.splitext(name)[1].lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise UnsupportedFormat(
            N_("file type '%(ext)s' is not accepted (accepted: %(accepted)s)"),
            ext=ext or "none", accepted=", ".join(ALLOWED_EXTENSIONS)
        )
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head:
        raise UnsupportedFormat(N_("the file is empty"))
    if b"%PDF-" in head[:1024]:
        kind = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            raise UnsupportedFormat(N_("the file is a damaged zip archive")) from None
        if "word/document.xml" in names:
            kind = "docx"
        elif "ppt/presentation.xml" in names:
            kind = "pptx"
        else:
            raise UnsupportedFormat(N_("zip archive that is neither DOCX nor PPTX"))
    elif b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedFormat(N_("binary file of an unsupported type"))
    else:
        lowered = head[:1024].lstrip().lower()
        if ext in (".html", ".htm") or lowered.startswith((b"<!doctype html", b"<html")):
            kind = "html"
        elif ext in (".md", ".markdown"):
            kind = "md"
        else:
            kind = "txt"
    if ext not in EXTENSIONS[kind]:
        raise UnsupportedFormat(N_("the name says '%(ext)s' but the content is %(kind)s"),
                                ext=ext, kind=kind.upper())
    return kind


def extract_in_process(path: str, kind: str, cfg: ExtractConfig) -> Extracted:
    """Run the format's check and extractor here (the child process calls
    this), then refuse a text too long to index."""
    fmt = FORMATS[kind]
    if fmt.precheck is not None:
        fmt.precheck(path, cfg)
    result = fmt.extract(path, cfg)
    check_words(result, cfg)
    return result


def count_words(result: Extracted) -> int:
    return sum(len(p.text.split()) + len(p.notes.split()) for p in result.pages)


def check_words(result: Extracted, cfg: ExtractConfig) -> None:
    """Refuse a text too large to chunk and embed in bounded time (a small
    DOCX may inflate to megabytes of text): in the child, before the text is
    sent to the parent."""
    n = count_words(result)
    if n > cfg.max_words:
        raise TooLong(f"too large: {n:,} words, limit {cfg.max_words:,} "
                           "(extract.max_words)")


def _ocr_enabled(cfg: ExtractConfig) -> bool:
    from . import ocr

    if cfg.ocr == "off":
        return False
    if cfg.ocr == "on" and not ocr.available():
        raise ExtractError("OCR is switched on but tesseract/pdftoppm are not installed")
    return ocr.available()


def _ocr_empty_pages(path: str, result: Extracted, cfg: ExtractConfig) -> None:
    from ..text import clean_display
    from . import ocr
    from .blocks import from_text
    from .pdf import page_has_images

    empty = [p for p in result.pages if len(p.text.strip()) < 20]
    if not empty:
        return
    candidates = [p for p in empty if page_has_images(path, p.number)]
    if not candidates:
        return
    if not _ocr_enabled(cfg):
        result.unread_image_pages = len(candidates)
        result.warnings.append(f"{len(candidates)} image-only page(s) not read: OCR unavailable")
        return
    for page in candidates[: cfg.ocr_max_pages]:
        try:
            text = clean_display(ocr.ocr_pdf_page(path, page.number, cfg.ocr_languages))
        except (subprocess.SubprocessError, OSError) as e:
            result.warnings.append(f"page {page.number}: OCR failed ({type(e).__name__})")
            continue
        if text.strip():
            page.text = text
            page.blocks = from_text(text)
            page.source = "ocr"
            result.ocr_pages += 1
    if len(candidates) > cfg.ocr_max_pages:
        result.warnings.append(f"only the first {cfg.ocr_max_pages} image-only pages were OCRed")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and whatever it started (its own session), and reap it."""
    zygote.kill_session(proc.pid)
    proc.communicate()


def _child_env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2])]
                                          + [p for p in os.environ.get("PYTHONPATH", "")
                                             .split(os.pathsep) if p])}


def extract(path: str | Path, kind: str, cfg: ExtractConfig,
            stop: Callable[[], None] | None = None) -> Extracted:
    """Extract in a child process with limits; every failure is an ExtractError.

    The child is forked by this process's fork server (``zygote``) or, with
    ``extract.fork_server`` off or the server unavailable, is a new
    interpreter.  ``stop`` is called every 0.2 s while the child runs; if it
    raises (the job was cancelled, the worker is stopping), the child's
    session is killed and the exception goes on."""
    config = asdict(cfg)
    deadline = time.monotonic() + cfg.timeout_s
    try:
        if not cfg.fork_server:
            raise zygote.Unavailable("off")
        returncode, stdout, stderr_bytes = zygote.server(_child_env()).run(
            str(path), kind, config, deadline, stop)
    except (zygote.Unavailable, zygote.Lost):
        # no child ran, or the server died under it: a new interpreter, in
        # the time that is left
        returncode, stdout, stderr_bytes = _run_interpreter(str(path), kind, config, cfg,
                                                            deadline, stop)
    except zygote.Timeout:
        raise OverLimits(f"extraction took longer than {cfg.timeout_s} s") from None
    return _outcome(returncode, stdout, stderr_bytes, cfg)


def _run_interpreter(path: str, kind: str, config: dict[str, object], cfg: ExtractConfig,
                     deadline: float, stop: Callable[[], None] | None
                     ) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of ``python -m doclib.extract.worker``,
    killed at ``deadline`` (``time.monotonic``)."""
    if time.monotonic() >= deadline:
        raise OverLimits(f"extraction took longer than {cfg.timeout_s} s")
    cmd = [sys.executable, "-m", "doclib.extract.worker", path, kind, json.dumps(config)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_child_env(), preexec_fn=partial(zygote.limit, cfg.memory_mb,
                                               cfg.timeout_s))
    while True:
        left = deadline - time.monotonic()
        try:
            stdout, stderr_bytes = proc.communicate(
                timeout=max(0.0, min(left, 0.2) if stop else left))
            return proc.returncode, stdout, stderr_bytes
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                _kill(proc)
                raise OverLimits(f"extraction took longer than {cfg.timeout_s} s") from None
            if stop is not None:
                try:
                    stop()
                except BaseException:
                    _kill(proc)
                    raise
        except BaseException:
            _kill(proc)
            raise


def _outcome(returncode: int, stdout: bytes, stderr_bytes: bytes,
             cfg: ExtractConfig) -> Extracted:
    """The child's result, or the ExtractError its exit says."""
    if returncode != 0:
        try:
            err = json.loads(stdout.decode("utf-8"))
            raise extract_error(err.get("type", ""), err["error"])
        except (ValueError, KeyError):
            pass
        stderr = stderr_bytes.decode("utf-8", "replace")
        if "MemoryError" in stderr or returncode in (-9, -6):
            raise OverLimits(f"extraction exceeded the {cfg.memory_mb} MiB memory limit "
                               "or was killed") from None
        if returncode == -24:  # SIGXCPU
            raise OverLimits(f"extraction used more than {cfg.timeout_s} s of CPU") from None
        raise OverLimits("the extractor crashed") from None
    data = json.loads(stdout.decode("utf-8"))
    return Extracted.from_json(data["result"])
