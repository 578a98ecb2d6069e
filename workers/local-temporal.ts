// Where the demo's own Temporal dev server listens: the port of TEMPORAL_ADDRESS
// and TEMPORAL_UI_PORT, so the address the worker dials, the server started and
// the Web UI link printed cannot disagree.
import { ConfigError, type Config } from '../core/config';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

export interface LocalDevServer {
  /** Environment for `infra/local/stack.sh up temporal`. */
  stackEnv: { TEMPORAL_PORT: string; TEMPORAL_UI_PORT: string };
}

/** The dev server to start when nothing answers on TEMPORAL_ADDRESS; a remote address is a configuration error. */
export function localDevServer(config: Config): LocalDevServer {
  const [host, port] = splitAddress(config.TEMPORAL_ADDRESS);
  if (!LOCAL_HOSTS.has(host)) {
    throw new ConfigError([
      {
        variable: 'TEMPORAL_ADDRESS',
        message: `nothing answers on ${config.TEMPORAL_ADDRESS}, and a local dev server can only be started on 127.0.0.1; start Temporal there or point TEMPORAL_ADDRESS at 127.0.0.1:<port>`,
      },
    ]);
  }
  if (port === config.TEMPORAL_UI_PORT) {
    throw new ConfigError([
      { variable: 'TEMPORAL_UI_PORT', message: `${port} is the frontend port of TEMPORAL_ADDRESS too; choose another` },
    ]);
  }
  return { stackEnv: { TEMPORAL_PORT: String(port), TEMPORAL_UI_PORT: String(config.TEMPORAL_UI_PORT) } };
}

/** The Web UI page listing the namespace's workflows, on the host of TEMPORAL_ADDRESS. */
export function temporalWebUiUrl(config: Config): string {
  const [host] = splitAddress(config.TEMPORAL_ADDRESS);
  return `http://${host}:${config.TEMPORAL_UI_PORT}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`;
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}
