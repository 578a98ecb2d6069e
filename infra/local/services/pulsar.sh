# shellcheck shell=bash
# Apache Pulsar standalone for the local stack; sourced by infra/local/stack.sh.
#
#   stack.sh up|down|status pulsar       the shared broker (ports 6650 / 8090)
#   stack.sh path pulsar                 the unpacked distribution (PULSAR_HOME)
#   PULSAR_INSTANCE=pulsar-x PULSAR_WEB_PORT=.. PULSAR_BROKER_PORT=.. \
#     stack.sh up|down|status pulsar-x   another broker beside it (own ports, data, pid, log)
#
# Installed from Maven Central (org.apache.pulsar:pulsar-server-distribution:tar.gz:bin)
# into $CACHE_DIR/pulsar/<version>/, run as `bin/pulsar standalone -nfw -nss` with
# infra/local/pulsar/standalone.conf layered over the distribution's own. The
# embedded bookie picks a free port on its first start and keeps it in the
# instance's metadata (Pulsar 4's standalone ignores --bookkeeper-port there).
#
# Env: PULSAR_WEB_PORT (8090; admin REST + WebSocket API), PULSAR_BROKER_PORT (6650),
#      PULSAR_MEM (-Xms512m -Xmx1g -XX:MaxDirectMemorySize=512m),
#      PULSAR_GC (G1, no heap pre-touch), PULSAR_LOG_LEVEL (warn),
#      PULSAR_HEALTH_TIMEOUT (120 s), PULSAR_EXTRA_CONF (a file of extra broker
#      settings appended last), PULSAR_AUTH_TOKEN (sent by the health check when the
#      broker requires tokens), QP_STACK_FRESH=1 (wipe this instance's data first).

PULSAR_VERSION=4.0.8
PULSAR_HOST=127.0.0.1
PULSAR_WEB_PORT="${PULSAR_WEB_PORT:-8090}"
PULSAR_BROKER_PORT="${PULSAR_BROKER_PORT:-6650}"
PULSAR_HEALTH_TIMEOUT_S="${PULSAR_HEALTH_TIMEOUT:-120}"
PULSAR_INSTANCE="${PULSAR_INSTANCE:-pulsar}"

pulsar_home() { echo "$CACHE_DIR/pulsar/$PULSAR_VERSION/apache-pulsar-$PULSAR_VERSION"; }

_install_pulsar_dist() {
  local home tarball dest tmp t0
  home="$(pulsar_home)"
  [[ -x $home/bin/pulsar ]] && return 0
  ensure_java_maven
  t0=$(now_ms)
  tarball="$DOWNLOADS_DIR/pulsar-server-distribution-$PULSAR_VERSION-bin.tar.gz"
  mkdir -p "$DOWNLOADS_DIR"
  if [[ ! -s $tarball ]]; then
    log "pulsar: fetching org.apache.pulsar:pulsar-server-distribution:$PULSAR_VERSION:tar.gz:bin from Maven Central (~244 MB)"
    # Run outside the repo so that mvn never picks up a pom.
    (cd "$DOWNLOADS_DIR" && mvn -q -B dependency:copy \
      -Dartifact="org.apache.pulsar:pulsar-server-distribution:$PULSAR_VERSION:tar.gz:bin" \
      -DoutputDirectory="$DOWNLOADS_DIR" -Dmaven.repo.local="$CACHE_DIR/m2/repository" 2>&1 </dev/null \
      | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2) || die "mvn failed to fetch the Pulsar distribution"
    [[ -s $tarball ]] || die "pulsar: $tarball missing after mvn"
    # The tarball now sits in downloads/; a second copy in the Maven repo is 244 MB of nothing.
    rm -rf "$CACHE_DIR/m2/repository/org/apache/pulsar/pulsar-server-distribution/$PULSAR_VERSION"
  fi
  dest="$(dirname "$home")"
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  log "pulsar: unpacking $(basename "$tarball")"
  tar -xzf "$tarball" -C "$tmp" || { rm -rf "$tmp"; die "pulsar: could not unpack $tarball"; }
  [[ -x $tmp/apache-pulsar-$PULSAR_VERSION/bin/pulsar ]] || { rm -rf "$tmp"; die "pulsar: bin/pulsar missing in $tarball"; }
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp" "$dest"
  log "pulsar: installed $home in $(secs_since "$t0")s"
}
install_pulsar_dist() { with_install_lock _install_pulsar_dist; }

pulsar_conf() { echo "$RUN_DIR/$1.conf"; }
pulsar_data() { echo "$DATA_DIR/$1"; }
pulsar_web() { echo "http://$PULSAR_HOST:$PULSAR_WEB_PORT"; }

# The generated conf path is on the java command line (-Dpulsar.config.file=...), one per instance.
pulsar_signature() { echo "pulsar.config.file=$(pulsar_conf "$1")"; }
pulsar_probe() { port_open "$PULSAR_HOST" "$PULSAR_WEB_PORT"; }
pulsar_addr() {
  echo "broker pulsar://$PULSAR_HOST:$PULSAR_BROKER_PORT, admin $(pulsar_web), WebSocket ws://$PULSAR_HOST:$PULSAR_WEB_PORT/ws/v2"
}

pulsar_health() {
  local auth=()
  [[ -n ${PULSAR_AUTH_TOKEN:-} ]] && auth=(-H "Authorization: Bearer $PULSAR_AUTH_TOKEN")
  [[ $(curl -s --max-time 5 "${auth[@]}" "$(pulsar_web)/admin/v2/brokers/health" 2>/dev/null) == ok ]]
}

# conf = distribution defaults, then the repo's settings, then this instance's ports and extras.
write_pulsar_conf() {
  local name="$1" out
  out="$(pulsar_conf "$name")"
  {
    cat "$(pulsar_home)/conf/standalone.conf"
    printf '\n# ---- %s\n' "$REPO_ROOT/infra/local/pulsar/standalone.conf"
    cat "$REPO_ROOT/infra/local/pulsar/standalone.conf"
    printf '\n# ---- instance %s (stack.sh)\n' "$name"
    printf 'brokerServicePort=%s\nwebServicePort=%s\n' "$PULSAR_BROKER_PORT" "$PULSAR_WEB_PORT"
    if [[ -n ${PULSAR_EXTRA_CONF:-} ]]; then
      printf '\n# ---- %s\n' "$PULSAR_EXTRA_CONF"
      cat "$PULSAR_EXTRA_CONF"
    fi
  } >"$out.tmp"
  mv -f "$out.tmp" "$out"
}

pulsar_start() {
  local name="$1" home data pid t0 rss
  home="$(pulsar_home)"
  if pid="$(service_pid "$name")"; then
    log "$name: already running (pid $pid)"
    return 0
  fi
  if pulsar_probe; then
    log "$name: something already answers on $PULSAR_HOST:$PULSAR_WEB_PORT; not starting another broker"
    return 0
  fi
  data="$(pulsar_data "$name")"
  if [[ ${QP_STACK_FRESH:-} == 1 ]]; then
    log "$name: QP_STACK_FRESH=1, wiping $data"
    rm -rf "$data"
  fi
  mkdir -p "$data" "$RUN_DIR"
  write_pulsar_conf "$name"
  local cmd=("$home/bin/pulsar" standalone -nfw -nss
    --metadata-dir "$data/metadata" --bookkeeper-dir "$data/bookkeeper" -a "$PULSAR_HOST")
  printf '%q ' "${cmd[@]}" >"$RUN_DIR/$name.cmd"
  log "$name: starting on web $PULSAR_WEB_PORT, broker $PULSAR_BROKER_PORT: $(<"$RUN_DIR/$name.cmd")"
  t0=$(now_ms)
  PULSAR_STANDALONE_CONF="$(pulsar_conf "$name")" \
    PULSAR_MEM="${PULSAR_MEM:--Xms512m -Xmx1g -XX:MaxDirectMemorySize=512m}" \
    PULSAR_GC="${PULSAR_GC:--XX:+UseG1GC -XX:+PerfDisableSharedMem}" \
    PULSAR_GC_LOG="-Xlog:disable" \
    PULSAR_LOG_DIR="$RUN_DIR/$name-logs" \
    PULSAR_LOG_LEVEL="${PULSAR_LOG_LEVEL:-warn}" \
    setsid nohup "${cmd[@]}" >"$(logfile "$name")" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile "$name")"
  printf '%s: waiting for %s/admin/v2/brokers/health (up to %ss) ' "$name" "$(pulsar_web)" "$PULSAR_HEALTH_TIMEOUT_S" >&2
  while (($(now_ms) - t0 < PULSAR_HEALTH_TIMEOUT_S * 1000)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log " exited"
      break
    fi
    if pulsar_health; then
      rss="$(awk '/^VmRSS:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)"
      log " ok"
      log "$name: up in $(secs_since "$t0")s (pid $pid, RSS $rss)"
      return 0
    fi
    printf '.' >&2
    sleep 1
  done
  log ""
  log "$name: not healthy after $(secs_since "$t0")s; last 40 lines of $(logfile "$name"):"
  tail -n 40 "$(logfile "$name")" >&2 || true
  stop_service "$name"
  return 1
}

# Register a broker instance as a stack service: install_X start_X stop_X probe_X addr_X health_X signature_X.
register_pulsar_instance() {
  local n="$1"
  [[ $n =~ ^pulsar(-[a-z0-9]+)*$ ]] || die "PULSAR_INSTANCE must look like pulsar-<name> (lower case), got '$n'"
  eval "install_$n() { install_pulsar_dist; }
    start_$n() { pulsar_start $n; }
    stop_$n() { stop_service $n; }
    probe_$n() { pulsar_probe; }
    addr_$n() { pulsar_addr; }
    health_$n() { pulsar_health; }
    signature_$n() { pulsar_signature $n; }"
  SERVICES+=("$n")
}

register_pulsar_instance pulsar
[[ $PULSAR_INSTANCE == pulsar ]] || register_pulsar_instance "$PULSAR_INSTANCE"
