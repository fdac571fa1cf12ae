#!/usr/bin/env node
/**
 * agentctl — the client of agentd (entry point; the work is in run.ts). The standard
 * streams are getters: node makes a stream object on first use, and a verb that prints
 * nothing (start, stop) does not pay for it.
 */
import { isatty } from 'node:tty';
import { runCli } from './run.js';

process.exitCode = await runCli(process.argv.slice(2), {
  get stdout() { return process.stdout; },
  get stderr() { return process.stderr; },
  env: process.env,
  isTTY: isatty(1),
});
