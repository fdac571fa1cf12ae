/**
 * The spec hash written into a container's unit as `X-HostAgent-Spec=`: SHA-256 of the
 * canonical JSON (keys sorted, undefined left out) of everything the unit is made from —
 * the spec with the image named by its ID, the host paths and the unit format version.
 * Two inputs with the same hash render the same unit; a changed hash means drift.
 * Pure: no I/O.
 */
import type { RenderInput } from './spec.js';

/** SHA-256 of a text's UTF-8 bytes, as lower-case hex: given by the host (core has no crypto). */
export type Sha256Hex = (text: string) => string;

/** Bumped when the renderer's output changes for the same input, so units get rewritten. */
export const UNIT_FORMAT = 2;

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * `sha256-<hex>` of the input; the image record is represented by the image ID. The layer
 * directories are hashed as `imageRootfs`, joined by ':', the form of units written before
 * images had layers: the unit of a one-layer (appc) image keeps its hash across that
 * change, so an upgraded agent does not restart it.
 */
export function specHash(input: RenderInput, sha256Hex: Sha256Hex): string {
  const { image, apps, ...rest } = input.spec;
  const { imageLayers, ...host } = input.host;
  const spec = { ...rest, image: image.id, ...(apps && { apps: apps.map((a) => ({ ...a, image: a.image.id })) }) };
  return `sha256-${sha256Hex(canonicalJson({ format: UNIT_FORMAT, spec, host: { ...host, imageRootfs: imageLayers.join(':') } }))}`;
}
