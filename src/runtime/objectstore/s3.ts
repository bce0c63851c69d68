/**
 * S3 and S3-compatible stores. Multipart through lib-storage's Upload; path-style addressing and
 * checksums only when required for custom endpoints (many S3-compatible servers reject the SDK's
 * newer streaming checksums); on AWS itself every part carries a SHA-256 checksum S3 verifies.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { classifyStoreFailure } from '../../core/sync/errors.js';
import type { ObjectStore, StoreConfig } from './types.js';

export function s3Store(cfg: StoreConfig): ObjectStore {
  // The SDK warns on each run that its releases after early 2027 need Node 22: an upgrade for
  // this project to plan (package.json engines), not something the person restoring can act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const env = cfg.env;
  const conf: S3ClientConfig = {
    region: cfg.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    maxAttempts: 1, // retries are ours (reliableStore), with one policy for every provider
  };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    conf.credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  if (cfg.endpoint) {
    conf.endpoint = cfg.endpoint;
    conf.forcePathStyle = true;
    conf.requestChecksumCalculation = 'WHEN_REQUIRED';
    conf.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  const client = new S3Client(conf);
  const Bucket = cfg.bucket;
  return {
    provider: 's3',
    bucket: Bucket,
    async head(key) {
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return {
          size: h.ContentLength ?? 0,
          sha256: h.Metadata?.sha256,
          etag: h.ETag,
          lastModified: h.LastModified,
        };
      } catch (err) {
        if (classifyStoreFailure(err) === 'not-found') return null;
        throw err;
      }
    },
    async put(key, file, { sha256, md5 }) {
      const upload = new Upload({
        client,
        queueSize: 2,
        partSize: 16 * 1024 * 1024,
        leavePartsOnError: false,
        params: {
          Bucket,
          Key: key,
          Body: createReadStream(file),
          Metadata: { sha256 },
          ...(cfg.endpoint ? {} : { ChecksumAlgorithm: 'SHA256' as const }),
        },
      });
      const res = await upload.done();
      // A single-part upload's ETag is the MD5 of the content: compare where it applies.
      const etag = (res as { ETag?: string }).ETag?.replace(/"/g, '');
      if (etag && !etag.includes('-') && etag !== md5.toString('hex')) {
        throw Object.assign(new Error(`uploaded object's ETag ${etag} does not match the file's MD5`), {
          name: 'ChecksumMismatch',
        });
      }
    },
    async get(key, file) {
      const res = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      await pipeline(res.Body as Readable, createWriteStream(file, { mode: 0o600 }));
    },
    async list(prefix) {
      const out: { key: string; size: number; lastModified?: Date }[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? [])
          if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
  };
}
