/**
 * Probe endpoints for the kubelet and a status document for people:
 *   GET /healthz/startup  200 once PostgreSQL has accepted connections
 *   GET /healthz/ready    accepting; on a replica also streaming and within PGOPS_MAX_LAG_BYTES
 *   GET /healthz/live     agent loop and postmaster alive (a full disk counts as alive)
 *   GET /status           role, timeline, lsn, lag
 * Every answer is JSON with the reasons.
 */
import type { AgentStatus } from '../../core/instance/status-document.js';
import { createServer, type Server } from 'node:http';
import {
  livenessProbe,
  readinessProbe,
  startupProbe,
  type HealthSnapshot,
  type ProbeAnswer,
} from '../../core/instance/health.js';

/** The host to listen on for PGOPS_HEALTH_ADDRESS: `*` is every interface. */
export function healthListenHost(address: string | undefined): string | undefined {
  return !address || address === '*' ? undefined : address;
}

export function startHealthServer(
  port: number,
  snapshot: () => HealthSnapshot,
  maxLagBytes: number,
  address?: string,
): Promise<Server> {
  const server = createServer((req, res) => {
    const s = snapshot();
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body) + '\n');
    };
    const probe = (a: ProbeAnswer) =>
      send(a.ok ? 200 : 503, { ok: a.ok, reasons: a.reasons, phase: s.phase });
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'only GET' });
    switch (path) {
      case '/healthz/startup':
        return probe(startupProbe(s));
      case '/healthz/ready':
        return probe(readinessProbe(s, maxLagBytes));
      case '/healthz/live':
        return probe(livenessProbe(s, Date.now()));
      case '/status': {
        const status: AgentStatus = {
          role: s.inRecovery === undefined ? null : s.inRecovery ? 'replica' : 'primary',
          phase: s.phase,
          ready: readinessProbe(s, maxLagBytes).ok,
          timeline: s.timeline ?? null,
          lsn: s.lsn ?? null,
          lagBytes: s.lagBytes ?? null,
          walReceiver: s.walReceiverStatus ?? null,
          upstream: s.upstream ?? null,
          diskUsedPercent: s.diskUsedPercent ?? null,
          reason: s.reason ?? null,
        };
        return send(200, status);
      }
      default:
        return send(404, { error: `no such endpoint ${path}` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, healthListenHost(address), () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
