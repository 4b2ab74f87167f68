# Shared setup steps: bin/test sources this file; bin/sandbox and bin/bench
# (Python) run setup_all through bash (bin/hostlib.py's setup()).
# shellcheck shell=bash
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
# System packages the tooling needs on the controller (Debian names).
SYSTEM_PACKAGES=(podman runc debootstrap containernetworking-plugins
  python3 python3-venv openssh-client openssl curl git ca-certificates)
SUITES=(bookworm trixie)

die() { echo "ERROR: $*" >&2; exit 1; }
step() { echo "==> $*"; }

require_root() {
  [ "$(id -u)" -eq 0 ] && return
  die "this needs root (it installs packages and runs systemd containers with podman).
Run it as root, e.g.:  sudo $0"
}

require_debian() {
  local id="" version=""
  if [ -r /etc/os-release ]; then
    id=$(. /etc/os-release && echo "${ID:-}")
    version=$(. /etc/os-release && echo "${VERSION_ID:-}")
  fi
  if [ "$id" != debian ] || { [ "$version" != 12 ] && [ "$version" != 13 ]; }; then
    die "this setup is written for Debian 12 or 13 (found: ${id:-unknown} ${version:-}).
On another system install these yourself, then run bin/test or bin/sandbox again
with SKIP_SYSTEM_PACKAGES=1:
  ${SYSTEM_PACKAGES[*]}
and make podman use runc (see testbed/containers.conf)."
  fi
}

ensure_system_packages() {
  [ "${SKIP_SYSTEM_PACKAGES:-0}" = 1 ] && return
  require_debian
  local missing=() pkg
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  step "installing system packages: ${missing[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    die "could not install ${missing[*]} with apt-get.
Check the apt sources (/etc/apt/sources.list*) and network, install them by hand, and run again."
  fi
  command -v podman >/dev/null || die "podman is still missing after installing it; install podman by hand."
}

ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want=$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    step "installing Python tools into .venv (requirements.txt)"
    python3 -m venv "$VENV" || die "python3 -m venv failed: install python3-venv."
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt" || die "pip could not install requirements.txt"
    echo "$want" >"$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
  export VIRTUAL_ENV="$VENV"
  (cd "$ROOT" && python "$ROOT/bin/check_collections.py" requirements.yml >/dev/null) ||
    die "the installed collections do not satisfy requirements.yml (see above)."
}

ensure_images() {
  # shellcheck source=testbed/env.sh
  . "$ROOT/testbed/env.sh"
  local suite
  for suite in "${@:-${SUITES[@]}}"; do
    bash "$ROOT/testbed/build-image.sh" "$suite"
  done
}

# setup_all [SUITE...]: everything a command needs; images for SUITEs (default: all).
setup_all() {
  require_root
  ensure_system_packages
  ensure_venv
  ensure_images "$@"
  cd "$ROOT"
}
