#!/usr/bin/env node
/**
 * agentctl — the client of agentd (entry point; the work is in run.ts).
 */
import { runCli } from './run.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout, stderr: process.stderr, env: process.env, isTTY: Boolean(process.stdout.isTTY),
});
