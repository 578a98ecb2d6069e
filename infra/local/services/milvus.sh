# shellcheck shell=bash
# Service "milvus" for infra/local/stack.sh (sourced by it; uses its helpers).
#
# The genuine Milvus standalone server shipped in the PyPI wheel `milvus`
# (2.3.5, "Milvus Lite": the real milvus binary with embedded etcd, local
# storage and RocksMQ, started by a small Python wrapper), in a venv under
# $QP_CACHE_DIR/venvs. Newer `milvus` wheels do not install for CPython 3.11
# on this platform.
#
#   stack.sh up milvus | down milvus | status milvus | install milvus
#
# Env: MILVUS_PORT (19530, gRPC), MILVUS_ETCD_PORT (2379, the embedded etcd's
#      client port; move it when a real etcd, e.g. the Kubernetes stack's,
#      owns 2379), MILVUS_VERSION (2.3.5), QP_STACK_FRESH=1 (wipe Milvus data
#      before `up`), QP_MILVUS_HEALTH_TIMEOUT (120 s).
#
# Process tree: setsid → python milvus-server (the wrapper, pid file) → milvus
# run standalone (the server). The wrapper ignores SIGTERM's meaning for its
# child (it would die and orphan the server), so `down` stops the server
# first, then the wrapper, then anything left in the process group.

MILVUS_VERSION="${MILVUS_VERSION:-2.3.5}"
MILVUS_HOST=127.0.0.1
MILVUS_PORT="${MILVUS_PORT:-19530}"
MILVUS_ETCD_PORT="${MILVUS_ETCD_PORT:-2379}"
MILVUS_HEALTH_TIMEOUT_S="${QP_MILVUS_HEALTH_TIMEOUT:-120}"

SERVICES+=(milvus)

milvus_venv() { echo "$CACHE_DIR/venvs/milvus-$MILVUS_VERSION"; }
milvus_bin() { echo "$(milvus_venv)/bin/milvus-server"; }
milvus_data_dir() { echo "$DATA_DIR/milvus"; }

_install_milvus() {
  install_pip_venv milvus "$(milvus_venv)" milvus "$MILVUS_VERSION" "$(milvus_bin)" --help
}
install_milvus() { with_install_lock _install_milvus; }

signature_milvus() { echo "milvus-server --data"; }
probe_milvus() { port_open "$MILVUS_HOST" "$MILVUS_PORT"; }
addr_milvus() { echo "gRPC $MILVUS_HOST:$MILVUS_PORT (MILVUS_ADDRESS=$MILVUS_HOST:$MILVUS_PORT), embedded etcd :$MILVUS_ETCD_PORT"; }

# Running, not a zombie: the wrapper never reaps its exited server.
milvus_alive() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# The server process (child of the wrapper), or fail.
milvus_server_pid() {
  local wrapper="$1" child
  for child in $(pgrep -P "$wrapper" 2>/dev/null); do
    tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -q 'run standalone' && { echo "$child"; return 0; }
  done
  return 1
}

# The wrapper picks the REST/metrics port (9091 or the next free one) and hands it to the server as METRICS_PORT.
milvus_metrics_port() {
  local server
  server="$(milvus_server_pid "$1")" || return 1
  tr '\0' '\n' <"/proc/$server/environ" 2>/dev/null | sed -n 's/^METRICS_PORT=//p'
}

health_milvus() {
  local port
  port="$(milvus_metrics_port "$1")" || return 1
  [[ -n $port ]] && probe_milvus \
    && [[ $(curl -s --max-time 3 "http://$MILVUS_HOST:$port/healthz") == OK ]]
}

# status_service in stack.sh reports this instead of the wrapper's own (small) RSS.
rss_milvus() {
  local server
  server="$(milvus_server_pid "$1")" || { echo "n/a (server process missing)"; return; }
  awk '/^VmRSS:/ {printf "%.0f MiB (server pid '"$server"')", $2 / 1024}' "/proc/$server/status"
}

_start_milvus() {
  if service_pid milvus >/dev/null; then
    log "milvus: already running (pid $(service_pid milvus))"
    return 0
  fi
  if probe_milvus; then
    log "milvus: something already answers on $MILVUS_HOST:$MILVUS_PORT; not starting another server"
    return 0
  fi
  if port_open 127.0.0.1 "$MILVUS_ETCD_PORT"; then
    die "milvus: port $MILVUS_ETCD_PORT (embedded etcd) is taken by another process; set MILVUS_ETCD_PORT"
  fi
  local data
  data="$(milvus_data_dir)"
  if [[ ${QP_STACK_FRESH:-} == 1 ]]; then
    # bin/ holds the unpacked server (~40 s of lzma to redo); everything else is state.
    log "milvus: QP_STACK_FRESH=1, wiping $data (but its unpacked bin/)"
    find "$data" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} + 2>/dev/null || true
  fi
  mkdir -p "$data" "$RUN_DIR"
  local cmd=("$(milvus_bin)" --data "$data" --proxy-port "$MILVUS_PORT" --etcd-port "$MILVUS_ETCD_PORT"
    --etcd-log-level warn)
  printf '%q ' "${cmd[@]}" >"$RUN_DIR/milvus.cmd"
  log "milvus: starting: $(<"$RUN_DIR/milvus.cmd")"
  local t0 pid
  t0=$(now_ms)
  PYTHONUNBUFFERED=1 setsid nohup "${cmd[@]}" >"$(logfile milvus)" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile milvus)"
  printf 'milvus: waiting for health (up to %ss) ' "$MILVUS_HEALTH_TIMEOUT_S" >&2
  while (($(now_ms) - t0 < MILVUS_HEALTH_TIMEOUT_S * 1000)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log " exited"
      break
    fi
    if health_milvus "$pid"; then
      log " ok"
      log "milvus: up in $(secs_since "$t0")s (pid $pid, RSS $(rss_milvus "$pid"))"
      return 0
    fi
    printf '.' >&2
    sleep 0.5
  done
  log ""
  log "milvus: not healthy after $(secs_since "$t0")s; last 30 lines of $(logfile milvus) and $data/logs/milvus-stderr.log:"
  tail -n 30 "$(logfile milvus)" >&2 || true
  tail -n 30 "$data/logs/milvus-stderr.log" >&2 2>/dev/null || true
  stop_milvus
  return 1
}

# Parallel test runs may call `up milvus` at once: one starts, the others find it running.
start_milvus() {
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/milvus.start.lock"
  flock 8
  local rc=0
  _start_milvus || rc=$?
  flock -u 8
  return $rc
}

stop_milvus() {
  local pid server i
  if ! pid="$(service_pid milvus)"; then
    log "milvus: not running"
    rm -f "$(pidfile milvus)"
    return 0
  fi
  if server="$(milvus_server_pid "$pid")"; then
    log "milvus: stopping server pid $server"
    kill -TERM "$server" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
      milvus_alive "$server" || break
      sleep 0.1
    done
  fi
  # SIGINT is the wrapper's own stop (terminate, then kill, its child).
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # The wrapper ran under setsid: its pid is the process group of everything it started.
  if kill -0 -- "-$pid" 2>/dev/null; then
    log "milvus: process group $pid still alive, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pidfile milvus)"
  log "milvus: stopped"
}
