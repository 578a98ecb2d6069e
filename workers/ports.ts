// Chooses the adapters behind each port from config.
import type { Config } from '../core/config';
import type { BlobStore, ClusterPort, MessagingPort, VectorPort } from '../adapters/ports';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import { MemoryCluster } from '../adapters/memory/cluster';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { FilesystemBlobStore } from '../adapters/blobs/filesystem';

export interface Ports {
  messaging: MessagingPort;
  vectors: VectorPort;
  cluster: ClusterPort;
  blobs: BlobStore;
}

export function createPorts(config: Config): Ports {
  if (config.QP_MESSAGING !== 'memory') {
    throw new Error(`QP_MESSAGING=${config.QP_MESSAGING}: the Pulsar adapter is not built yet (issue #3); use memory`);
  }
  if (config.QP_VECTORS !== 'memory') {
    throw new Error(`QP_VECTORS=${config.QP_VECTORS}: the Milvus adapter is not built yet (issue #5); use memory`);
  }
  if (config.QP_CLUSTER !== 'local') {
    throw new Error(`QP_CLUSTER=${config.QP_CLUSTER}: the Kubernetes adapter is not built yet; use local`);
  }
  return {
    messaging: new MemoryMessaging(),
    vectors: new MemoryVectors(),
    cluster: new MemoryCluster(),
    blobs: config.QP_BLOB_DIR ? new FilesystemBlobStore(config.QP_BLOB_DIR) : new MemoryBlobStore(),
  };
}
