# shellcheck shell=bash
# Tool "schemathesis" for infra/local/stack.sh (sourced by it; uses its helpers).
#
# The property-based API tester from PyPI, in a venv under $QP_CACHE_DIR/venvs.
# Not a service (nothing to start): test/api-conformance.test.ts runs its CLI
# against the real API and api/openapi.yaml.
#
#   stack.sh install schemathesis | path schemathesis
#
# Env: SCHEMATHESIS_VERSION (4.32.5).

SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"

schemathesis_venv() { echo "$CACHE_DIR/venvs/schemathesis"; }
schemathesis_bin() { echo "$(schemathesis_venv)/bin/schemathesis"; }

_install_schemathesis() {
  local venv t0
  venv="$(schemathesis_venv)"
  # The marker names the version: another pin reinstalls.
  [[ $(cat "$venv/.qp-installed" 2>/dev/null) == "$SCHEMATHESIS_VERSION" && -x $(schemathesis_bin) ]] && return 0
  t0=$(now_ms)
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  log "schemathesis: creating a venv and installing schemathesis==$SCHEMATHESIS_VERSION from PyPI"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2 \
    || { rm -rf "$venv"; die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"; }
  "$(schemathesis_bin)" --version >/dev/null || { rm -rf "$venv"; die "schemathesis does not run after install"; }
  # Written last: a venv without it is a broken install and is redone.
  echo "$SCHEMATHESIS_VERSION" >"$venv/.qp-installed"
  log "schemathesis: installed $(schemathesis_bin) in $(secs_since "$t0")s"
}
install_schemathesis() { with_install_lock _install_schemathesis; }
