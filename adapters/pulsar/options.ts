// From the configuration's endpoints to adapter options. The WebSocket API is
// served on the broker's web service port (the admin port), not on the binary
// protocol port, so a pulsar:// service URL alone is not enough for it.
import { PulsarError } from './errors';
import type { PulsarMessagingOptions } from './messaging';

export interface PulsarEndpoints {
  /** pulsar://host:6650 (native transport), or ws(s)://, http(s):// of the web service. */
  serviceUrl: string;
  /** http(s)://host:port of the web service. */
  adminUrl?: string;
  authToken?: string;
  tenant?: string;
  replicationClusters?: string[];
}

export function pulsarOptions(endpoints: PulsarEndpoints): PulsarMessagingOptions {
  const service = new URL(endpoints.serviceUrl);
  let web: URL;
  if (endpoints.adminUrl) {
    web = new URL(endpoints.adminUrl);
  } else if (['ws:', 'wss:', 'http:', 'https:'].includes(service.protocol)) {
    web = new URL(service.href);
    web.protocol = service.protocol === 'wss:' || service.protocol === 'https:' ? 'https:' : 'http:';
  } else {
    throw new PulsarError(
      'INVALID_ARGUMENT',
      `PULSAR_ADMIN_URL is required with PULSAR_SERVICE_URL=${endpoints.serviceUrl}: the WebSocket API is served by the web service`,
    );
  }
  const ws = new URL(['ws:', 'wss:'].includes(service.protocol) ? service.href : web.href);
  if (ws.protocol === 'http:') ws.protocol = 'ws:';
  if (ws.protocol === 'https:') ws.protocol = 'wss:';
  return {
    webSocketUrl: `${ws.protocol}//${ws.host}`,
    adminUrl: `${web.protocol}//${web.host}`,
    authToken: endpoints.authToken,
    tenant: endpoints.tenant,
    policies: endpoints.replicationClusters?.length ? { replicationClusters: endpoints.replicationClusters } : undefined,
  };
}
