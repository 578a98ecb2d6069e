# shellcheck shell=bash
# Service "kubernetes" for infra/local/stack.sh (sourced by it; uses its helpers).
#
# A real Kubernetes control plane run as plain processes: etcd, kube-apiserver,
# kube-controller-manager (deployment, replicaset, namespace, garbage-collector,
# serviceaccount, node-lifecycle controllers), kube-scheduler and kwok, whose
# fake node makes scheduled Pods reach Running with no kubelet or containers.
# Everything is built from the Go module proxy (k8s.io/kubernetes's module zip
# has no staging/, so its replace block is dropped and the published k8s.io/*
# modules are required instead) and cached under $CACHE_DIR/kubernetes/.
#
#   stack.sh install kubernetes     build the binaries (cold: 10-20 min on 2 cores, ~2.6 GB peak)
#   stack.sh up kubernetes          start the control plane, write the kubeconfig
#   stack.sh path kubernetes        print the kubeconfig's path (KUBECONFIG=...)
#   stack.sh down|status kubernetes
#
# Env: KUBE_APISERVER_PORT (16443; the controller-manager, scheduler and kwok
#      take the next three ports; all below Linux's ephemeral range, 32768-60999,
#      where any outgoing connection may hold one of them), KUBE_ETCD_PORT (32379, +1 peer, +2 metrics),
#      QP_KUBE_HEALTH_TIMEOUT (90 s). Each `up` starts from an empty etcd; the
#      certificates and the kubeconfig are kept, so KUBECONFIG stays valid.
#
# Process tree: setsid → infra/local/kubernetes/control-plane.sh (pid file)
# → the five servers; the script stops them all on SIGTERM.

KUBE_VERSION=v1.37.2          # k8s.io/kubernetes
KUBE_STAGING_VERSION=v0.37.2  # the published k8s.io/* modules matching it
KUBE_ETCD_VERSION=v3.6.16     # go.etcd.io/etcd/server/v3 (Debian's etcd 3.4 stalls these controllers)
KUBE_KWOK_VERSION=v0.8.0      # sigs.k8s.io/kwok
KUBE_HOST=127.0.0.1
KUBE_APISERVER_PORT="${KUBE_APISERVER_PORT:-16443}"
KUBE_ETCD_PORT="${KUBE_ETCD_PORT:-32379}"
KUBE_HEALTH_TIMEOUT_S="${QP_KUBE_HEALTH_TIMEOUT:-90}"
KUBE_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

SERVICES+=(kubernetes)

kube_bin_dir() { echo "$CACHE_DIR/kubernetes/$KUBE_VERSION-etcd-$KUBE_ETCD_VERSION-kwok-$KUBE_KWOK_VERSION"; }
kube_data_dir() { echo "$DATA_DIR/kubernetes"; }
kube_kubeconfig() { echo "$(kube_data_dir)/kubeconfig"; }

kube_installed() {
  local b dir
  dir="$(kube_bin_dir)"
  for b in "${KUBE_BINARIES[@]}"; do [[ -x $dir/$b ]] || return 1; done
  [[ -s $dir/kwok-stages.yaml && -f $dir/.qp-installed ]]
}

# go with a private module and build cache under $CACHE_DIR, no cgo, never a newer toolchain.
kube_go() {
  GOPATH="$CACHE_DIR/go" GOMODCACHE="$CACHE_DIR/go/pkg/mod" GOCACHE="$CACHE_DIR/go/build" \
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false -modcacherw" go "$@"
}

_install_kubernetes() {
  kube_installed && return 0
  need_cmd go || die "kubernetes: go is required to build the control plane"
  need_cmd openssl || die "kubernetes: openssl is required for the certificates"
  local out tmp work t0 ldflags p c stages f
  t0=$(now_ms)
  out="$(kube_bin_dir)"
  tmp="$out.tmp.$$"
  work="$(mktemp -d)"
  rm -rf "$out".tmp.*; mkdir -p "$tmp"
  log "kubernetes: building $KUBE_VERSION (apiserver, controller-manager, scheduler), etcd $KUBE_ETCD_VERSION, kwok $KUBE_KWOK_VERSION from the Go module proxy (cold: 10-20 min)"
  # k8s.io/kubernetes: replace the staging/ directories the module zip lacks by the published modules.
  kube_go mod download "k8s.io/kubernetes@$KUBE_VERSION" >&2 || die "kubernetes: go mod download k8s.io/kubernetes failed"
  cp -r "$CACHE_DIR/go/pkg/mod/k8s.io/kubernetes@$KUBE_VERSION" "$work/kubernetes"
  chmod -R u+w "$work/kubernetes"
  (
    cd "$work/kubernetes"
    rm -rf go.work go.work.sum vendor
    sed -i '/^replace (/,/^)/d' go.mod
    sed -i -E "s#^(\tk8s\.io/[a-z0-9-]+) v0\.0\.0\$#\1 $KUBE_STAGING_VERSION#" go.mod
    ldflags="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=37 -X $p.gitTreeState=clean"
    done
    for c in kube-apiserver kube-controller-manager kube-scheduler; do
      log "kubernetes: go build ./cmd/$c"
      kube_go build -p 2 -trimpath -ldflags "$ldflags" -o "$tmp/$c" "./cmd/$c" >&2
    done
  ) || { rm -rf "$work" "$tmp"; die "kubernetes: building the Kubernetes binaries failed"; }
  # etcd: server/v3 carries replace directives, so wrap etcdmain in a tiny module.
  mkdir "$work/etcd"
  (
    cd "$work/etcd"
    printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
    printf 'module local/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$KUBE_ETCD_VERSION" >go.mod
    log "kubernetes: go build etcd"
    kube_go mod tidy >&2 && kube_go build -p 2 -trimpath -ldflags "-s -w" -o "$tmp/etcd" . >&2
  ) || { rm -rf "$work" "$tmp"; die "kubernetes: building etcd failed"; }
  log "kubernetes: go install kwok"
  GOBIN="$tmp" kube_go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KUBE_KWOK_VERSION" >&2 \
    || { rm -rf "$work" "$tmp"; die "kubernetes: building kwok failed"; }
  # kwok's stage definitions (node ready + heartbeat, pod ready/complete/delete) ship in the same module.
  stages="$CACHE_DIR/go/pkg/mod/sigs.k8s.io/kwok@$KUBE_KWOK_VERSION/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
    pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo '---'; cat "$stages/$f"
  done >"$tmp/kwok-stages.yaml" || { rm -rf "$work" "$tmp"; die "kubernetes: kwok stages missing in $stages"; }
  rm -rf "$work"
  "$tmp/kube-apiserver" --version >&2 && "$tmp/etcd" --version >&2 && "$tmp/kwok" --version >&2 \
    || { rm -rf "$tmp"; die "kubernetes: built binaries do not run"; }
  # The build cache (~2 GB) is only needed to rebuild; the binaries are what we keep.
  rm -rf "$CACHE_DIR/go/build"
  echo "$KUBE_VERSION" >"$tmp/.qp-installed"
  rm -rf "$out"; mv "$tmp" "$out"
  log "kubernetes: installed $out in $(secs_since "$t0")s"
}
# Its own lock: the cold build takes many minutes, and the quick installs (`stack.sh path temporal`
# in every test run) must not wait behind it.
install_kubernetes() {
  kube_installed && return 0
  exec 6>"$CACHE_DIR/.install-kubernetes.lock"
  flock 6
  _install_kubernetes
  flock -u 6
}

signature_kubernetes() { echo "control-plane.sh"; }
probe_kubernetes() { port_open "$KUBE_HOST" "$KUBE_APISERVER_PORT"; }
addr_kubernetes() { echo "https://$KUBE_HOST:$KUBE_APISERVER_PORT (KUBECONFIG=$(kube_kubeconfig))"; }

health_kubernetes() {
  local pki
  pki="$(kube_data_dir)/pki"
  [[ -e $(kube_data_dir)/ready ]] \
    && [[ $(curl -s --max-time 3 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
      "https://$KUBE_HOST:$KUBE_APISERVER_PORT/readyz") == ok ]]
}

# The servers' memory together: the pid file holds the wrapper script.
rss_kubernetes() {
  local total=0 child kb
  for child in $(pgrep -P "$1" 2>/dev/null); do
    kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$child/status" 2>/dev/null || echo 0)"
    total=$((total + ${kb:-0}))
  done
  echo "$((total / 1024)) MiB (etcd, apiserver, controller-manager, scheduler, kwok)"
}

_start_kubernetes() {
  if service_pid kubernetes >/dev/null; then
    log "kubernetes: already running (pid $(service_pid kubernetes))"
    return 0
  fi
  if probe_kubernetes; then
    log "kubernetes: something already answers on $KUBE_HOST:$KUBE_APISERVER_PORT; not starting another control plane"
    return 0
  fi
  local t0 pid cmd
  mkdir -p "$(kube_data_dir)" "$RUN_DIR"
  cmd=(bash "$REPO_ROOT/infra/local/kubernetes/control-plane.sh" "$(kube_bin_dir)" "$(kube_data_dir)"
    "$KUBE_APISERVER_PORT" "$KUBE_ETCD_PORT")
  printf '%q ' "${cmd[@]}" >"$RUN_DIR/kubernetes.cmd"
  log "kubernetes: starting: $(<"$RUN_DIR/kubernetes.cmd")"
  t0=$(now_ms)
  setsid nohup "${cmd[@]}" >"$(logfile kubernetes)" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile kubernetes)"
  printf 'kubernetes: waiting for health (up to %ss) ' "$KUBE_HEALTH_TIMEOUT_S" >&2
  while (($(now_ms) - t0 < KUBE_HEALTH_TIMEOUT_S * 1000)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log " exited"
      break
    fi
    if health_kubernetes; then
      log " ok"
      log "kubernetes: up in $(secs_since "$t0")s (pid $pid, RSS $(rss_kubernetes "$pid"))"
      return 0
    fi
    printf '.' >&2
    sleep 0.25
  done
  log ""
  log "kubernetes: not healthy after $(secs_since "$t0")s; $(logfile kubernetes) and the servers' logs in $(kube_data_dir)/logs:"
  tail -n 20 "$(logfile kubernetes)" >&2 || true
  tail -n 5 "$(kube_data_dir)"/logs/*.log >&2 2>/dev/null || true
  stop_kubernetes
  return 1
}

# Parallel test runs may call `up kubernetes` at once: one starts, the others find it running.
start_kubernetes() {
  mkdir -p "$RUN_DIR"
  exec 7>"$RUN_DIR/kubernetes.start.lock"
  flock 7
  local rc=0
  _start_kubernetes || rc=$?
  flock -u 7
  return $rc
}

# The wrapper stops its servers on SIGTERM; kube-apiserver can outlast stop_service's wait, so
# whatever is left in the wrapper's process group (setsid made it the leader) is killed after.
stop_kubernetes() {
  local pid
  pid="$(service_pid kubernetes)" || { stop_service kubernetes; return 0; }
  stop_service kubernetes
  if pgrep -g "$pid" >/dev/null 2>&1; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    sleep 2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$(kube_data_dir)/ready"
}
