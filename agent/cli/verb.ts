/**
 * What a verb of agentctl is: its name, help, options, and the function that runs it.
 * Verbs get everything they touch through the context, so tests can run them directly.
 */
import type { ParseArgsConfig } from 'node:util';
import type { BusKind } from '../api/agent1.js';

export interface CliContext {
  bus: BusKind;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Colours and other terminal niceties, only when stdout is a TTY and NO_COLOR is unset. */
  color: boolean;
}

export interface VerbArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export interface Verb {
  name: string;
  /** Usage line after "agentctl NAME", e.g. "[--json]". */
  synopsis: string;
  /** Option lines of the verb's --help. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  positionals: { min: number; max: number };
  /**
   * The sub-verbs (`image list`…), when the first argument names one: agentctl checks it
   * (with "did you mean") when the verb needs an argument, and shows one sub-verb's lines
   * of `help` for `agentctl VERB SUB --help`; completion offers them.
   */
  subverbs?: readonly string[];
  run(ctx: CliContext, args: VerbArgs): Promise<number>;
}

/**
 * Exit codes, as systemctl uses them where they overlap (docs/usage.md): 1 also for a
 * degraded `status` and a rolled-back `update containers --now`; 130 for Ctrl-C.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, notRunning: 3, interrupted: 130 } as const;
