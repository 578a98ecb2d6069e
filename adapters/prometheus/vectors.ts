// Vector store metrics around any VectorPort: latency and errors per operation.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { VectorPort } from '../ports/vectors';

type Operation = Exclude<keyof VectorPort, 'close'>;
const OPERATIONS: Operation[] = ['ensureCollection', 'dropCollection', 'upsert', 'search', 'searchMany', 'get', 'delete', 'count'];

export function instrumentVectors(inner: VectorPort, registry: Registry): VectorPort {
  const registers = [registry];
  const seconds =
    (registry.getSingleMetric('qp_manager_vector_operation_duration_seconds') as Histogram<'operation'> | undefined) ??
    new Histogram({
      name: 'qp_manager_vector_operation_duration_seconds',
      help: 'Vector store calls by operation (Milvus or in-process)',
      labelNames: ['operation'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
  const errors =
    (registry.getSingleMetric('qp_manager_vector_operation_errors_total') as Counter<'operation'> | undefined) ??
    new Counter({ name: 'qp_manager_vector_operation_errors_total', help: 'Vector store calls that failed, by operation', labelNames: ['operation'], registers });
  for (const operation of OPERATIONS) errors.inc({ operation }, 0);
  const timed =
    <A extends unknown[], R>(operation: Operation, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const end = seconds.startTimer({ operation });
      try {
        return await call(...args);
      } catch (error) {
        errors.inc({ operation });
        throw error;
      } finally {
        end();
      }
    };
  return {
    ensureCollection: timed('ensureCollection', inner.ensureCollection.bind(inner)),
    dropCollection: timed('dropCollection', inner.dropCollection.bind(inner)),
    upsert: timed('upsert', inner.upsert.bind(inner)),
    search: timed('search', inner.search.bind(inner)),
    searchMany: timed('searchMany', inner.searchMany.bind(inner)),
    get: timed('get', inner.get.bind(inner)),
    delete: timed('delete', inner.delete.bind(inner)),
    count: timed('count', inner.count.bind(inner)),
    flush: timed('flush', inner.flush.bind(inner)),
    close: () => inner.close(),
  };
}
