/**
 * A stand-in for the Kubernetes API server on loopback (no cluster can run here): plain HTTP routes
 * the test defines, and the exec subresource over WebSocket as kube-apiserver speaks it
 * (channel.k8s.io sub-protocols: one byte of stream number, then data; the exit status as a Status
 * object on stream 3). An exec can also be refused (403 before the upgrade), dropped (the socket
 * closes without a status) or left hanging. Every request is recorded.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { onCleanup } from './cleanup.js';
import { writeKubeconfig } from './kubeconfig.js';

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

export type ExecAnswer =
  | { stdout?: string; stderr?: string; exitCode: number }
  /** Refuse the upgrade with this HTTP status, as RBAC does (403). */
  | { refuse: number; message: string }
  /** Send this much output, then close the connection without an exit status. */
  | { drop: true; stdout?: string }
  /** Accept and never answer. */
  | { hang: true };

export type Route = (
  req: IncomingMessage & { body: string; path: string; query: URLSearchParams },
  res: ServerResponse,
) => unknown;

export interface StandInApi {
  url: string;
  kubeconfig: string;
  requests: string[];
  /** Routes by "METHOD /path" (exact) or a function tried in order; first match answers. */
  route(match: string | RegExp, handler: Route, method?: string): void;
  onExec(handler: (r: ExecRequest) => ExecAnswer | Promise<ExecAnswer>): void;
}

export function sendJson(res: ServerResponse, body: unknown, code = 200): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }, code);
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : Buffer.concat([
            Buffer.from([0x80 | opcode, 127]),
            Buffer.from(BigInt(len).toString(16).padStart(16, '0'), 'hex'),
          ]);
  return Buffer.concat([head, payload]);
}

const channel = (n: number, data: string) => frame(0x2, Buffer.concat([Buffer.from([n]), Buffer.from(data)]));

export async function startStandInApi(namespace = 'pyairtable'): Promise<StandInApi> {
  const routes: { match: string | RegExp; method?: string; handler: Route }[] = [];
  const requests: string[] = [];
  let execHandler: (r: ExecRequest) => ExecAnswer | Promise<ExecAnswer> = () => ({ exitCode: 0 });
  const open = new Set<Duplex>();

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}`);
      const r = Object.assign(req, { body, path: url.pathname, query: url.searchParams });
      for (const route of routes) {
        if (route.method && route.method !== req.method) continue;
        const hit =
          typeof route.match === 'string' ? route.match === url.pathname : route.match.test(url.pathname);
        if (hit) return route.handler(r, res);
      }
      sendStatus(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    });
  });

  server.on('upgrade', async (req: IncomingMessage, socket: Duplex) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`EXEC ${url.pathname}`);
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const answer = await execHandler({
      namespace: m[1]!,
      pod: m[2]!,
      container: url.searchParams.get('container') ?? '',
      command: url.searchParams.getAll('command'),
    });
    if ('refuse' in answer) {
      const body = JSON.stringify({
        kind: 'Status',
        status: 'Failure',
        reason: 'Forbidden',
        message: answer.message,
        code: answer.refuse,
      });
      socket.end(
        `HTTP/1.1 ${answer.refuse} Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const protocol = offered.includes('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : offered[0];
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
    if ('hang' in answer) return;
    if ('drop' in answer) {
      if (answer.drop && 'stdout' in answer && answer.stdout) socket.write(channel(1, answer.stdout));
      setTimeout(() => socket.destroy(), 20);
      return;
    }
    if (answer.stdout) socket.write(channel(1, answer.stdout));
    if (answer.stderr) socket.write(channel(2, answer.stderr));
    const status =
      answer.exitCode === 0
        ? { metadata: {}, status: 'Success' }
        : {
            metadata: {},
            status: 'Failure',
            message: `command terminated with non-zero exit code: ${answer.exitCode}`,
            reason: 'NonZeroExitCode',
            details: { causes: [{ reason: 'ExitCode', message: String(answer.exitCode) }] },
          };
    socket.write(channel(3, JSON.stringify(status)));
    const close = Buffer.alloc(2);
    close.writeUInt16BE(1000);
    socket.end(frame(0x8, close));
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  onCleanup(
    'stop the stand-in API server',
    () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    kubeconfig: writeKubeconfig(url, { namespace, insecureSkipTlsVerify: true }),
    requests,
    route(match, handler, method) {
      routes.push({ match, handler, method });
    },
    onExec(handler) {
      execHandler = handler;
    },
  };
}

/**
 * The release's members StatefulSet as `KubeCluster.connect` finds it (listed by the chart's labels)
 * and as it is read by name; `replicas` is read on every request, so a test can change it.
 */
export function serveMembersStatefulSet(
  api: StandInApi,
  opts: { namespace: string; release?: string; replicas?: () => number },
): void {
  const release = opts.release ?? 'pyairtable-stack';
  const name = `${release}-postgres`;
  const statefulSet = () => ({
    kind: 'StatefulSet',
    metadata: {
      name,
      labels: { 'app.kubernetes.io/instance': release, 'app.kubernetes.io/component': 'postgres-primary' },
    },
    spec: { replicas: opts.replicas?.() ?? 1 },
  });
  const base = `/apis/apps/v1/namespaces/${opts.namespace}/statefulsets`;
  api.route(base, (_req, res) =>
    sendJson(res, { kind: 'StatefulSetList', metadata: {}, items: [statefulSet()] }),
  );
  api.route(`${base}/${name}`, (_req, res) => sendJson(res, statefulSet()), 'GET');
}
