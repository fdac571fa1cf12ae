/**
 * Which stored image a reference names, decided on the image record alone (so it works for
 * every format). An appc reference `NAME[:VERSION][,LABEL=VALUE]…` names the images of
 * that name whose labels include every label given (`version` among them); an OCI reference
 * `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` names the OCI images fetched from that
 * repository for that tag (its `version` label) or with that manifest digest. Pure: no I/O.
 */
import { parseAppString } from '../appc/app-string.js';
import { DOCKER_TRANSPORT, parseReference, repositoryName, type DockerReference } from '../oci/reference.js';
import type { ImageRecord } from './record.js';

/** An appc reference as parsed (agent/core/appc/app-string.ts): name and the labels written. */
export interface NameAndLabels {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** An image as a container declares it: appc name and labels, or an OCI reference. */
export type ImageReference = NameAndLabels | DockerReference;

/** True for an OCI reference. */
export function isDockerReference(ref: ImageReference): ref is DockerReference {
  return 'registry' in ref;
}

/** An image as written: `docker://…` is an OCI reference, anything else an appc one. */
export function parseImageText(text: string): ImageReference {
  return text.startsWith(DOCKER_TRANSPORT) ? parseReference(text) : parseAppString(text);
}

/** True when the image `record` is one the appc reference `ref` can name. */
export function answersToAppRef(record: Pick<ImageRecord, 'name' | 'labels'>, ref: NameAndLabels): boolean {
  return record.name === ref.name && Object.entries(ref.labels).every(([name, value]) => record.labels.some((l) => l.name === name && l.value === value));
}

/** True when the image `record` was fetched for the OCI reference `ref` (same repository; same digest, or same tag). */
function answersToDockerRef(record: Pick<ImageRecord, 'format' | 'name' | 'labels' | 'digest'>, ref: DockerReference): boolean {
  if (record.format !== 'oci' || record.name !== repositoryName(ref)) return false;
  return ref.digest !== undefined ? record.digest === ref.digest : labelOf(record, 'version') === ref.tag;
}

/** True when `record` is an image the reference `ref` (either format) names. */
export function answersTo(record: Pick<ImageRecord, 'format' | 'name' | 'labels' | 'digest'>, ref: ImageReference): boolean {
  return isDockerReference(ref) ? answersToDockerRef(record, ref) : answersToAppRef(record, ref);
}

/** The value of label `name` of the image (e.g. its `version`), or undefined. */
export function labelOf(record: Pick<ImageRecord, 'labels'>, name: string): string | undefined {
  return record.labels.find((l) => l.name === name)?.value;
}
