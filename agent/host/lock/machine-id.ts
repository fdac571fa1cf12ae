/**
 * The holder id of this host in reboot locks: its systemd machine id (/etc/machine-id), as
 * locksmith used. The path comes from the caller's options so tests and sandboxes use their own.
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';

export const MACHINE_ID_PATH = '/etc/machine-id';

/** Read and check the machine id (32 lower-case hex digits) at `path`. */
export async function readMachineId(path: string = MACHINE_ID_PATH): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AgentError({
      code: 'lock.no-machine-id',
      message: 'cannot read the machine id',
      subject: path,
      hint: 'Run systemd-machine-id-setup, or set the lock id in the agent options',
      cause,
    });
  }
  const id = text.trim();
  if (!/^[0-9a-f]{32}$/.test(id)) {
    throw new AgentError({
      code: 'lock.no-machine-id',
      message: 'the machine id is not 32 lower-case hex digits',
      subject: path,
      hint: 'Regenerate it with systemd-machine-id-setup',
    });
  }
  return id;
}
