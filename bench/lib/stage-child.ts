/**
 * What a staging benchmark (os-update, verity) hands the child process that stages once:
 * the signed release and the paths of the disk and the agent's state.
 */
import type { SignedRelease } from '../../agent/host/update/channel.js';

export interface StageChildArgs {
  signed: SignedRelease;
  disk: string;
  cmdlinePath: string;
  stateDir: string;
  rebootRequiredPath: string;
}
