/**
 * A stand-alone install for the kill -9 test: runs one engine update with the options given
 * as JSON in argv[2] and prints each state change as a JSON line on stdout, so the parent
 * can kill it at a chosen point of the write.
 */
import { UpdateEngine, type UpdateEngineOptions } from '../../../../agent/host/update/engine.js';
import { makeVerifier } from './verifier.js';

interface ChildArgs extends Omit<UpdateEngineOptions, 'verifySignature' | 'onChange'> {
  trustedKey: string;
}

const args = JSON.parse(process.argv[2]!) as ChildArgs;
const engine = new UpdateEngine({
  ...args,
  verifySignature: await makeVerifier([args.trustedKey]),
  onChange: (s) => process.stdout.write(`${JSON.stringify({ kind: s.kind, bytesDone: s.kind === 'DOWNLOADING' ? s.bytesDone : undefined })}\n`),
});
await engine.update();
process.stdout.write(`${JSON.stringify({ kind: 'EXIT' })}\n`);
