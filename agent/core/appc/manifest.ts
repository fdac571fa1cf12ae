/**
 * The ImageManifest of an App Container Image (appc spec 0.8.11): types and validation of
 * every field, checked in the reference's order (fields as decoded, in document order, then
 * the manifest as a whole) and with its messages. Absent lists come back empty.
 * Pure: no I/O.
 */

import { readApp, type App } from './app.js';
import { readAnnotations, type Annotation } from './annotations.js';
import { readHash } from './hash.js';
import { checkHeader, readAcKind, readAcVersion } from './header.js';
import { readLabels, type Label } from './labels.js';
import { readAcIdentifier } from './names.js';
import { at, invalid, readArray, readFields, readInt, readStringArray } from './json.js';

export type { App } from './app.js';
export type { Annotation } from './annotations.js';
export type { Label } from './labels.js';

export interface Dependency {
  imageName: string;
  imageID?: string;
  labels: Label[];
  size?: number;
}

export interface ImageManifest {
  acKind: 'ImageManifest';
  acVersion: string;
  /** The image name, an AC Identifier. */
  name: string;
  labels: Label[];
  app?: App;
  annotations: Annotation[];
  dependencies: Dependency[];
  pathWhitelist: string[];
}

function readDependency(value: unknown, path: string): Dependency {
  const dep: Dependency = { imageName: '', labels: [] };
  readFields(value, path, {
    imageName: (v, p) => {
      dep.imageName = readAcIdentifier(v, p);
    },
    imageID: (v, p) => {
      dep.imageID = readHash(v, p);
    },
    labels: (v, p) => {
      dep.labels = readLabels(v, p);
    },
    size: (v, p) => {
      dep.size = readInt(v, p, true);
    },
  });
  if (dep.imageName === '') invalid(at(path, 'imageName'), 'imageName cannot be empty');
  return dep;
}

/**
 * Checks a parsed ImageManifest and returns it typed. Throws AgentError
 * `appc.invalid-manifest` whose subject is the path of the offending field
 * (e.g. `app.ports[0].port`) and whose message is the reference's.
 */
export function validateImageManifest(json: unknown): ImageManifest {
  let kind = '';
  const m: ImageManifest = {
    acKind: 'ImageManifest',
    acVersion: '',
    name: '',
    labels: [],
    annotations: [],
    dependencies: [],
    pathWhitelist: [],
  };
  readFields(json, '', {
    acKind: (v, p) => {
      kind = readAcKind(v, p);
    },
    acVersion: (v, p) => {
      m.acVersion = readAcVersion(v, p);
    },
    name: (v, p) => {
      m.name = readAcIdentifier(v, p);
    },
    labels: (v, p) => {
      m.labels = readLabels(v, p);
    },
    app: (v, p) => {
      m.app = readApp(v, p);
    },
    annotations: (v, p) => {
      m.annotations = readAnnotations(v, p);
    },
    dependencies: (v, p) => {
      m.dependencies = readArray(v, p, readDependency);
    },
    pathWhitelist: (v, p) => {
      m.pathWhitelist = readStringArray(v, p);
    },
  });
  checkHeader(kind, m.acVersion, 'ImageManifest');
  if (m.name === '') invalid('name', 'name must be set');
  return m;
}
