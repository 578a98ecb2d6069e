// The standalone worker's HTTP server: liveness, readiness and its metrics.
import { createServer } from 'node:http';
import type { Registry } from 'prom-client';
import { readinessResponse, type Readiness } from '../api/health';
import { closeGracefully, listen } from '../api/listen';

export interface WorkerHttp {
  port: number;
  close(): Promise<void>;
}

export async function startWorkerHttp(options: {
  host: string;
  port: number;
  /** The variable that chose the port, named when it is busy. */
  variable: string;
  registry: Registry;
  readiness: () => Promise<Readiness>;
}): Promise<WorkerHttp> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = async () => {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
      } else if (path === '/readyz') {
        const { status, body } = readinessResponse(await options.readiness());
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': options.registry.contentType }).end(await options.registry.metrics());
      } else {
        res.writeHead(404).end();
      }
    };
    reply().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  const port = await listen(server, { host: options.host, port: options.port, variable: options.variable });
  return { port, close: () => closeGracefully(server, 1_000) };
}
