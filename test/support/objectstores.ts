/**
 * Real object store protocol servers on loopback for the sync tests: s3rver (S3 REST API) and
 * Azurite (Azure's own Blob emulator). Each gets a free port and a temp directory and is stopped
 * at cleanup. There is no GCS emulator on npm; GCS is covered by unit tests only.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
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

export async function startS3(bucket = 'pyairtable-backups'): Promise<S3Server> {
  const dir = tempDir('pgops-s3-');
  const port = await freePort();
  // s3rver ships no type declarations; the little we use is typed here.
  const moduleName = 's3rver';
  const S3rver = (await import(moduleName)).default as new (opts: Record<string, unknown>) => {
    run(): Promise<unknown>;
    close(): Promise<void>;
  };
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

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline)
          reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
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
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
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
    await waitForPort(port, 30_000);
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
