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
  install_pip_venv schemathesis "$(schemathesis_venv)" schemathesis "$SCHEMATHESIS_VERSION" "$(schemathesis_bin)" --version
}
install_schemathesis() { with_install_lock _install_schemathesis; }
