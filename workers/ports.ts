// Chooses the adapters behind each port from config.
import type { Config } from '../core/config';
import type { BlobStore, ClusterPort, MessagingPort, VectorPort } from '../adapters/ports';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import { MilvusVectors } from '../adapters/milvus/vectors';
import { MemoryCluster } from '../adapters/memory/cluster';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { FilesystemBlobStore } from '../adapters/blobs/filesystem';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { pulsarOptions } from '../adapters/pulsar/options';

export interface Ports {
  messaging: MessagingPort;
  vectors: VectorPort;
  cluster: ClusterPort;
  blobs: BlobStore;
}

export function createPorts(config: Config): Ports {
  if (config.QP_CLUSTER !== 'local') {
    throw new Error(`QP_CLUSTER=${config.QP_CLUSTER}: the Kubernetes adapter is not built yet; use local`);
  }
  return {
    messaging: config.QP_MESSAGING === 'pulsar' ? createPulsarMessaging(config) : new MemoryMessaging(),
    vectors: config.QP_VECTORS === 'milvus' ? createMilvusVectors(config) : new MemoryVectors(),
    cluster: new MemoryCluster(),
    blobs: config.QP_BLOB_DIR ? new FilesystemBlobStore(config.QP_BLOB_DIR) : new MemoryBlobStore(),
  };
}

/** One Milvus client per process (MILVUS_ADDRESS, or MILVUS_HOST on the default port 19530). */
function createMilvusVectors(config: Config): MilvusVectors {
  return new MilvusVectors({
    address: config.MILVUS_ADDRESS ?? `${config.MILVUS_HOST}:19530`,
    index: config.MILVUS_INDEX,
  });
}

/** The WebSocket transport; namespaces and policies are applied on first use of each swarm. */
function createPulsarMessaging(config: Config): PulsarMessaging {
  return new PulsarMessaging(
    pulsarOptions({
      serviceUrl: config.PULSAR_SERVICE_URL as string,
      adminUrl: config.PULSAR_ADMIN_URL,
      authToken: config.PULSAR_AUTH_TOKEN,
      tenant: config.PULSAR_TENANT,
      replicationClusters: config.PULSAR_REPLICATION_CLUSTERS?.split(','),
    }),
  );
}
