/**
 * Typed errors shared by every part of host-agent.
 *
 * Every error carries a stable `code` (module prefix + cause, e.g. `systemd.job-failed`),
 * the `subject` it concerns (a unit, a file, an image name…) and a `hint`: one sentence a
 * person can act on. Low-level causes are kept in `cause` but never shown raw alone.
 * This module is pure: it must not import node:* (agent/core is compiled with "types": []).
 */

/** Error code namespaces, one per module that raises errors. */
export type ErrorDomain =
  | 'agent'
  | 'bus'
  | 'cli'
  | 'config'
  | 'disk'
  | 'appc'
  | 'image'
  | 'trust'
  | 'container'
  | 'systemd'
  | 'slots'
  | 'update'
  | 'lock'
  | 'schedule';

export interface AgentErrorInit {
  /** `<domain>.<cause>`, stable across releases; tests and scripts match on it. */
  code: `${ErrorDomain}.${string}`;
  /** What went wrong, as one sentence without a trailing period. */
  message: string;
  /** The object concerned: a unit name, a file path, an image name. */
  subject?: string;
  /** What the person should do about it. */
  hint?: string;
  /** The lower-level error this one explains. */
  cause?: unknown;
}

export class AgentError extends Error {
  readonly code: AgentErrorInit['code'];
  readonly subject: string | undefined;
  readonly hint: string | undefined;

  constructor(init: AgentErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'AgentError';
    this.code = init.code;
    this.subject = init.subject;
    this.hint = init.hint;
  }

  get domain(): ErrorDomain {
    return this.code.slice(0, this.code.indexOf('.')) as ErrorDomain;
  }

  /** One line for a person: `subject: message (hint)`. */
  describe(): string {
    const head = this.subject ? `${this.subject}: ${this.message}` : this.message;
    return this.hint ? `${head}. ${this.hint}` : head;
  }

  toJSON(): { code: string; message: string; subject?: string; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.subject !== undefined && { subject: this.subject }),
      ...(this.hint !== undefined && { hint: this.hint }),
    };
  }
}

export function isAgentError(e: unknown, code?: string): e is AgentError {
  return e instanceof AgentError && (code === undefined || e.code === code);
}

/** A message for any thrown value, never a stack trace. */
export function describeError(e: unknown): string {
  if (e instanceof AgentError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}
