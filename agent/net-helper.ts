#!/usr/bin/env node
/**
 * agentd-net — the network helper a container's unit runs: `up ATTACHMENT` (ExecStartPre)
 * and `down ATTACHMENT` (ExecStopPost), ATTACHMENT being the JSON the renderer wrote into
 * the unit (agent/core/network/types.ts NetworkAttachment). systemd runs it, not agentd, so
 * the network is set up and torn down on every path even while agentd is down. Small on
 * purpose: it loads the network modules only.
 */
import { describeError } from './core/errors.js';
import type { NetworkAttachment } from './core/network/types.js';
import { networkDown, networkUp } from './host/network/attach.js';

async function main(argv: string[]): Promise<number> {
  const [command, json] = argv;
  if ((command !== 'up' && command !== 'down') || json === undefined) {
    process.stderr.write('usage: agentd-net up|down ATTACHMENT-JSON\n');
    return 2;
  }
  const attachment = JSON.parse(json) as NetworkAttachment;
  try {
    // Silent on success: its output is the container's (its last lines show in ps).
    if (command === 'up') await networkUp(attachment);
    else await networkDown(attachment);
    return 0;
  } catch (e) {
    process.stderr.write(`agentd-net: ${command} ${attachment.container}: ${describeError(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
