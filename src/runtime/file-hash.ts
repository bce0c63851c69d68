/**
 * The one way a file is hashed: a single streaming read (1 MiB chunks), never the whole file in
 * memory. What is hashed while it is being written or unpacked (dump.ts, packed.ts) is hashed on
 * the way instead.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileHash {
  /** sha256, hex: what manifests record. */
  sha256: string;
  bytes: number;
}

/** sha256 of a file; with `md5` also its md5 (raw), which object stores check an upload against. */
export async function hashFile(path: string): Promise<FileHash>;
export async function hashFile(path: string, opts: { md5: true }): Promise<FileHash & { md5: Buffer }>;
export async function hashFile(path: string, opts?: { md5: true }): Promise<FileHash & { md5?: Buffer }> {
  const sha = createHash('sha256');
  const md5 = opts?.md5 ? createHash('md5') : undefined;
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    sha.update(chunk as Buffer);
    md5?.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: sha.digest('hex'), bytes, ...(md5 ? { md5: md5.digest() } : {}) };
}
