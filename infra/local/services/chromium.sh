# shellcheck shell=bash
# Chromium for the browser test of the status page (sourced by infra/local/stack.sh).
# Debian's `chromium` package, driven by the npm playwright-core (which never downloads
# a browser of its own here). Not a service: nothing to start or stop.
#
#   stack.sh install chromium | path chromium

chromium_bin() { echo /usr/bin/chromium; }

_install_chromium() {
  [[ -x $(chromium_bin) ]] && return 0
  [[ $(id -u) -eq 0 ]] && need_cmd apt-get || die "chromium: install Debian's chromium package (apt-get install chromium) as root"
  local t0; t0=$(now_ms)
  log "chromium: installing Debian's chromium package (about 300 MB with its libraries)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 \
    || die "apt-get install chromium failed"
  "$(chromium_bin)" --version >&2 || die "chromium does not run after install"
  log "chromium: installed in $(secs_since "$t0")s"
}
install_chromium() { with_install_lock _install_chromium; }
