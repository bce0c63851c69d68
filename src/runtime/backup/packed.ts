/**
 * Packing a directory-format dump into one file (a ustar archive, see src/core/backup/tar.ts) and
 * unpacking it for pg_restore. Packing hashes every byte it writes, so the archive's sha256 comes
 * from the same pass that writes it; unpacking hashes every byte it reads, so a restore checks the
 * checksum and unpacks in one read.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  isDumpDirectoryMember,
  parseTarHeader,
  TAR_BLOCK,
  TAR_END_BYTES,
  tarHeader,
  tarPadding,
  tocArchiveFormat,
} from '../../core/backup/tar.js';
import { pidAlive } from '../pid.js';

const CHUNK = 1 << 20;
const ZEROS = new Uint8Array(TAR_END_BYTES);

/** Writes members into a new archive (never an existing file), hashing every byte written. */
export class TarPacker {
  private fh: FileHandle | undefined;
  private readonly hash = createHash('sha256');
  private written = 0;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  readonly members: { name: string; size: number }[] = [];

  private constructor(readonly path: string) {}

  static async create(path: string): Promise<TarPacker> {
    const p = new TarPacker(path);
    p.fh = await open(path, 'wx', 0o644);
    return p;
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.written;
  }

  private async write(data: Uint8Array): Promise<void> {
    this.hash.update(data);
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh!.write(data, off, data.length - off);
      off += bytesWritten;
    }
    this.written += data.length;
  }

  /** Appends the complete file `source` as member `name`. */
  async add(source: string, name: string): Promise<void> {
    const src = await open(source, 'r');
    try {
      const st = await src.stat();
      await this.write(tarHeader(name, st.size, st.mtimeMs / 1000));
      let done = 0;
      for (;;) {
        const { bytesRead } = await src.read(this.buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        done += bytesRead;
        if (done > st.size) break;
        await this.write(this.buf.subarray(0, bytesRead));
      }
      if (done !== st.size)
        throw new Error(`${source} changed while it was packed (${done} bytes read, ${st.size} expected)`);
      const pad = tarPadding(st.size);
      if (pad) await this.write(ZEROS.subarray(0, pad));
      this.members.push({ name, size: st.size });
    } finally {
      await src.close();
    }
  }

  /** Ends the archive, flushes it to disk and closes it. */
  async finish(): Promise<{ sha256: string; bytes: number }> {
    await this.write(ZEROS);
    await this.fh!.sync();
    await this.fh!.close();
    this.fh = undefined;
    return { sha256: this.hash.digest('hex'), bytes: this.written };
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }
}

export interface UnpackResult {
  sha256: string;
  bytes: number;
  members: { name: string; size: number }[];
}

export class DamagedArchive extends Error {}

/**
 * Reads the whole archive once: hashes every byte, checks its structure (headers, sizes, the end
 * marker, nothing but zeros after it) and writes the members `want` accepts into `dest`. Member
 * names must be the files of a dump directory: nothing is ever written outside `dest`.
 */
export async function unpackDump(
  file: string,
  dest: string | undefined,
  want: (name: string) => boolean = () => true,
): Promise<UnpackResult> {
  const fh = await open(file, 'r');
  const hash = createHash('sha256');
  const members: { name: string; size: number }[] = [];
  const buf = Buffer.allocUnsafe(CHUNK);
  let bytes = 0;
  let header = Buffer.alloc(0);
  let out: FileHandle | undefined;
  let left = 0; // data bytes of the current member still to come
  let pad = 0; // padding after it
  let ended = false;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      bytes += bytesRead;
      let at = 0;
      while (at < chunk.length) {
        if (ended) {
          if (chunk.subarray(at).some((b) => b !== 0))
            throw new DamagedArchive('data after the end of the archive');
          break;
        }
        if (left > 0) {
          const n = Math.min(left, chunk.length - at);
          if (out) await out.write(chunk, at, n);
          left -= n;
          at += n;
          if (left === 0 && out) {
            await out.close();
            out = undefined;
          }
          continue;
        }
        if (pad > 0) {
          const n = Math.min(pad, chunk.length - at);
          pad -= n;
          at += n;
          continue;
        }
        const need = TAR_BLOCK - header.length;
        header = Buffer.concat([header, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (header.length < TAR_BLOCK) continue;
        const h = parseTarHeader(header);
        header = Buffer.alloc(0);
        if (h.kind === 'bad') throw new DamagedArchive(h.reason);
        if (h.kind === 'end') {
          ended = true;
          continue;
        }
        if (h.kind === 'other') {
          // A directory entry of a hand-made archive ("./"); anything else is not a dump's file.
          if (h.type !== '5') throw new DamagedArchive(`member ${h.name} is not a regular file`);
          continue;
        }
        const name = h.name.replace(/^[^/]*\//, '');
        if (!isDumpDirectoryMember(name) || name.includes('/'))
          throw new DamagedArchive(`member "${h.name.slice(0, 100)}" is not a file of a pg_dump directory`);
        members.push({ name, size: h.size });
        left = h.size;
        pad = tarPadding(h.size);
        if (dest && want(name)) {
          out = await open(join(dest, name), 'wx', 0o600);
          if (left === 0) {
            await out.close();
            out = undefined;
          }
        }
      }
    }
    if (!ended || left > 0 || header.length > 0)
      throw new DamagedArchive('the archive is truncated (no end marker)');
    return { sha256: hash.digest('hex'), bytes, members };
  } finally {
    await out?.close().catch(() => undefined);
    await fh.close();
  }
}

/**
 * The pg_dump format a tar file holds: `tar` for pg_dump -Ft (it always writes restore.sql beside
 * toc.dat), `directory` for a packed directory-format dump (both write "tar" into toc.dat's header).
 */
export async function tarArchiveFormat(file: string): Promise<'tar' | 'directory' | undefined> {
  const fh = await open(file, 'r');
  try {
    const block = Buffer.alloc(TAR_BLOCK);
    let pos = 0;
    let toc = false;
    // Walks the headers only, seeking over the data.
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, TAR_BLOCK, pos);
      const h = parseTarHeader(block.subarray(0, bytesRead));
      if (h.kind === 'bad') return undefined;
      if (h.kind === 'end') break;
      const name = h.name.replace(/^[^/]*\//, '');
      if (h.kind === 'file' && name === 'restore.sql') return 'tar';
      if (h.kind === 'file' && name === 'toc.dat') {
        const head = Buffer.alloc(16);
        const r = await fh.read(head, 0, 16, pos + TAR_BLOCK);
        toc = tocArchiveFormat(head.subarray(0, r.bytesRead)) !== undefined;
      }
      pos += TAR_BLOCK + h.size + tarPadding(h.size);
    }
    return toc ? 'directory' : undefined;
  } finally {
    await fh.close();
  }
}

const UNPACK_PREFIX = '.pgops-unpack-';

/**
 * A private directory for unpacking, in `parent` (the backup volume: an unpacked dump is as large
 * as the backup, too large for a memory-backed /tmp). Directories left by a process that no longer
 * runs (SIGKILL) are removed first. Hidden and not named *.partial: never listed, never taken for
 * a running backup's files.
 */
export function unpackDir(parent: string): { dir: string; remove: () => void } {
  mkdirSync(parent, { recursive: true });
  try {
    for (const n of readdirSync(parent)) {
      const m = new RegExp(`^${UNPACK_PREFIX.replace('.', '\\.')}(\\d+)-`).exec(n);
      if (m && !pidAlive(Number(m[1]))) rmSync(join(parent, n), { recursive: true, force: true });
    }
  } catch {
    /* best effort */
  }
  const dir = mkdtempSync(join(parent, `${UNPACK_PREFIX}${process.pid}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
