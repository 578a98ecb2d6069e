# shellcheck shell=bash
# Service "prometheus" for infra/local/stack.sh (sourced by it; uses its helpers).
#
# Debian's `prometheus` package (2.42 on bookworm; it brings `promtool`), started by hand (no
# systemd): `stack.sh up prometheus` scrapes the API and the standalone worker of this machine
# and loads the alert rules of infra/prometheus/rules/.
#
#   stack.sh install prometheus | up prometheus | down prometheus | status prometheus
#   stack.sh path prometheus | promtool
#
# Env: PROMETHEUS_PORT (9090), PROMETHEUS_TARGETS_API (127.0.0.1:8080),
#      PROMETHEUS_TARGETS_WORKER (127.0.0.1:9464 and the SDK's 127.0.0.1:9465),
#      PROMETHEUS_SCRAPE_INTERVAL (5s), QP_STACK_FRESH=1 (wipe its TSDB before `up`).
#      A test writes its own config and starts `stack.sh path prometheus` itself.

PROMETHEUS_HOST=127.0.0.1
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
PROMETHEUS_TARGETS_API="${PROMETHEUS_TARGETS_API:-127.0.0.1:8080}"
PROMETHEUS_TARGETS_WORKER="${PROMETHEUS_TARGETS_WORKER:-127.0.0.1:9464}"
PROMETHEUS_TARGETS_SDK="${PROMETHEUS_TARGETS_SDK:-127.0.0.1:9465}"
PROMETHEUS_SCRAPE_INTERVAL="${PROMETHEUS_SCRAPE_INTERVAL:-5s}"

SERVICES+=(prometheus)

prometheus_bin() { echo /usr/bin/prometheus; }
promtool_bin() { echo /usr/bin/promtool; }

_install_prometheus() {
  [[ -x $(prometheus_bin) && -x $(promtool_bin) ]] && return 0
  [[ $(id -u) -eq 0 ]] && need_cmd apt-get || die "prometheus: install Debian's prometheus package (apt-get install prometheus) as root"
  local t0; t0=$(now_ms)
  log "prometheus: installing Debian's prometheus package (brings promtool)"
  apt-get update -qq >&2
  # The package's postinst wants systemd/invoke-rc.d; without them it only prints a notice.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2 \
    || die "apt-get install prometheus failed"
  # The package may have started a daemon through its init script; this stack starts its own.
  if [[ -f /run/prometheus.pid ]]; then kill "$(cat /run/prometheus.pid)" 2>/dev/null || true; fi
  "$(prometheus_bin)" --version >/dev/null 2>&1 || die "prometheus does not run after install"
  log "prometheus: installed $("$(prometheus_bin)" --version 2>&1 | head -n1) in $(secs_since "$t0")s"
}
install_prometheus() { with_install_lock _install_prometheus; }

prometheus_config() { echo "$RUN_DIR/prometheus.yml"; }
signature_prometheus() { echo "--config.file=$(prometheus_config)"; }
probe_prometheus() { port_open "$PROMETHEUS_HOST" "$PROMETHEUS_PORT"; }
addr_prometheus() { echo "http://$PROMETHEUS_HOST:$PROMETHEUS_PORT (targets: api $PROMETHEUS_TARGETS_API, worker $PROMETHEUS_TARGETS_WORKER, sdk $PROMETHEUS_TARGETS_SDK)"; }
health_prometheus() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$PROMETHEUS_HOST:$PROMETHEUS_PORT/-/ready") == 200 ]]; }

write_prometheus_config() {
  cat >"$(prometheus_config)" <<YAML
# Written by infra/local/stack.sh up prometheus.
global:
  scrape_interval: $PROMETHEUS_SCRAPE_INTERVAL
  evaluation_interval: $PROMETHEUS_SCRAPE_INTERVAL
rule_files:
  - $REPO_ROOT/infra/prometheus/rules/*.yml
scrape_configs:
  - job_name: qp-manager-api
    static_configs: [{ targets: ['$PROMETHEUS_TARGETS_API'] }]
  - job_name: qp-manager-worker
    static_configs: [{ targets: ['$PROMETHEUS_TARGETS_WORKER'] }]
  - job_name: qp-manager-worker-sdk
    static_configs: [{ targets: ['$PROMETHEUS_TARGETS_SDK'] }]
YAML
}

start_prometheus() {
  if service_pid prometheus >/dev/null; then
    log "prometheus: already running (pid $(service_pid prometheus))"
    return 0
  fi
  if probe_prometheus; then
    log "prometheus: something already answers on $PROMETHEUS_HOST:$PROMETHEUS_PORT; not starting another server"
    return 0
  fi
  local data="$DATA_DIR/prometheus"
  [[ ${QP_STACK_FRESH:-} == 1 ]] && rm -rf "$data"
  mkdir -p "$data" "$RUN_DIR"
  write_prometheus_config
  local cmd=("$(prometheus_bin)" "--config.file=$(prometheus_config)" "--storage.tsdb.path=$data"
    "--web.listen-address=$PROMETHEUS_HOST:$PROMETHEUS_PORT" --log.level=warn)
  printf '%q ' "${cmd[@]}" >"$RUN_DIR/prometheus.cmd"
  log "prometheus: starting: $(<"$RUN_DIR/prometheus.cmd")"
  local t0 pid
  t0=$(now_ms)
  setsid nohup "${cmd[@]}" >"$(logfile prometheus)" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile prometheus)"
  while (($(now_ms) - t0 < HEALTH_TIMEOUT_S * 1000)); do
    kill -0 "$pid" 2>/dev/null || break
    if health_prometheus; then
      log "prometheus: up in $(secs_since "$t0")s (pid $pid)"
      return 0
    fi
    sleep 0.2
  done
  log "prometheus: not ready after $(secs_since "$t0")s; last 30 lines of $(logfile prometheus):"
  tail -n 30 "$(logfile prometheus)" >&2 || true
  stop_prometheus
  return 1
}

stop_prometheus() { stop_service prometheus; }
