#!/usr/bin/env node
import { runCli } from '../runtime/cli.js';
import { buildAgentProgram } from './program.js';

process.exitCode = await runCli(buildAgentProgram(), process.argv);
