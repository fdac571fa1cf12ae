/**
 * The format-neutral image record: what containers, reconcile, auto-update, gc and the CLI
 * know of an image, whatever format it came in. The appc adapter (../appc) and the OCI
 * adapter (../oci) each produce one; nothing above the adapters reads an appc ImageManifest
 * or an OCI config. Pure: types only.
 */
import type { Isolator } from '../appc/isolators.js';

export type ImageFormat = 'appc' | 'oci';

export interface ImagePort {
  /** appc port name; for OCI the `PORT/PROTO` key of ExposedPorts. */
  name: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** appc only: how many consecutive ports from `port`; absent: 1. */
  count?: number;
}

/** How the image says its payload runs; a container's own settings override each field. */
export interface ImageRunConfig {
  /** appc `app.exec`; OCI `Entrypoint` followed by `Cmd`. */
  exec: string[];
  /** In the image's order; a later name replaces an earlier one. */
  environment: Array<[string, string]>;
  /** User name or UID (appc `app.user`; OCI `User` before the colon); absent: 0. */
  user?: string;
  /** Group name or GID (appc `app.group`; OCI `User` after the colon); absent: 0. */
  group?: string;
  workingDirectory?: string;
  ports: ImagePort[];
  /** appc isolators (resource and capability limits); OCI images have none. */
  isolators: Isolator[];
}

export interface ImageRecord {
  /** The store's ID: appc `sha512-<hex of the uncompressed tar>`; OCI `sha256-<hex of the manifest digest>`. */
  id: string;
  format: ImageFormat;
  /** appc: the AC Name; OCI: the repository with its registry (`HOST[:PORT]/REPO`). */
  name: string;
  /** appc labels (version, os, arch, …); OCI: `version` = the tag fetched, `os`, `arch`. */
  labels: Array<{ name: string; value: string }>;
  /** appc annotations and app user labels; OCI manifest annotations and config `Labels`. */
  annotations: Record<string, string>;
  /** OCI only: the reference as fetched, `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`. */
  reference?: string;
  /** OCI only: the manifest digest, `sha256:<hex>`. */
  digest?: string;
  /**
   * The image's layers, bottom first, as store layer IDs (OCI: `sha256-<hex of the diff ID>`).
   * An appc image is one layer, its own rootfs, with the image ID as layer ID.
   */
  layers: string[];
  /** Absent: the image has no app to run (an appc image without `app`). */
  run?: ImageRunConfig;
}
