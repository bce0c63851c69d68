/**
 * Schema checks for Kubernetes objects, stricter than kubernetes-models' `.validate()`:
 *
 * - Every kind we render or create has a schema: built-in kinds from `kubernetes-models`,
 *   ServiceMonitor/PrometheusRule from `@kubernetes-models/prometheus-operator`, and
 *   VolumeSnapshot/VolumeSnapshotClass (snapshot.storage.k8s.io/v1, no models package exists) from
 *   the JSON schemas below, written from the external-snapshotter CRDs for the fields we use.
 * - Unknown fields are reported. kubernetes-models ships its schemas only as precompiled ajv
 *   validators, which accept any extra property, so we learn each schema's fields from the
 *   validator itself: the object is wrapped in Proxies that record which properties the validator
 *   reads on each node. A compiled `properties` schema reads every property it defines (present or
 *   not); a map (`additionalProperties: <schema>`) enumerates the keys; a free-form object reads
 *   nothing. So on a node where some property was read and the keys were never enumerated, any
 *   other key is a field the schema does not define: the API server rejects it under strict field
 *   validation (kubectl's default) and drops it otherwise, which is how a typo like
 *   `securityContex` silently loses a setting.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Model } from '@kubernetes-models/base';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests and validators are untyped JSON */

/** Schema errors of one object (already walked through the recording Proxies). */
type Validate = (data: any) => string[];

// ---------------------------------------------------------------------------------------------
// snapshot.storage.k8s.io/v1, by hand: only what our chart and snapshot command use, closed
// (`additionalProperties: false`) wherever the CRD lists its properties.

const typeMeta = (kind: string) => ({
  apiVersion: { const: 'snapshot.storage.k8s.io/v1' },
  kind: { const: kind },
  // ObjectMeta is checked separately with the apimachinery model (see snapshotValidator).
  metadata: { type: 'object' },
});

export const volumeSnapshotClassSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'driver', 'deletionPolicy'],
  additionalProperties: false,
  properties: {
    ...typeMeta('VolumeSnapshotClass'),
    // The CRD only says string; an empty driver can never match a CSI driver, so refuse it here.
    driver: { type: 'string', minLength: 1 },
    deletionPolicy: { enum: ['Delete', 'Retain'] },
    parameters: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

export const volumeSnapshotSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    ...typeMeta('VolumeSnapshot'),
    spec: {
      type: 'object',
      required: ['source'],
      additionalProperties: false,
      properties: {
        // The CRD refuses an empty class name; leaving the field out means the driver's default.
        volumeSnapshotClassName: { type: 'string', minLength: 1 },
        source: {
          type: 'object',
          additionalProperties: false,
          properties: {
            persistentVolumeClaimName: { type: 'string', minLength: 1 },
            volumeSnapshotContentName: { type: 'string', minLength: 1 },
          },
          // Exactly one: snapshot a PVC now, or bind an existing VolumeSnapshotContent.
          oneOf: [{ required: ['persistentVolumeClaimName'] }, { required: ['volumeSnapshotContentName'] }],
        },
      },
    },
    // Written by the snapshot controller; present on objects read back from the API.
    status: {
      type: 'object',
      additionalProperties: false,
      properties: {
        boundVolumeSnapshotContentName: { type: 'string' },
        creationTime: { type: 'string', format: 'date-time' },
        readyToUse: { type: 'boolean' },
        // int-or-string: a byte count or a Kubernetes quantity such as 10Gi.
        restoreSize: {
          anyOf: [
            { type: 'integer' },
            {
              type: 'string',
              pattern: '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\\d+)?$',
            },
          ],
        },
        error: {
          type: 'object',
          additionalProperties: false,
          properties: { message: { type: 'string' }, time: { type: 'string', format: 'date-time' } },
        },
        volumeGroupSnapshotName: { type: 'string' },
      },
    },
  },
} as const;

// Compiled once per process; `date-time` is the only format used, checked loosely by Date.parse.
// strictRequired is off only because oneOf branches name properties defined one level up.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
const compiled = new Map<string, ValidateFunction>([
  ['snapshot.storage.k8s.io/v1/VolumeSnapshotClass', ajv.compile(volumeSnapshotClassSchema)],
  ['snapshot.storage.k8s.io/v1/VolumeSnapshot', ajv.compile(volumeSnapshotSchema)],
]);

function ajvMessage(e: ErrorObject): string {
  const path = e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'additionalProperties') {
    // Same wording as the unknown fields found in kubernetes-models' schemas.
    return `unknown field ${path ? `${path}.` : ''}${String(e.params.additionalProperty)}`;
  }
  const where = path || '(root)';
  return `${where}: ${e.message ?? e.keyword}${e.keyword === 'enum' ? ` (${e.params.allowedValues.join(', ')})` : ''}`;
}

function runModel(validate: () => void, prefix = ''): string[] {
  try {
    validate();
    return [];
  } catch (err) {
    return [`${prefix}${(err as Error).message}`];
  }
}

function snapshotValidator(fn: ValidateFunction): Validate {
  return (data) => {
    const errors = fn(data) ? [] : (fn.errors ?? []).map(ajvMessage);
    if (data && typeof data.metadata === 'object' && data.metadata !== null) {
      errors.push(...runModel(() => ObjectMeta.prototype.validate.call(data.metadata), 'metadata: '));
    }
    return errors;
  };
}

// ---------------------------------------------------------------------------------------------
// Validator lookup by apiVersion and kind.

type ModelClass = { prototype: Model<unknown> };
const validators = new Map<string, Validate | undefined>();

async function importModel(specifier: string, kind: string): Promise<ModelClass | undefined> {
  try {
    return ((await import(specifier)) as Record<string, ModelClass>)[kind];
  } catch {
    return undefined;
  }
}

/** The validator of a kind, or undefined when no schema is known for it. Memoised. */
export async function validatorFor(apiVersion: string, kind: string): Promise<Validate | undefined> {
  const key = `${apiVersion}/${kind}`;
  if (validators.has(key)) return validators.get(key);
  let v: Validate | undefined;
  const snapshot = compiled.get(key);
  if (snapshot) {
    v = snapshotValidator(snapshot);
  } else {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const specifier =
      group === 'monitoring.coreos.com'
        ? `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
        : group
          ? `kubernetes-models/${group}/${version}/${kind}`
          : `kubernetes-models/${version}/${kind}`;
    const M = await importModel(specifier, kind);
    // The model's validate() runs the compiled schema on `this`: call it on the (proxied) data.
    if (M) v = (data) => runModel(() => M.prototype.validate.call(data));
  }
  validators.set(key, v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Unknown fields, learnt from what the validator reads.

interface Reads {
  path: string;
  read: Set<string>;
  enumerated: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const childPath = (path: string, key: string, isArray: boolean) =>
  isArray ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/**
 * Runs `validate` on a recording view of `data`; returns its errors and the paths of fields that no
 * schema on the way defines.
 */
export function validateStrict(data: unknown, validate: Validate): { errors: string[]; unknown: string[] } {
  const nodes = new Map<object, Reads>();
  const proxies = new WeakMap<object, object>();

  const wrap = (target: unknown, path: string): unknown => {
    if (!isObject(target)) return target;
    const existing = proxies.get(target);
    if (existing) return existing;
    const reads: Reads = { path, read: new Set(), enumerated: false };
    nodes.set(target, reads);
    const isArray = Array.isArray(target);
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        const value = Reflect.get(t, key, receiver);
        if (typeof key !== 'string') return value;
        reads.read.add(key);
        return Object.hasOwn(t, key) ? wrap(value, childPath(path, key, isArray)) : value;
      },
      has(t, key) {
        if (typeof key === 'string') reads.read.add(key);
        return Reflect.has(t, key);
      },
      ownKeys(t) {
        reads.enumerated = true;
        return Reflect.ownKeys(t);
      },
    });
    proxies.set(target, proxy);
    return proxy;
  };

  const errors = validate(wrap(data, ''));
  const unknown: string[] = [];
  for (const [target, reads] of nodes) {
    // Arrays, maps and free-form objects (nothing read) are open.
    if (Array.isArray(target) || reads.enumerated || reads.read.size === 0) continue;
    for (const key of Object.keys(target)) {
      if (!reads.read.has(key)) unknown.push(childPath(reads.path, key, false));
    }
  }
  return { errors, unknown: unknown.sort() };
}

/** Every schema problem of one object, as `Kind/name: ...` lines; empty when it is valid. */
export async function checkObject(o: any): Promise<string[]> {
  const id = `${o?.kind}/${o?.metadata?.name}`;
  const validate = await validatorFor(String(o?.apiVersion), String(o?.kind));
  if (!validate) return [`${id}: no schema for ${o?.apiVersion} ${o?.kind}`];
  const { errors, unknown } = validateStrict(o, validate);
  return [...errors.map((e) => `${id}: ${e}`), ...unknown.map((p) => `${id}: unknown field ${p}`)];
}
