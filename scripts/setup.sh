# Shared by scripts/run and scripts/test (sourced, not run): find Python 3.11+, install
# Debian packages when missing and we may, and make .venv with desk installed.

die() { echo "desk setup: $*" >&2; exit 2; }

apt_install() {
  # apt_install PACKAGE...: install with apt-get as root or through sudo; 1 if we cannot.
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

make_venv() {
  # make_venv EXTRAS: .venv with desk (and the given extras, e.g. "[dev]") installed.
  local python=${PYTHON:-python3}
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "$python is older than 3.11 (or missing); set PYTHON=python3.11"
  if [ ! -x .venv/bin/python ]; then
    # Debian's python3 has no venv module until python3-venv is installed.
    if ! "$python" -m venv .venv >/dev/null 2>&1; then
      rm -rf .venv
      apt_install python3-venv || die "cannot make a virtualenv: install python3-venv"
      "$python" -m venv .venv
    fi
  fi
  # compat: a plain path in a .pth, not an import hook run at every start (~17 ms of the
  # desk's start-up budget).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --config-settings editable_mode=compat -e ".$1"
}
