/**
 * The whole cloud-config schema: the keys coreos-cloudinit knew plus `host-agent:`.
 * Pure: no I/O.
 */
import { COREOS_CLOUDINIT_KEYS } from './coreos-schema.js';
import { HOST_AGENT } from './host-agent-schema.js';
import { struct, type StructSchema } from './schema.js';

export const CLOUD_CONFIG: StructSchema = struct({ ...COREOS_CLOUDINIT_KEYS, host_agent: HOST_AGENT });
