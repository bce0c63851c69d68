/**
 * The one-file form of a parallel (directory-format) dump: pg_dump's directory packed as a plain
 * ustar archive, so that a backup is one file to checksum, list, prune, copy off-site and restore,
 * whatever its format. `tar -xf NAME.dump -C dir && pg_restore -d DB -j 4 dir` works by hand too.
 * Only the header arithmetic lives here; reading and writing files is in src/runtime/backup/packed.ts.
 */
export const TAR_BLOCK = 512;
/** Two zero blocks end an archive. */
export const TAR_END_BYTES = 2 * TAR_BLOCK;

/** Largest size the 11 octal digits of a ustar header hold; larger sizes use base-256 (GNU, bsdtar). */
const OCTAL_SIZE_MAX = 0o77777777777;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The files pg_dump writes into a directory-format dump: the only member names we pack or unpack. */
const MEMBER_RE =
  /^(toc\.dat|blobs(_\d+)?\.toc|\d+\.dat(\.gz|\.lz4|\.zst)?|blob_\d+\.dat(\.gz|\.lz4|\.zst)?)$/;

export function isDumpDirectoryMember(name: string): boolean {
  return MEMBER_RE.test(name);
}

function writeOctal(buf: Uint8Array, at: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, '0');
  buf.set(enc.encode(s), at);
  buf[at + width - 1] = 0;
}

function writeSize(buf: Uint8Array, size: number): void {
  if (size <= OCTAL_SIZE_MAX) return writeOctal(buf, 124, 12, size);
  // Base-256: high bit of the first byte set, the value big-endian in the remaining 11 bytes.
  let v = BigInt(size);
  for (let i = 135; i > 124; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[124] = 0x80;
}

function checksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** The 512-byte ustar header of a regular file `name` (a basename, at most 100 bytes). */
export function tarHeader(name: string, size: number, mtimeSeconds: number): Uint8Array {
  const nameBytes = enc.encode(name);
  if (nameBytes.length === 0 || nameBytes.length > 100 || name.includes('/'))
    throw new Error(`cannot pack "${name}": not a short basename`);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`cannot pack "${name}": bad size ${size}`);
  const h = new Uint8Array(TAR_BLOCK);
  h.set(nameBytes, 0);
  writeOctal(h, 100, 8, 0o600);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeSize(h, size);
  writeOctal(h, 136, 12, Math.max(0, Math.floor(mtimeSeconds)));
  h[156] = 0x30; // '0': regular file
  h.set(enc.encode('ustar\u0000'), 257);
  h.set(enc.encode('00'), 263);
  const sum = checksum(h);
  h.set(enc.encode(sum.toString(8).padStart(6, '0')), 148);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** Zero bytes that pad a member of `size` bytes to a whole block. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

function readString(block: Uint8Array, at: number, width: number): string {
  const slice = block.subarray(at, at + width);
  const end = slice.indexOf(0);
  return dec.decode(end >= 0 ? slice.subarray(0, end) : slice);
}

function readNumber(block: Uint8Array, at: number, width: number): number | undefined {
  if (block[at]! & 0x80) {
    let v = BigInt(block[at]! & 0x7f);
    for (let i = at + 1; i < at + width; i++) v = (v << 8n) | BigInt(block[i]!);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  }
  const s = readString(block, at, width).trim();
  if (s === '') return 0;
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : undefined;
}

export type TarHeader =
  | { kind: 'end' }
  | { kind: 'file'; name: string; size: number }
  | { kind: 'other'; name: string; size: number; type: string }
  | { kind: 'bad'; reason: string };

/** Reads one header block: a regular file, something else (a directory entry), the end, or damage. */
export function parseTarHeader(block: Uint8Array): TarHeader {
  if (block.length < TAR_BLOCK) return { kind: 'bad', reason: 'the archive ends inside a header' };
  if (block.every((b) => b === 0)) return { kind: 'end' };
  const stored = readNumber(block, 148, 8);
  if (stored === undefined || stored !== checksum(block))
    return { kind: 'bad', reason: 'a header checksum does not match (damaged archive)' };
  const size = readNumber(block, 124, 12);
  if (size === undefined) return { kind: 'bad', reason: 'a header has an unreadable size' };
  const prefix = readString(block, 345, 155);
  const base = readString(block, 0, 100);
  // Hand-made archives of a dump directory name members ./toc.dat or dir/toc.dat.
  const name = (prefix ? `${prefix}/${base}` : base).replace(/^(\.\/)+/, '');
  const type = String.fromCharCode(block[156] || 0x30);
  if (type === '0' || type === '\0') return { kind: 'file', name, size };
  return { kind: 'other', name, size, type };
}

/** The byte of pg_dump's archive header that says which format wrote it (after "PGDMP", version, sizes). */
const FORMAT_BYTE = 10;
/** archCustom 1, archTar 3 (pg_dump -Ft, and also what directory format writes into toc.dat). */
const ARCHIVE_FORMATS: Record<number, 'custom' | 'tar'> = { 1: 'custom', 3: 'tar' };

/** Which pg_dump archive header a `toc.dat` starts with (its first bytes), if it is one at all. */
export function tocArchiveFormat(tocHead: Uint8Array): 'custom' | 'tar' | undefined {
  if (tocHead.length <= FORMAT_BYTE || dec.decode(tocHead.subarray(0, 5)) !== 'PGDMP') return undefined;
  return ARCHIVE_FORMATS[tocHead[FORMAT_BYTE]!];
}

/** pg_restore --list lines of entries whose data is a file of a directory-format dump. */
export function dataEntriesOfToc(listing: string): { id: number; desc: string; tag: string }[] {
  const out: { id: number; desc: string; tag: string }[] = [];
  for (const line of listing.split('\n')) {
    // "3342; 0 16385 TABLE DATA public t postgres" / "3345; 0 0 BLOBS - BLOBS "
    const m = /^(\d+); \d+ \d+ (TABLE DATA|BLOBS) (.*)$/.exec(line);
    if (m) out.push({ id: Number(m[1]), desc: m[2]!, tag: m[3]!.trim() });
  }
  return out;
}

/** Member names of a packed dump that hold an entry's data (compressed or not). */
export function dataMemberNames(entry: { id: number; desc: string }): string[] {
  if (entry.desc === 'BLOBS') return ['blobs.toc', `blobs_${entry.id}.toc`];
  return ['', '.gz', '.lz4', '.zst'].map((s) => `${entry.id}.dat${s}`);
}

/** The data entries of a `pg_restore --list` listing that no member of the packed dump holds. */
export function dataEntriesMissing(
  listing: string,
  members: readonly { name: string }[],
): { id: number; desc: string; tag: string }[] {
  const packed = new Set(members.map((m) => m.name));
  return dataEntriesOfToc(listing).filter((e) => !dataMemberNames(e).some((n) => packed.has(n)));
}
