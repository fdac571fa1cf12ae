/**
 * Checks a stored image record (the `record.json` an OCI image keeps in the store) field by
 * field before anything uses it: a damaged record must not reach a unit file. Returns the
 * record typed, or why it is refused (the shape of host/fs/state-file.ts's checks).
 * Pure: no I/O.
 */
import { isImageId } from './id.js';
import type { ImageRecord, ImageRunConfig } from './record.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isOptionalString = (v: unknown): boolean => v === undefined || isString(v);
const isLabel = (v: unknown): boolean => isObject(v) && isString(v.name) && isString(v.value);
const isPort = (v: unknown): boolean =>
  isObject(v) && isString(v.name) && Number.isInteger(v.port) && (v.protocol === 'tcp' || v.protocol === 'udp') &&
  (v.count === undefined || Number.isInteger(v.count));
const isIsolator = (v: unknown): boolean => isObject(v) && isString(v.name) && 'value' in v;

function runProblems(run: unknown): string[] {
  if (!isObject(run)) return ['run is not an object'];
  return [
    !isStrings(run.exec) && 'run.exec is not a list of strings',
    !(Array.isArray(run.environment) && run.environment.every((e) => isStrings(e) && e.length === 2)) && 'run.environment is not a list of [name, value] pairs',
    !isOptionalString(run.user) && 'run.user is not a string',
    !isOptionalString(run.group) && 'run.group is not a string',
    !isOptionalString(run.workingDirectory) && 'run.workingDirectory is not a string',
    !(Array.isArray(run.ports) && run.ports.every(isPort)) && 'run.ports are not ports',
    !(Array.isArray(run.isolators) && run.isolators.every(isIsolator)) && 'run.isolators are not isolators',
  ].filter(isString);
}

/** `json` as the record of image `id`: refused unless every field has its type and the id matches. */
export function checkImageRecord(json: unknown, id: string): { value: ImageRecord } | { refused: string } {
  if (!isObject(json)) return { refused: 'it is not a JSON object' };
  const o = json;
  const problems = [
    o.id !== id && `its id is not ${id}`,
    o.format !== 'appc' && o.format !== 'oci' && 'format is not appc or oci',
    !(isString(o.name) && o.name !== '') && 'name is not a string',
    !(Array.isArray(o.labels) && o.labels.every(isLabel)) && 'labels are not a list of name/value pairs',
    !(isObject(o.annotations) && Object.values(o.annotations).every(isString)) && 'annotations are not a map of strings',
    !isOptionalString(o.reference) && 'reference is not a string',
    !isOptionalString(o.digest) && 'digest is not a string',
    !(isStrings(o.layers) && o.layers.length > 0 && o.layers.every(isImageId)) && 'layers are not a list of layer IDs',
    ...(o.run === undefined ? [] : runProblems(o.run)),
  ].filter(isString);
  if (problems.length) return { refused: problems.join(', ') };
  const { format, name, labels, annotations, reference, digest, layers, run } = o as unknown as ImageRecord;
  return {
    value: {
      id, format, name, labels, annotations, layers,
      ...(reference !== undefined && { reference }),
      ...(digest !== undefined && { digest }),
      ...(run !== undefined && { run: run as ImageRunConfig }),
    },
  };
}
