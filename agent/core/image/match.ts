/**
 * Which stored image a reference names, decided on the image record alone (so it works for
 * every format). An appc reference `NAME[:VERSION][,LABEL=VALUE]…` names the images of
 * that name whose labels include every label given (`version` among them); the OCI
 * matcher, on its references, sits beside it. Pure: no I/O.
 */
import type { ImageRecord } from './record.js';

/** An appc reference as parsed (agent/core/appc/app-string.ts): name and the labels written. */
export interface NameAndLabels {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** True when the image `record` is one the appc reference `ref` can name. */
export function answersToAppRef(record: Pick<ImageRecord, 'name' | 'labels'>, ref: NameAndLabels): boolean {
  return record.name === ref.name && Object.entries(ref.labels).every(([name, value]) => record.labels.some((l) => l.name === name && l.value === value));
}

/** The value of label `name` of the image (e.g. its `version`), or undefined. */
export function labelOf(record: Pick<ImageRecord, 'labels'>, name: string): string | undefined {
  return record.labels.find((l) => l.name === name)?.value;
}
