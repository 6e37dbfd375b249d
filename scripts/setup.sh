#!/usr/bin/env bash
# Set up doclib in ./.venv. Usage: scripts/setup.sh [run|test]
#   run:  the service's own dependencies, torch (CPU build) for the second embedding
#         model, and poppler/tesseract for OCR, when possible
#   test: also the test tools and Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3

apt_packages=(poppler-utils tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng)
if [ "$mode" = test ]; then
  # the browser tests, and PostgreSQL: the suite runs on both engines (tests/pgserver.py
  # starts a private server of its own; the system's service is not used)
  apt_packages+=(chromium chromium-driver fonts-noto-core postgresql)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "warning: could not install ${missing[*]} (OCR or browser tests may be skipped)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned exactly: it installs the local CPU build, not a CUDA download
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ "$mode" = test ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "doclib is set up in .venv ($mode)"
