/**
 * The man pages, made from the tables `--help` reads: agentctl(1) from the verb table and
 * each verb's synopsis and help lines, agentd(8) from agentd's option table, and
 * host-agent-cloud-config(5) from the cloud-config schema. Pure: the callers load the
 * verbs and write the files (generate-docs.ts).
 */
import type { Schema, StructSchema } from '../core/config/schema.js';
import { humanType } from '../core/config/schema.js';
import { optionTerm, type OptionDoc } from '../core/usage/options.js';
import { GLOBAL_OPTION_LINES, helpEntries } from './usage.js';
import { EXIT, type Verb } from './verb.js';
import type { VerbEntry } from './verbs/index.js';

/** Text for roff: backslashes and dashes escaped, no line starting a request. */
export function roff(text: string): string {
  return text.replaceAll('\\', '\\e').replaceAll('-', '\\-').replace(/^([.'])/gm, '\\&$1');
}

const bold = (t: string): string => `\\fB${roff(t)}\\fR`;

/** A term in bold, its placeholders (PATH, NAME…) in italics. */
function term(t: string): string {
  return t.split(/(\b[A-Z][A-Z0-9_|]*[A-Z0-9]\b…?)/).map((part, i) => (i % 2 ? `\\fI${roff(part)}\\fR` : `\\fB${roff(part)}\\fR`)).join('');
}

function header(name: string, section: number, version: string, summary: string): string[] {
  return [
    `.\\" Generated from the tables of host-agent ${version}; do not edit.`,
    `.TH ${name.toUpperCase()} ${section} "" "host-agent ${version}" "host-agent"`,
    '.SH NAME',
    `${roff(name)} \\- ${roff(summary)}`,
  ];
}

function tagged(termText: string, text: readonly string[]): string[] {
  return ['.TP', termText, ...text.map(roff)];
}

function seeAlso(pages: string[], docs: string[]): string[] {
  return [
    '.SH SEE ALSO',
    pages.map((p) => `\\fB${p.replace(/\(/, '\\fR(')}`).join(', '),
    '.PP',
    `The guides, installed in /usr/share/doc/host-agent: ${docs.map(roff).join(', ')}.`,
  ];
}

export interface LoadedVerb {
  entry: VerbEntry;
  verb: Verb;
}

export function agentctlManPage(verbs: readonly LoadedVerb[], version: string): string {
  const shown = verbs.filter((v) => !v.entry.hidden);
  const lines = [
    ...header('agentctl', 1, version, 'control the host-agent: containers, images, configuration and OS updates'),
    '.SH SYNOPSIS',
    `${bold('agentctl')} [${bold('--user')}|${bold('--system')}] \\fIVERB\\fR [\\fIOPTIONS\\fR]`,
    '.SH DESCRIPTION',
    `${bold('agentctl')} talks to ${bold('agentd')}(8) over D\\-Bus (the system bus, or the session bus with ${bold('--user')}).`,
    'Reading is open to every user; changes are for root.',
    '.SH GLOBAL OPTIONS',
    ...GLOBAL_OPTION_LINES.flatMap(([flag, text]) => tagged(term(flag), [text])),
    ...tagged(term('--version'), ['print the version']),
    '.SH VERBS',
  ];
  for (const { entry, verb } of shown) {
    // An alias (images for image) has its summary only.
    if (verb.name !== entry.name) {
      lines.push('.SS', bold(`agentctl ${entry.name}`), '.PP', `${roff(entry.summary)}.`);
      continue;
    }
    lines.push('.SS', `${bold(`agentctl ${verb.name}`)}${verb.synopsis ? ` ${term(verb.synopsis)}` : ''}`, '.PP', `${roff(entry.summary)}.`);
    for (const e of helpEntries(verb.help)) {
      if (e.term === '') lines.push('.PP', ...e.text.map(roff));
      else lines.push(...tagged(term(e.term), e.text));
    }
  }
  lines.push(
    '.SH EXIT STATUS',
    ...tagged(String(EXIT.ok), ['success; for status: the agent runs and nothing declared failed']),
    ...tagged(String(EXIT.failure), ['failure; for status: something declared failed (degraded); for update containers --now: a container was rolled back']),
    ...tagged(String(EXIT.usage), ['a usage error (unknown verb or option, wrong arguments)']),
    ...tagged(String(EXIT.notRunning), ['the agent is not running']),
    ...tagged(String(EXIT.interrupted), ['interrupted by Ctrl-C (logs -f)']),
    '.SH ENVIRONMENT',
    ...tagged(bold('HOST_AGENT_BUS'), ['session or system: the bus to use when neither --user nor --system is given']),
    ...tagged(bold('NO_COLOR'), ['when set, no colours even on a terminal']),
    ...seeAlso(['agentd(8)', 'host-agent-cloud-config(5)', 'systemctl(1)', 'journalctl(1)'], ['usage.md', 'containers.md', 'images.md', 'updates.md', 'dbus-api.md']),
  );
  return lines.join('\n') + '\n';
}

export function agentdManPage(options: readonly OptionDoc[], summary: string, version: string): string {
  return [
    ...header('agentd', 8, version, 'the host-agent daemon'),
    '.SH SYNOPSIS',
    `${bold('agentd')} [\\fIOPTIONS\\fR]`,
    '.SH DESCRIPTION',
    roff(summary),
    `It reads the cloud\\-config (${bold('host-agent-cloud-config')}(5)), runs the declared containers as systemd units,`,
    `and answers ${bold('agentctl')}(1) on D\\-Bus as org.hostagent.Agent1. It normally runs as the unit host\\-agent.service.`,
    '.SH OPTIONS',
    ...options.flatMap((o) => tagged(term(optionTerm(o)), [o.text])),
    '.SH FILES',
    ...tagged(bold('/etc/host-agent/cloud-config.yaml'), ['the cloud\\-config; drop\\-ins in /etc/host\\-agent/config.d and /usr/lib/host\\-agent/config.d']),
    ...tagged(bold('/etc/host-agent/trustedkeys'), ['keys trusted to sign images (agentctl trust)']),
    ...tagged(bold('/var/lib/host-agent'), ['the image store and the state of containers and updates']),
    ...seeAlso(['agentctl(1)', 'host-agent-cloud-config(5)', 'systemd.service(5)'], ['usage.md', 'config.md', 'updates.md', 'reboots.md', 'dbus-api.md']),
  ].join('\n') + '\n';
}

/** Keys of our own section are written with dashes (docs/config.md); coreos' as they were. */
function keyName(name: string, ours: boolean): string {
  return ours ? name.replaceAll('_', '-') : name;
}

function schemaKeys(schema: Schema, path: string, ours: boolean, out: string[]): void {
  const inner = schema.kind === 'list' ? schema.of : schema;
  if (inner.kind !== 'struct') return;
  for (const [name, field] of Object.entries(inner.fields)) {
    const mine = ours || name === 'host_agent';
    const key = `${path}${keyName(name, mine)}`;
    const note = field.deprecated ? ` (deprecated: ${field.deprecated})` : '';
    out.push(...tagged(`${bold(key)} \\fI${roff(humanType(field.schema))}\\fR`, [`${note.trim()}`].filter(Boolean)));
    schemaKeys(field.schema, `${key}${field.schema.kind === 'list' ? '[].' : '.'}`, mine, out);
  }
}

export function cloudConfigManPage(schema: StructSchema, version: string): string {
  const keys: string[] = [];
  schemaKeys(schema, '', false, keys);
  return [
    ...header('host-agent-cloud-config', 5, version, 'the configuration of the host-agent'),
    '.SH SYNOPSIS',
    '/etc/host\\-agent/cloud\\-config.yaml, /etc/host\\-agent/config.d/*.yaml, /usr/lib/host\\-agent/config.d/*.yaml',
    '.SH DESCRIPTION',
    'A YAML document starting with the line #cloud\\-config: the keys coreos\\-cloudinit knew, and the section',
    `${bold('host-agent')} of the agent's own (containers, image updates, trusted keys). Drop\\-ins are merged in name order;`,
    `${bold('-')} and ${bold('_')} in keys are the same. ${bold('agentctl config validate')} checks a file with the line of every error.`,
    '.SH KEYS',
    'Every key the agent reads, with its type; a[].b is the key b of each item of the list a.',
    'The meaning and the values of each are in config.md.',
    ...keys,
    '.SH EXAMPLE',
    '.nf',
    '#cloud\\-config',
    'host\\-agent:',
    '  containers:',
    '    \\- name: web',
    '      image: example.com/web:1.0.0',
    '      auto\\-update: true',
    '.fi',
    ...seeAlso(['agentd(8)', 'agentctl(1)'], ['config.md', 'containers.md', 'images.md', 'reboots.md']),
  ].join('\n') + '\n';
}
