/**
 * Patroni's REST API, as the agent and local mode use it. Reads are open; POST/PATCH carry the
 * API's basic-auth credentials. Every answer keeps its HTTP status: Patroni (and patronictl, which
 * exits 0 on a refused switchover) says "no" through the status code and a text body.
 */
import { request } from 'node:http';
import type { z } from 'zod';
import {
  type PatroniCluster,
  type PatroniMember,
  type PatroniSelf,
  patroniClusterSchema,
  patroniConfigSchema,
  patroniSelfSchema,
} from '../../core/ha/patroni-answers.js';
import type { Credentials } from '../../core/ha/patroni-config.js';
import { describeIssues } from '../../core/parse-issues.js';

export interface ApiAnswer {
  status: number;
  /** Parsed JSON when the body is JSON, else the text; callers parse it with a schema. */
  body: unknown;
}

export type { PatroniCluster, PatroniMember, PatroniSelf };

export class PatroniApi {
  constructor(
    /** http://host:port */
    readonly baseUrl: string,
    private readonly auth?: Credentials,
    private readonly timeoutMs = 5000,
  ) {}

  call(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs) {
    return httpJson(this.baseUrl + path, method, body, method === 'GET' ? undefined : this.auth, timeoutMs);
  }

  async self(): Promise<PatroniSelf> {
    return ok(await this.call('GET', '/patroni'), 'GET /patroni', patroniSelfSchema);
  }

  async cluster(): Promise<PatroniCluster> {
    return ok(await this.call('GET', '/cluster'), 'GET /cluster', patroniClusterSchema);
  }

  async config(): Promise<Record<string, unknown>> {
    return ok(await this.call('GET', '/config'), 'GET /config', patroniConfigSchema);
  }

  async patchConfig(patch: Record<string, unknown>): Promise<Record<string, unknown>> {
    return ok(await this.call('PATCH', '/config', patch), 'PATCH /config', patroniConfigSchema);
  }

  /** 200 or 503 without a body: Patroni's own probe answers. */
  async probe(path: '/liveness' | '/readiness' | '/health'): Promise<number> {
    return (await this.call('GET', path, undefined, Math.min(this.timeoutMs, 3000))).status;
  }
}

function ok<S extends z.ZodType>(a: ApiAnswer, what: string, schema: S): z.output<S> {
  if (a.status < 200 || a.status >= 300 || typeof a.body === 'string')
    throw new Error(`Patroni ${what} answered ${a.status}: ${String(a.body).slice(0, 200)}`);
  const r = schema.safeParse(a.body);
  if (!r.success)
    throw new Error(
      `Patroni ${what} answered in an unexpected shape: ${describeIssues(r.error, '(answer)')}`,
    );
  return r.data;
}

/** One HTTP request with a JSON body; never throws for an HTTP status, only for no answer. */
export function httpJson(
  url: string,
  method: string,
  body: unknown,
  auth: Credentials | undefined,
  timeoutMs: number,
): Promise<ApiAnswer> {
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
        let parsed: unknown = text;
        try {
          if (text.trim().startsWith('{') || text.trim().startsWith('[')) parsed = JSON.parse(text);
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
