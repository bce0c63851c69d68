/** The chart's values.schema.json, with its $ref / allOf indirections followed. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartDir } from '../support/tools.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- a JSON Schema is untyped JSON */

export const valuesSchema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));

/** The schema node `node` stands for, through `$ref` and a leading `allOf` reference. */
export function resolveSchema(node: any, schema: any = valuesSchema): any {
  while (node?.$ref || node?.allOf) {
    const ref: string = node.$ref ?? node.allOf[0].$ref;
    node = ref
      .split('/')
      .slice(1)
      .reduce((o: any, k) => o[k], schema);
  }
  return node;
}
