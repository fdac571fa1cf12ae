/**
 * A 2,000-unit cloud-config: validation, and a no-op reconcile (plan against a host that
 * already matches it), against the baseline of parsing the same text with yaml.parse, in
 * the same run. Target: no-op reconcile under 100 ms.
 */
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { validateText } from '../agent/core/config/validate.js';
import { planHostConfig, type ObservedHost } from '../agent/core/plan/config-plan.js';
import { withMarker, CONFIG_ORIGIN } from '../agent/core/plan/unit-text.js';
import { median } from './lib/measure.js';

const UNITS = 2000;
const RUNS = 7;

function bigConfig(): string {
  const units = Array.from({ length: UNITS }, (_, i) => `    - name: unit-${i}.service
      command: start
      enable: true
      content: |
        [Unit]
        Description=unit ${i}
        [Service]
        ExecStart=/bin/sleep 600
        [Install]
        WantedBy=default.target
      drop-ins:
        - name: 10-env.conf
          content: |
            [Service]
            Environment=N=${i}
`).join('');
  return `#cloud-config\ncoreos:\n  units:\n${units}`;
}

function time(fn: () => unknown): number[] {
  fn();
  return Array.from({ length: RUNS }, () => {
    const start = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
}

export async function run(): Promise<boolean> {
  const text = bigConfig();
  const config = validateText(text, { gunzip: (b) => gunzipSync(b) }).config!;
  const observed: ObservedHost = {
    files: new Map(), owners: new Map(), accounts: new Map(), sshUser: 'core',
    units: new Map(config.units.map((u) => [u.name, {
      file: { runtime: false, text: withMarker(u.content!, CONFIG_ORIGIN) },
      dropIns: u.dropIns.map((d) => ({ name: d.name, runtime: false, text: withMarker(d.content, CONFIG_ORIGIN) })),
      unitFileState: 'enabled', activeState: 'active',
    }])),
  };
  const yamlParse = median(time(() => parse(text)));
  const validate = median(time(() => validateText(text, { gunzip: (b) => gunzipSync(b) })));
  let steps = -1;
  const plan = median(time(() => { steps = planHostConfig(config, config, observed).steps.length; }));
  console.log(`\ncloud-config with ${UNITS} units (${(text.length / 1024).toFixed(0)} KiB), median of ${RUNS}`);
  console.log(`${'yaml.parse (baseline)'.padEnd(34)} ${yamlParse.toFixed(1).padStart(8)} ms  1.00×`);
  console.log(`${'validate'.padEnd(34)} ${validate.toFixed(1).padStart(8)} ms  ${(validate / yamlParse).toFixed(2)}×`);
  console.log(`${'no-op reconcile (plan)'.padEnd(34)} ${plan.toFixed(1).padStart(8)} ms  ${(plan / yamlParse).toFixed(2)}×  (${steps} steps)`);
  const ok = plan < 100 && steps === 0;
  console.log(`target: no-op reconcile under 100 ms with no steps: ${ok ? 'MET' : 'MISSED'}`);
  return ok;
}
