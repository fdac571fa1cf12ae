/**
 * agentctl config validate|show|plan|apply. validate and show read the files themselves
 * (no agent needed); plan and apply ask agentd, which knows the host's state.
 */
import { stringify } from 'yaml';
import type { ApplyReport, ConfigPlan } from '../../api/agent1.js';
import { plainDocument } from '../../core/config/document.js';
import { formatEntry } from '../../core/config/report.js';
import { CLOUD_CONFIG } from '../../core/config/root-schema.js';
import type { MapNode } from '../../core/config/tree.js';
import { AgentError } from '../../core/errors.js';
import { configPaths, loadConfig, loadConfigFiles } from '../../host/config/load.js';
import { callAgent } from '../agent-client.js';
import { EXIT, type CliContext, type Verb, type VerbArgs } from '../verb.js';

/** The files: options first, then HOST_AGENT_CONFIG, _CONFIG_DIR, _SYSTEM_CONFIG_DIR, then the defaults. */
function paths(ctx: CliContext, values: VerbArgs['values']) {
  const pick = (option: string, variable: string) => (typeof values[option] === 'string' ? values[option] : ctx.env[variable] || undefined);
  const mainFile = pick('config', 'HOST_AGENT_CONFIG');
  const adminDropinDir = pick('config-dir', 'HOST_AGENT_CONFIG_DIR');
  const systemDropinDir = pick('system-config-dir', 'HOST_AGENT_SYSTEM_CONFIG_DIR');
  return configPaths({
    ...(mainFile !== undefined && { mainFile }),
    ...(adminDropinDir !== undefined && { adminDropinDir }),
    ...(systemDropinDir !== undefined && { systemDropinDir }),
  });
}

async function validate(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  const files = positionals.slice(1);
  const result = files.length ? await loadConfigFiles(files) : await loadConfig(paths(ctx, values));
  if (values.json) {
    const report = { valid: !result.entries.some((e) => e.level === 'error'), files: result.sources.map((s) => s.file), entries: result.entries };
    ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const e of result.entries) ctx.stdout.write(`${formatEntry(e)}\n`);
  }
  return result.entries.length ? EXIT.failure : EXIT.ok;
}

const EMPTY_DOCUMENT: MapNode = { kind: 'map', line: 0, file: undefined, pairs: [], size: 1, height: 1 };

/** `!!binary` bytes in JSON: base64, as YAML writes them. */
function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
}

async function show(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const loaded = await loadConfig(paths(ctx, values));
  if (!loaded.config) {
    for (const e of loaded.entries) ctx.stderr.write(`${formatEntry(e)}\n`);
    throw new AgentError({ code: 'cli.config-invalid', message: 'the configuration has errors', hint: 'Fix the lines above (agentctl config validate)' });
  }
  const data = plainDocument(loaded.document ?? EMPTY_DOCUMENT, CLOUD_CONFIG);
  ctx.stdout.write(values.json ? `${JSON.stringify(data, jsonBytes, 2)}\n` : `#cloud-config\n${stringify(data, { version: '1.1' })}`);
  return EXIT.ok;
}

async function plan(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const [json] = await callAgent(ctx, 'PlanConfig');
  const p = JSON.parse(json as string) as ConfigPlan;
  if (values.json) {
    ctx.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
  } else {
    ctx.stdout.write(p.steps.length ? p.steps.map((s, i) => `${i + 1}. ${s}\n`).join('') : 'Nothing to do: the host matches its configuration.\n');
    for (const problem of p.problems) ctx.stdout.write(`problem: ${problem}\n`);
    for (const note of p.notes) ctx.stdout.write(`note: ${note}\n`);
  }
  return EXIT.ok;
}

async function apply(ctx: CliContext, { values }: VerbArgs): Promise<number> {
  const [json] = await callAgent(ctx, 'ApplyConfig');
  const report = JSON.parse(json as string) as ApplyReport;
  if (values.json) ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    if (report.error) ctx.stdout.write(`FAILED: nothing was applied: ${report.error.message}\n`);
    else ctx.stdout.write(report.steps.length ? report.steps.map((s) => `${s.error ? 'FAILED' : 'done  '} ${s.step}${s.error ? `: ${s.error}` : ''}\n`).join('') : 'Nothing to do.\n');
    for (const problem of report.problems) ctx.stdout.write(`problem: ${problem}\n`);
  }
  return report.error || report.steps.some((s) => s.error) || report.problems.length ? EXIT.failure : EXIT.ok;
}

const SUBVERBS: Record<string, (ctx: CliContext, args: VerbArgs) => Promise<number>> = { validate, show, plan, apply };

export const configVerb: Verb = {
  name: 'config',
  synopsis: 'validate [FILE…] [--json] | show [--json] | plan [--json] | apply [--json]',
  help: `  validate [FILE…]   check the files (default: the configured ones, merged); exit 1 on any entry
                     or a missing file; --json: {valid, files, entries}
  show               the merged effective configuration as cloud-config YAML (--json for JSON)
  plan               what applying the files would do now: files, units, containers (asks agentd);
                     exit 1 with the errors when a file is invalid
  apply              apply now (root; asks agentd); exit 1 if a step failed or a file is invalid
  --config PATH      main file (default /etc/host-agent/cloud-config.yaml; env HOST_AGENT_CONFIG)
  --config-dir DIR   admin drop-ins (default /etc/host-agent/config.d; env HOST_AGENT_CONFIG_DIR)
  --system-config-dir DIR  shipped drop-ins (default /usr/lib/host-agent/config.d; env HOST_AGENT_SYSTEM_CONFIG_DIR)
  --json             JSON output
`,
  options: {
    json: { type: 'boolean' },
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    'system-config-dir': { type: 'string' },
  },
  positionals: { min: 1, max: Infinity },
  subverbs: Object.keys(SUBVERBS),
  async run(ctx, args) {
    const sub = SUBVERBS[args.positionals[0]!];
    if (!sub) throw new AgentError({ code: 'cli.usage', message: `unknown config command "${args.positionals[0]}"`, hint: 'Use validate, show, plan or apply' });
    if (args.positionals.length > 1 && args.positionals[0] !== 'validate') {
      throw new AgentError({ code: 'cli.usage', message: `config ${args.positionals[0]} takes no arguments`, hint: 'See agentctl config --help' });
    }
    return sub(ctx, args);
  },
};
