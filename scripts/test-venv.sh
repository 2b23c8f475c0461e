#!/usr/bin/env bash
# The Python tools some tests drive, from PyPI, in .venv-tests (made once, remade when this
# list changes):
#   playwright     drives the system's headless Chromium through the memorial server's pages
#                  (its own browser download is not used: tests launch /usr/bin/chromium)
#   moto[server]   a standalone S3-compatible object-store server on 127.0.0.1 for the server's
#                  S3 picture store
#   webuiapi       the unmodified A1111 client, driving the booth's A1111-compatible API
#   schemathesis   generates requests from the API's /openapi.json and checks the answers
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="playwright==1.65.2 moto[server]==5.2.5 webuiapi==0.9.17 schemathesis==4.32.5"
venv=.venv-tests
if [ -f "$venv/.requirements" ] && [ "$(cat "$venv/.requirements")" = "$requirements" ]; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
echo "$requirements" > "$venv/.requirements"
