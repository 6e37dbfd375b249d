#!/usr/bin/env bash
# Set up doclib, ingest the sample library, create demo accounts once, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
DOCLIB=.venv/bin/doclib
$DOCLIB ingest library/sample
accounts=index/demo-accounts.txt
if [ ! -s "$accounts" ]; then
  umask 077
  : > "$accounts.tmp"
  for role in admin curator member; do
    pw=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
    printf '%s\n' "$pw" | $DOCLIB users add "$role@example.org" --role "$role" >/dev/null
    printf '%-8s %-22s %s\n' "$role" "$role@example.org" "$pw" >> "$accounts.tmp"
  done
  mv "$accounts.tmp" "$accounts"
fi
host=$(.venv/bin/python -c 'from doclib.config import load; c=load(); print(c.web.host)')
port=$(.venv/bin/python -c 'from doclib.config import load; c=load(); print(c.web.port)')
echo
echo "doclib is starting on http://$host:$port/"
echo "Visitors need no account. Log in at http://$host:$port/login with (also in $accounts):"
cat "$accounts"
echo
exec $DOCLIB serve
