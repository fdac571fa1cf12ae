/**
 * The image documents of the D-Bus contract: stored images, fetch requests with their
 * progress and results, garbage collection. JSON over D-Bus (see ./agent1.ts).
 */
import type { ImageFormat, ImageRecord } from '../core/image/record.js';

export type { ImageFormat, ImageRecord } from '../core/image/record.js';

export interface ImageLabel {
  name: string;
  value: string;
}

/** A stored image, as `agentctl image list --json` prints it. */
export interface ImageSummary {
  /** appc: `sha512-<hex of the uncompressed tar>`; OCI: `sha256-<hex of the manifest digest>`. */
  id: string;
  format: ImageFormat;
  name: string;
  labels: ImageLabel[];
  /** Bytes of the uncompressed tar. */
  size: number;
  /** ISO time the image was stored. */
  imported: string;
  /** ISO time a container last started from it, or null. */
  lastUsed: string | null;
  /** The path or URL it was fetched from. */
  source: string;
  /** Lowercase fingerprint of the signing key; null when stored unverified. */
  signer: string | null;
}

export interface ImageDetail {
  image: ImageSummary;
  /** The image's directory in the store (appc: `manifest`, `rootfs/`). */
  dir: string;
  /** The format-neutral image record (its environment values hidden from unprivileged callers). */
  record: ImageRecord;
  /** appc only: the image manifest as stored (its environment values hidden likewise). */
  manifest?: string;
  /** What was withheld from a caller who is not privileged, e.g. `record.run.environment`. */
  hidden?: string[];
}

export type InsecureOptionName = 'http' | 'image';

export interface FetchRequest {
  /** A file path (absolute: the agent resolves it), an http(s) URL, or NAME[:VERSION][,LABEL=VALUE]…. */
  image: string;
  insecureOptions: InsecureOptionName[];
  /** Chosen by the caller; FetchProgress signals of this fetch carry it. */
  requestId: string;
}

export interface FetchResult {
  image: ImageSummary;
  /** Warnings for the person, e.g. an image stored without verification. */
  warnings: string[];
}

export interface FetchProgressEvent {
  requestId: string;
  phase: 'download' | 'verify' | 'extract';
  done: number;
  /** Bytes expected, when known. */
  total: number | null;
  /** OCI images: the layer (`sha256:` and 12 hex digits) this event counts; each layer has its own. */
  layer?: string;
}

export interface GcRequest {
  /** Images used (or imported) less than this long ago are kept. */
  graceSeconds: number;
}

export interface GcResult {
  removed: ImageSummary[];
}
