"""OCR of image-only PDF pages: pdftoppm renders, tesseract reads (when installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile


def available() -> bool:
    return bool(shutil.which("tesseract") and shutil.which("pdftoppm"))


def ocr_pdf_page(path: str, page_number: int, languages: str, timeout: int = 120) -> str:
    """Text of one PDF page by OCR (300 dpi, tesseract, one thread)."""
    with tempfile.TemporaryDirectory(prefix="doclib-ocr-") as tmp:
        base = os.path.join(tmp, "page")
        subprocess.run(
            ["pdftoppm", "-r", "300", "-gray", "-f", str(page_number), "-l", str(page_number),
             "-png", "-singlefile", path, base],
            check=True, capture_output=True, timeout=timeout,
        )
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        out = subprocess.run(
            ["tesseract", base + ".png", "-", "-l", languages, "--psm", "3"],
            check=True, capture_output=True, timeout=timeout, env=env,
        )
        return out.stdout.decode("utf-8", "replace")
