# shellcheck shell=bash
# Tool "python-sdk" for infra/local/stack.sh (sourced by it; uses its helpers).
#
# The Python agent SDK (agents/python, package qp_agent, with its native extra:
# the pulsar-client wheel) and pytest, in a venv
# under $QP_CACHE_DIR/venvs. Not a service (nothing to start):
# test/python-sdk.test.ts runs the SDK's pytest suite and a Python agent with it.
#
#   stack.sh install python-sdk | path python-sdk   (path prints the venv's python)
#
# The package is installed from this checkout; a change to its sources or
# pyproject.toml reinstalls it (the marker holds their digest).

python_sdk_venv() { echo "$CACHE_DIR/venvs/python-sdk"; }
python_sdk_bin() { echo "$(python_sdk_venv)/bin/python"; }

python_sdk_digest() {
  (cd "$REPO_ROOT/agents/python" && cat pyproject.toml qp_agent/*.py qp_agent/py.typed | sha256sum | cut -c1-16)
}

_install_python_sdk() {
  local venv digest t0
  venv=$(python_sdk_venv)
  digest=$(python_sdk_digest)
  [[ $(cat "$venv/.qp-installed" 2>/dev/null) == "$digest" && -x $(python_sdk_bin) ]] && return 0
  t0=$(now_ms)
  if [[ ! -x $(python_sdk_bin) ]]; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    log "python-sdk: creating a venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  log "python-sdk: installing agents/python[native] and pytest from PyPI"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$REPO_ROOT/agents/python[test,native]" >&2 \
    || { rm -rf "$venv"; die "pip install agents/python failed"; }
  "$(python_sdk_bin)" -c 'import qp_agent, pytest, pulsar' || { rm -rf "$venv"; die "qp_agent does not import after install"; }
  echo "$digest" >"$venv/.qp-installed"
  log "python-sdk: installed in $(secs_since "$t0")s"
}
install_python_sdk() { with_install_lock _install_python_sdk; }
