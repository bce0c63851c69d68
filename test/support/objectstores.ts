/**
 * Real object store protocol servers on loopback for the sync tests: s3rver (S3 REST API) and
 * Azurite (Azure's own Blob emulator), and for GCS a minimal JSON API server below (no GCS
 * emulator is available from npm). Each gets a free port and is stopped at cleanup.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';
import { repoRoot } from './tools.js';

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** s3rver checks the access key id (not the SigV4 signature): a wrong id is refused with 403. */
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
  dir: string;
}

/**
 * s3rver over HTTPS with a self-signed certificate made here (openssl), as pgBackRest 2.45 needs
 * (it speaks HTTPS only to object stores): endpoint https://127.0.0.1:PORT; stop() and start()
 * take it down and bring it back on the same port and data, to play a repository outage.
 */
export async function startS3Https(
  bucket = 'pyairtable-backups',
): Promise<S3Server & { stop(): Promise<void>; start(): Promise<void> }> {
  const dir = tempDir('pgops-s3-');
  const certDir = tempDir('pgops-s3-cert-');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const { default: S3rver } = await import('s3rver');
  let server: InstanceType<typeof S3rver> | undefined;
  const start = async () => {
    server = new S3rver({
      port,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      key: readFileSync(join(certDir, 'key.pem')),
      cert: readFileSync(join(certDir, 'cert.pem')),
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    await server.run();
  };
  const stop = async () => {
    await server?.close();
    server = undefined;
  };
  await start();
  onCleanup(`stop s3rver ${port}`, stop);
  return {
    endpoint: `https://127.0.0.1:${port}`,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
    dir,
    stop,
    start,
  };
}

export async function startS3(bucket = 'pyairtable-backups'): Promise<S3Server> {
  const dir = tempDir('pgops-s3-');
  const port = await freePort();
  const { default: S3rver } = await import('s3rver');
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  await server.run();
  onCleanup(`stop s3rver ${port}`, () => server.close());
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
    dir,
  };
}

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzureServer {
  endpoint: string;
  connectionString: string;
  container: string;
}

/** Whether something accepts a TCP connection on 127.0.0.1:port now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export async function startAzurite(container = 'pyairtable-backups'): Promise<AzureServer> {
  const dir = tempDir('pgops-azurite-');
  const port = await freePort();
  const main = join(repoRoot, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dir,
      '--silent',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--loose',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  onCleanup(
    `stop azurite ${port}`,
    async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
    () => child.kill('SIGKILL'),
  );
  try {
    await eventually(`something listens on 127.0.0.1:${port}`, () => listening(port), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
  } catch (err) {
    throw new Error(`azurite did not start: ${String(err)}\n${stderr}`);
  }
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
  const { BlobServiceClient } = await import('@azure/storage-blob');
  await BlobServiceClient.fromConnectionString(connectionString)
    .getContainerClient(container)
    .createIfNotExists();
  return { endpoint, connectionString, container };
}

export interface GcsServer {
  endpoint: string;
  bucket: string;
  /** Requests seen, "METHOD path", for tests that count uploads. */
  requests: string[];
  /** Buckets the server answers with 403, as GCS does for a caller without access. */
  forbiddenBucket: string;
}

interface GcsObject {
  data: Buffer;
  metadata: Record<string, string>;
  updated: string;
  generation: number;
}

/**
 * A minimal server for the objects part of the GCS JSON API (resumable upload, metadata, media
 * download with x-goog-hash, list, delete), written for these tests because no GCS emulator is
 * available from npm. It follows the documented protocol; it checks no credentials (the SDK sends
 * none to a custom endpoint), so access errors are simulated by one bucket that always answers 403.
 */
export async function startFakeGcs(bucket = 'pyairtable-backups'): Promise<GcsServer> {
  const { createServer } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const { CRC32C } = await import('@google-cloud/storage');
  const crc32c = (data: Buffer) => {
    const c = new CRC32C();
    c.update(data);
    return c.toString();
  };
  const objects = new Map<string, GcsObject>();
  const sessions = new Map<string, { name: string; metadata: Record<string, string>; chunks: Buffer[] }>();
  const requests: string[] = [];
  const forbiddenBucket = 'forbidden-bucket';
  let generation = 1;
  const resource = (name: string, o: GcsObject) => ({
    kind: 'storage#object',
    bucket,
    name,
    id: `${bucket}/${name}/${o.generation}`,
    generation: String(o.generation),
    size: String(o.data.length),
    md5Hash: createHash('md5').update(o.data).digest('base64'),
    crc32c: crc32c(o.data),
    etag: `${o.generation}`,
    updated: o.updated,
    metadata: o.metadata,
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}`);
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      const error = (status: number, message: string) =>
        json(status, { error: { code: status, message, errors: [{ message }] } });
      const m = /^\/(?:upload\/)?storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
      if (url.pathname === '/upload-session' && req.method === 'PUT') {
        const s = sessions.get(url.searchParams.get('id') ?? '');
        if (!s) return error(404, 'no such upload session');
        s.chunks.push(Buffer.concat(chunks));
        const range = String(req.headers['content-range'] ?? '');
        const total = /\/(\d+)$/.exec(range);
        const have = s.chunks.reduce((n, c) => n + c.length, 0);
        // A request without a known total ("bytes 0-*/*") carries the whole object: it ends the upload.
        if (!total || have >= Number(total[1])) {
          const o = {
            data: Buffer.concat(s.chunks),
            metadata: s.metadata,
            updated: new Date().toISOString(),
            generation: generation++,
          };
          objects.set(s.name, o);
          sessions.delete(url.searchParams.get('id') ?? '');
          return json(200, resource(s.name, o));
        }
        res.writeHead(308, have > 0 ? { range: `bytes=0-${have - 1}` } : {});
        return res.end();
      }
      if (!m) return error(404, `unknown path ${url.pathname}`);
      const b = decodeURIComponent(m[1]!);
      if (b === forbiddenBucket)
        return error(403, 'caller does not have storage.objects access to the Google Cloud Storage bucket');
      if (b !== bucket) return error(404, 'The specified bucket does not exist.');
      const name = m[2] ? decodeURIComponent(m[2]) : undefined;
      if (
        req.method === 'POST' &&
        url.pathname.startsWith('/upload/') &&
        url.searchParams.get('uploadType') === 'resumable'
      ) {
        const body = chunks.length
          ? (JSON.parse(Buffer.concat(chunks).toString()) as { metadata?: Record<string, string> })
          : {};
        const id = String(Math.random()).slice(2);
        sessions.set(id, {
          name: url.searchParams.get('name') ?? '',
          metadata: body.metadata ?? {},
          chunks: [],
        });
        res.writeHead(200, { location: `http://${req.headers.host}/upload-session?id=${id}` });
        return res.end();
      }
      if (req.method === 'GET' && name === undefined) {
        const prefix = url.searchParams.get('prefix') ?? '';
        const items = [...objects.entries()]
          .filter(([k]) => k.startsWith(prefix))
          .sort(([a], [c]) => a.localeCompare(c));
        return json(200, { kind: 'storage#objects', items: items.map(([k, o]) => resource(k, o)) });
      }
      const o = name !== undefined ? objects.get(name) : undefined;
      if (!o || name === undefined) return error(404, `No such object: ${bucket}/${name ?? ''}`);
      if (req.method === 'DELETE') {
        objects.delete(name);
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'GET' && url.searchParams.get('alt') === 'media') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(o.data.length),
          'x-goog-hash': `crc32c=${crc32c(o.data)},md5=${createHash('md5').update(o.data).digest('base64')}`,
          'x-goog-stored-content-encoding': 'identity',
        });
        return res.end(o.data);
      }
      if (req.method === 'GET') return json(200, resource(name, o));
      return error(405, 'method not allowed');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  onCleanup(
    `stop fake gcs ${port}`,
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    () => server.close(),
  );
  return { endpoint: `http://127.0.0.1:${port}`, bucket, requests, forbiddenBucket };
}
