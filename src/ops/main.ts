#!/usr/bin/env node
import { runCli } from '../runtime/cli.js';
import { buildOpsProgram } from './program.js';

process.exitCode = await runCli(buildOpsProgram(), process.argv);
