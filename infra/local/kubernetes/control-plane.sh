#!/usr/bin/env bash
# Runs a local Kubernetes control plane in the foreground until SIGTERM:
# etcd, kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler and
# kwok with one fake node. Started by `stack.sh up kubernetes`.
#
#   control-plane.sh BIN_DIR DATA_DIR APISERVER_PORT ETCD_PORT
#
# DATA_DIR keeps pki/ and kubeconfig across runs; etcd's data is new each run.
# DATA_DIR/ready appears once the node is schedulable and the default service
# account exists; each server logs to DATA_DIR/logs/<name>.log.
set -euo pipefail
BIN=$1 DATA=$2 AP=$3 EP=$4
PKI=$DATA/pki LOGS=$DATA/logs KUBECONFIG_FILE=$DATA/kubeconfig
rm -rf "$DATA/etcd" "$DATA/ready" "$LOGS"
mkdir -p "$PKI" "$LOGS"

if [[ ! -s $PKI/admin.crt || ! -s $PKI/sa.pub ]]; then
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=qp-manager-local-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
    printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >srv.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile srv.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >cli.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 -extfile cli.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
fi
cat >"$KUBECONFIG_FILE.tmp" <<KC
apiVersion: v1
kind: Config
clusters: [{name: qp-local, cluster: {server: "https://127.0.0.1:$AP", certificate-authority: $PKI/ca.crt}}]
users: [{name: admin, user: {client-certificate: $PKI/admin.crt, client-key: $PKI/admin.key}}]
contexts: [{name: qp-local, context: {cluster: qp-local, user: admin}}]
current-context: qp-local
KC
mv -f "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"

PIDS=()
stop_all() {
  local i
  trap - TERM INT EXIT
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$DATA/ready"
}
trap 'stop_all; exit 0' TERM INT
trap stop_all EXIT
run() { local name=$1; shift; "$@" >"$LOGS/$name.log" 2>&1 </dev/null & PIDS+=($!); }

run etcd "$BIN/etcd" --name qp-local --data-dir "$DATA/etcd" --log-level warn --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:$EP" --advertise-client-urls "http://127.0.0.1:$EP" \
  --listen-peer-urls "http://127.0.0.1:$((EP + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((EP + 1))" \
  --initial-cluster "qp-local=http://127.0.0.1:$((EP + 1))" --listen-metrics-urls "http://127.0.0.1:$((EP + 2))"
run apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$EP" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$AP" --endpoint-reconciler-type=none \
  --cert-dir="$DATA/apiserver-certs" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key"
api() { curl -s --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$AP$1" "${@:2}"; }
for ((i = 0; i < 480; i++)); do
  [[ $(api /readyz 2>/dev/null) == ok ]] && break
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a server exited; see $LOGS" >&2; exit 1; }; done
  sleep 0.25
done
[[ $(api /readyz) == ok ]] || { echo "kube-apiserver not ready; see $LOGS/apiserver.log" >&2; exit 1; }

run controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG_FILE" \
  --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
  --bind-address=127.0.0.1 --secure-port=$((AP + 1)) --leader-elect=false --use-service-account-credentials=false \
  --controllers=deployment-controller,replicaset-controller,namespace-controller,garbage-collector-controller,serviceaccount-controller,node-lifecycle-controller \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt"
run scheduler "$BIN/kube-scheduler" --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
  --authorization-kubeconfig="$KUBECONFIG_FILE" --bind-address=127.0.0.1 --secure-port=$((AP + 2)) --leader-elect=false
run kwok "$BIN/kwok" --kubeconfig="$KUBECONFIG_FILE" --config="$BIN/kwok-stages.yaml" --server-address="127.0.0.1:$((AP + 3))" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --cidr=10.0.0.1/24 --node-ip=10.0.0.1
api /api/v1/nodes -o /dev/null -H 'Content-Type: application/json' -X POST -d '{"apiVersion":"v1","kind":"Node",
 "metadata":{"name":"kwok-node-0","annotations":{"kwok.x-k8s.io/node":"fake"},"labels":{"type":"kwok","kubernetes.io/os":"linux"}},
 "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}'
# Ready once node-lifecycle-controller has lifted the not-ready taint and the default service account exists.
for ((i = 0; i < 480; i++)); do
  if ! api /api/v1/nodes/kwok-node-0 | grep -q '"taints"' \
    && api /api/v1/namespaces/default/serviceaccounts/default | grep -q '"uid"'; then
    touch "$DATA/ready"
    break
  fi
  sleep 0.25
done
[[ -e $DATA/ready ]] || { echo "the fake node never became schedulable; see $LOGS" >&2; exit 1; }
# Run until told to stop; if any server dies, stop them all.
wait -n "${PIDS[@]}" || true
echo "a control-plane server exited; stopping the rest (see $LOGS)" >&2
exit 1
