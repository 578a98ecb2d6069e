// Binding a server's port. A port that cannot be bound is a configuration
// problem: start-up stops naming the variable that chose it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../core/config';

export interface ListenOptions {
  port: number;
  host: string;
  /** The environment variable that chose the port, named when it cannot be bound. */
  variable: string;
}

/** Resolves with the bound port (the chosen one when port is 0). */
export function listen(server: Server, options: ListenOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const reason =
        error.code === 'EADDRINUSE'
          ? `port ${options.port} on ${options.host} is in use; set ${options.variable} to a free port (0 picks one)`
          : error.code === 'EACCES'
            ? `not allowed to listen on port ${options.port} on ${options.host}; set ${options.variable} to a port above 1023`
            : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
              ? `cannot listen on ${options.host}:${options.port} (${error.code}); check QP_LISTEN_HOST`
              : undefined;
      reject(reason ? new ConfigError([{ variable: options.variable, message: reason }]) : error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options.port, options.host);
  });
}

/**
 * Stops accepting connections, lets in-flight requests finish for up to
 * graceMs, then cuts what is left. Idle keep-alive connections close at once.
 */
export function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close((error) => {
      clearTimeout(cut);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
