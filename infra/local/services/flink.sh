# shellcheck shell=bash
# Apache Flink 1.18.1 session cluster for the local stack; sourced by infra/local/stack.sh.
#
#   stack.sh install flink             the cluster's classpath from Maven Central and the analytics job jar
#   stack.sh up|down|status flink      JobManager + TaskManager in one JVM, REST and web UI on 127.0.0.1:8081
#   stack.sh path flink-job            the analytics job's shaded jar (built from analytics/ when stale)
#   stack.sh test flink-job            the job's JUnit tests (analytics/src/test: operators in Flink's
#                                      test harness, no cluster); reports in analytics/target/surefire-reports
#   stack.sh path flink                the cluster's directory: classes/, classpath.txt, jvm-opts
#                                      (java -cp classes:<classpath> qp.flink.LocalFlinkCluster <confDir>
#                                      session|jobmanager|taskmanager runs it by hand, e.g. a TaskManager
#                                      of its own that a test kills)
#
# No Flink distribution tarball is served on Maven Central, so the cluster is the classpath of
# infra/local/flink/pom.xml (flink-runtime, -runtime-web, -clients, -streaming-java,
# -rpc-akka-loader, -metrics-prometheus, log4j) plus a small launcher (LocalFlinkCluster.java),
# cached under $CACHE_DIR/flink/<version>/ with the Maven repository in $CACHE_DIR/m2.
#
# Env: FLINK_REST_PORT (8081), FLINK_RPC_PORT (26123), FLINK_MEM (-Xms256m -Xmx1g
#      -XX:MaxDirectMemorySize=512m), FLINK_HEALTH_TIMEOUT (120 s), QP_STACK_FRESH=1 (wipe
#      checkpoints, savepoints and uploaded jars first).

FLINK_VERSION=1.18.1
FLINK_HOST=127.0.0.1
FLINK_REST_PORT="${FLINK_REST_PORT:-8081}"
FLINK_RPC_PORT="${FLINK_RPC_PORT:-26123}"
FLINK_HEALTH_TIMEOUT_S="${FLINK_HEALTH_TIMEOUT:-120}"

flink_home() { echo "$CACHE_DIR/flink/$FLINK_VERSION"; }
flink_job_jar() { echo "$REPO_ROOT/analytics/target/qp-analytics.jar"; }
# The cluster install is redone when its pom or launcher changes.
flink_install_stamp() { { echo v2; cat "$REPO_ROOT/infra/local/flink/pom.xml" "$REPO_ROOT"/infra/local/flink/src/main/java/qp/flink/*.java; } | sha256sum | cut -c1-16; }

mvn_quiet() {
  mvn -q -B -Dmaven.repo.local="$CACHE_DIR/m2/repository" "$@" 2>&1 </dev/null | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2
  return "${PIPESTATUS[0]}"
}

_install_flink_cluster() {
  local home stamp tmp t0
  home="$(flink_home)"
  stamp="$(flink_install_stamp)"
  [[ $(cat "$home/.qp-installed" 2>/dev/null) == "$stamp" ]] && return 0
  ensure_java_maven
  t0=$(now_ms)
  tmp="$home.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  log "flink: resolving Flink $FLINK_VERSION from Maven Central and building the launcher"
  # Build in a copy: the repo tree stays free of target/ directories the cluster needs.
  cp -r "$REPO_ROOT/infra/local/flink/pom.xml" "$REPO_ROOT/infra/local/flink/src" "$tmp/"
  (cd "$tmp" && mvn_quiet compile dependency:build-classpath -Dmdep.outputFile="$tmp/classpath.txt") \
    || { rm -rf "$tmp"; die "flink: mvn failed to assemble the cluster"; }
  mv "$tmp/target/classes" "$tmp/classes"
  rm -rf "$tmp/target" "$tmp/src" "$tmp/pom.xml"
  printf '%s\n' "$FLINK_JAVA_OPENS" >"$tmp/jvm-opts"
  echo "$stamp" >"$tmp/.qp-installed"
  rm -rf "$home"
  mv "$tmp" "$home"
  log "flink: installed $home ($(tr ':' '\n' <"$home/classpath.txt" | wc -l) jars) in $(secs_since "$t0")s"
}

# The job jar is rebuilt when a file of analytics/ is newer than it.
_install_flink_job() {
  local jar t0
  jar="$(flink_job_jar)"
  if [[ -s $jar ]] && [[ -z $(find "$REPO_ROOT/analytics/pom.xml" "$REPO_ROOT/analytics/src" -newer "$jar" -print -quit) ]]; then
    return 0
  fi
  ensure_java_maven
  t0=$(now_ms)
  log "flink: building the analytics job (analytics/, shaded jar)"
  (cd "$REPO_ROOT/analytics" && mvn_quiet package -DskipTests) || die "flink: mvn failed to build analytics/"
  [[ -s $jar ]] || die "flink: $jar missing after the build"
  log "flink: built $jar in $(secs_since "$t0")s"
}
install_flink() { with_install_lock _install_flink_cluster; with_install_lock _install_flink_job; }
# Under the install lock: the tests compile into the same target/ as the jar's build.
_test_flink_job() {
  ensure_java_maven
  (cd "$REPO_ROOT/analytics" && mvn_quiet test) || die "flink: the analytics job's tests failed (analytics/target/surefire-reports)"
}
test_flink_job() { with_install_lock _test_flink_job; }
install_flink_job() { with_install_lock _install_flink_job; }

flink_conf_dir() { echo "$RUN_DIR/flink-conf"; }
flink_data() { echo "$DATA_DIR/flink"; }
flink_rest() { echo "http://$FLINK_HOST:$FLINK_REST_PORT"; }

write_flink_conf() {
  local dir data
  dir="$(flink_conf_dir)"
  data="$(flink_data)"
  mkdir -p "$dir" "$data/checkpoints" "$data/savepoints" "$data/uploads" "$data/tmp"
  {
    cat "$REPO_ROOT/infra/local/flink/conf/flink-conf.yaml"
    printf '\n# ---- instance (stack.sh)\n'
    printf 'rest.port: %s\njobmanager.rpc.port: %s\n' "$FLINK_REST_PORT" "$FLINK_RPC_PORT"
    printf 'state.checkpoints.dir: file://%s/checkpoints\n' "$data"
    printf 'state.savepoints.dir: file://%s/savepoints\n' "$data"
    printf 'web.upload.dir: %s/uploads\n' "$data"
    printf 'io.tmp.dirs: %s/tmp\n' "$data"
  } >"$dir/flink-conf.yaml.tmp"
  mv -f "$dir/flink-conf.yaml.tmp" "$dir/flink-conf.yaml"
  cp "$REPO_ROOT/infra/local/flink/conf/log4j.properties" "$dir/log4j.properties"
}

signature_flink() { echo "qp.flink.LocalFlinkCluster $(flink_conf_dir)"; }
probe_flink() { port_open "$FLINK_HOST" "$FLINK_REST_PORT"; }
addr_flink() { echo "REST and web UI $(flink_rest)"; }

# Healthy = REST answers and at least one TaskManager slot is registered.
health_flink() {
  curl -s --max-time 3 "$(flink_rest)/overview" 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get("slots-total",0) > 0 else 1)' 2>/dev/null
}

# Java 17 needs these opens for Flink 1.18 (what Flink's scripts pass as env.java.opts.all).
FLINK_JAVA_OPENS="-XX:+IgnoreUnrecognizedVMOptions --add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED"

start_flink() {
  local home pid t0 rss
  home="$(flink_home)"
  if pid="$(service_pid flink)"; then
    log "flink: already running (pid $pid)"
    return 0
  fi
  if probe_flink; then
    log "flink: something already answers on $FLINK_HOST:$FLINK_REST_PORT; not starting another cluster"
    return 0
  fi
  if [[ ${QP_STACK_FRESH:-} == 1 ]]; then
    log "flink: QP_STACK_FRESH=1, wiping $(flink_data)"
    rm -rf "$(flink_data)"
  fi
  mkdir -p "$RUN_DIR"
  write_flink_conf
  local cmd
  # shellcheck disable=SC2086
  cmd=(java ${FLINK_MEM:--Xms256m -Xmx1g -XX:MaxDirectMemorySize=512m} -XX:+UseG1GC $FLINK_JAVA_OPENS
    "-Dlog4j.configurationFile=$(flink_conf_dir)/log4j.properties"
    -cp "$home/classes:$(<"$home/classpath.txt")" qp.flink.LocalFlinkCluster "$(flink_conf_dir)" session)
  log "flink: starting JobManager + TaskManager, REST on $FLINK_REST_PORT"
  t0=$(now_ms)
  setsid nohup "${cmd[@]}" >"$(logfile flink)" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile flink)"
  printf 'flink: waiting for %s/overview to show a TaskManager (up to %ss) ' "$(flink_rest)" "$FLINK_HEALTH_TIMEOUT_S" >&2
  while (($(now_ms) - t0 < FLINK_HEALTH_TIMEOUT_S * 1000)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log " exited"
      break
    fi
    if health_flink; then
      rss="$(awk '/^VmRSS:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)"
      log " ok"
      log "flink: up in $(secs_since "$t0")s (pid $pid, RSS $rss)"
      return 0
    fi
    printf '.' >&2
    sleep 1
  done
  log ""
  log "flink: not healthy after $(secs_since "$t0")s; last 40 lines of $(logfile flink):"
  tail -n 40 "$(logfile flink)" >&2 || true
  stop_service flink
  return 1
}

stop_flink() { stop_service flink; }

SERVICES+=(flink)
