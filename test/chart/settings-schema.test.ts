/**
 * The chart's values.schema.json and the agent's settings agree: for every setting the chart copies
 * from a value (settings.ts `values` without `derived`), the value's schema node has the same type,
 * enum, bounds and pattern as the JSON Schema generated from the agent's zod settings. A value the
 * chart accepts then parses in the agent, and a value the agent refuses is refused at install.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentConfigJsonSchema, parseAgentEnv, settingRows } from '../../src/core/config/schema.js';
import { resolveSchema, valuesSchema } from './values-schema.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON Schemas are untyped JSON */

/** The values.schema.json node of a dotted values path. */
function chartNode(path: string): any {
  return path
    .split('.')
    .reduce((node: any, key) => resolveSchema(resolveSchema(node)?.properties?.[key]), valuesSchema);
}

const agentSchema = agentConfigJsonSchema() as any;
const agentNode = (section: string, name: string): any => agentSchema.properties[section].properties[name];

/** What both sides must agree on; an absent keyword is compared as absent. */
function constraints(node: any): Record<string, unknown> {
  const types = [node.type ?? []].flat().filter((t: string) => t !== 'null');
  return {
    type: types.length === 1 ? types[0] : types,
    enum: node.enum ? [...node.enum].filter((v) => v !== null).sort() : undefined,
    minimum: node.minimum,
    maximum: node.maximum,
    // A regular expression's source escapes "/" (\/), which means the same in a JSON Schema pattern.
    pattern: typeof node.pattern === 'string' ? node.pattern.replace(/\\\//g, '/') : undefined,
  };
}

/** Values whose type differs on purpose, and why. */
const knownDifferences: Record<string, string> = {
  // A number (3) is rendered as its text ("3"); the agent checks the text when it applies it
  // (src/core/migrate/version.ts), with the same rule the chart's Job name needs.
  'databases.postgres.migration.version': 'string or number in values, text in the environment',
};

const copied = settingRows.filter((r) => r.values && !r.derived && !(r.values in knownDifferences));

describe("chart values schema and the agent's settings", () => {
  it('finds a values.schema.json node for every chart value a setting names', () => {
    const missing = settingRows.filter((r) => r.values && !chartNode(r.values)).map((r) => r.values);
    assert.deepEqual(missing, []);
    assert.ok(copied.length >= 30, `only ${copied.length} settings copied from values`);
  });

  for (const r of copied) {
    it(`${r.values} has the type, enum, bounds and pattern of ${r.env} (config.${r.path})`, () => {
      assert.deepEqual(constraints(chartNode(r.values!)), constraints(agentNode(r.section, r.name)));
    });
  }

  it('accepts in the agent exactly the maxSlotWalKeepSize values the chart accepts', () => {
    const pattern = new RegExp(
      chartNode('databases.postgres.postgresql.maxSlotWalKeepSize').pattern as string,
    );
    const samples = ['', '-1', '2GB', '512', '64MB', '1TB', '1.5GB', '2 GB', '10gb', 'lots', '-2', 'GB'];
    const verdicts = samples.map((v) => ({
      v,
      chart: pattern.test(v),
      agent: parseAgentEnv({ PGOPS_MAX_SLOT_WAL_KEEP_SIZE: v }).ok,
    }));
    assert.deepEqual(
      verdicts.filter((x) => x.chart !== x.agent),
      [],
    );
    assert.deepEqual(
      verdicts.filter((x) => x.agent).map((x) => x.v),
      ['', '-1', '2GB', '512', '64MB', '1TB'],
    );
  });
});
