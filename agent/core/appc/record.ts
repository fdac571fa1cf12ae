/**
 * The appc adapter to the format-neutral image model: an ImageManifest and the store's
 * image ID → ImageRecord. An ACI is one layer (its rootfs), whose layer ID is the image ID.
 * Annotations gather the manifest's annotations, then the app's userAnnotations, then its
 * userLabels (a later name replaces an earlier one). Pure: no I/O.
 */
import type { ImagePort, ImageRecord, ImageRunConfig } from '../image/record.js';
import type { App, ImageManifest } from './manifest.js';

function runConfig(app: App): ImageRunConfig {
  const ports = app.ports.flatMap((p): ImagePort[] => {
    // appc names any protocol; a container forwards only these two.
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') return [];
    return [{ name: p.name, port: p.port, protocol: p.protocol, ...(p.count > 1 && { count: p.count }) }];
  });
  return {
    exec: app.exec,
    environment: app.environment.map((e): [string, string] => [e.name, e.value]),
    user: app.user,
    group: app.group,
    ...(app.workingDirectory !== '' && { workingDirectory: app.workingDirectory }),
    ports,
    isolators: app.isolators,
  };
}

/** The record of the appc image `id` whose manifest is `manifest` (as validateImageManifest returns it). */
export function appcRecord(manifest: ImageManifest, id: string): ImageRecord {
  const annotations: Record<string, string> = {};
  for (const a of manifest.annotations) annotations[a.name] = a.value;
  Object.assign(annotations, manifest.app?.userAnnotations, manifest.app?.userLabels);
  return {
    id,
    format: 'appc',
    name: manifest.name,
    labels: manifest.labels.map((l) => ({ name: l.name, value: l.value })),
    annotations,
    layers: [id],
    ...(manifest.app && { run: runConfig(manifest.app) }),
  };
}
