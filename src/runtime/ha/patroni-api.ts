/**
 * Patroni's REST API, as the agent and local mode use it. Reads are open; POST/PATCH carry the
 * API's basic-auth credentials. Every answer keeps its HTTP status: Patroni (and patronictl, which
 * exits 0 on a refused switchover) says "no" through the status code and a text body.
 */
import { request } from 'node:http';
import type { Credentials } from '../../core/ha/patroni-config.js';

export interface ApiAnswer<T = unknown> {
  status: number;
  /** Parsed JSON when the body is JSON, else the text. */
  body: T | string;
}

export interface PatroniMember {
  name: string;
  /** leader, replica, sync_standby, standby_leader, or a role a later Patroni adds. */
  role: string;
  state: string;
  api_url?: string;
  host?: string;
  port?: number;
  timeline?: number;
  lag?: number | string;
  pending_restart?: boolean;
  tags?: Record<string, unknown>;
}

export interface PatroniCluster {
  members: PatroniMember[];
  pause?: boolean;
  scheduled_switchover?: unknown;
  failover?: unknown;
}

export interface PatroniSelf {
  state: string;
  role: string;
  timeline?: number;
  server_version?: number;
  pending_restart?: boolean;
  tags?: Record<string, unknown>;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
  database_system_identifier?: string;
  patroni?: { version: string; scope: string };
}

export class PatroniApi {
  constructor(
    /** http://host:port */
    readonly baseUrl: string,
    private readonly auth?: Credentials,
    private readonly timeoutMs = 5000,
  ) {}

  call<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs) {
    return httpJson<T>(
      this.baseUrl + path,
      method,
      body,
      method === 'GET' ? undefined : this.auth,
      timeoutMs,
    );
  }

  async self(): Promise<PatroniSelf> {
    return ok(await this.call<PatroniSelf>('GET', '/patroni'), 'GET /patroni');
  }

  async cluster(): Promise<PatroniCluster> {
    return ok(await this.call<PatroniCluster>('GET', '/cluster'), 'GET /cluster');
  }

  async config(): Promise<Record<string, unknown>> {
    return ok(await this.call<Record<string, unknown>>('GET', '/config'), 'GET /config');
  }

  async patchConfig(patch: Record<string, unknown>): Promise<Record<string, unknown>> {
    return ok(await this.call<Record<string, unknown>>('PATCH', '/config', patch), 'PATCH /config');
  }

  /** 200 or 503 without a body: Patroni's own probe answers. */
  async probe(path: '/liveness' | '/readiness' | '/health'): Promise<number> {
    return (await this.call('GET', path, undefined, Math.min(this.timeoutMs, 3000))).status;
  }
}

function ok<T>(a: ApiAnswer<T>, what: string): T {
  if (a.status >= 200 && a.status < 300 && typeof a.body !== 'string') return a.body;
  throw new Error(`Patroni ${what} answered ${a.status}: ${String(a.body).slice(0, 200)}`);
}

/** One HTTP request with a JSON body; never throws for an HTTP status, only for no answer. */
export function httpJson<T>(
  url: string,
  method: string,
  body: unknown,
  auth: Credentials | undefined,
  timeoutMs: number,
): Promise<ApiAnswer<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    if (auth)
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    const req = request(url, { method, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: T | string = text;
        try {
          if (text.trim().startsWith('{') || text.trim().startsWith('[')) parsed = JSON.parse(text) as T;
        } catch {
          parsed = text;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
