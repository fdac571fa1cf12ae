/**
 * Inputs shared by the renderer's unit tests: an image manifest (and its record), a spec with every field
 * set, and the host paths the host side would compute.
 */
import { createHash } from 'node:crypto';
import { validateImageManifest } from '../../../../agent/core/appc/manifest.js';
import { appcRecord } from '../../../../agent/core/appc/record.js';
import { renderContainer, type RenderedContainer } from '../../../../agent/core/containers/render.js';
import type { ContainerHost, ContainerSpec, RenderInput } from '../../../../agent/core/containers/spec.js';

export const IMAGE_ID = `sha512-${'0123456789abcdef'.repeat(8)}`;

export const manifest = validateImageManifest({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/web',
  labels: [{ name: 'version', value: '1.4.0' }],
  app: {
    exec: ['/bin/httpd', '-f', '-p', '8080'],
    user: '0',
    group: '0',
    workingDirectory: '/srv',
    environment: [{ name: 'PATH', value: '/bin:/usr/bin' }, { name: 'GREETING', value: 'from image' }],
    isolators: [
      { name: 'resource/memory', value: { limit: '256Mi' } },
      { name: 'resource/cpu', value: { limit: '500m' } },
      { name: 'os/linux/oom-score-adj', value: 100 },
    ],
  },
});

export const host: ContainerHost = {
  imageLayers: [`/var/lib/host-agent/images/${IMAGE_ID}/rootfs`],
  layer: {
    upper: '/var/lib/host-agent/containers/web/upper',
    work: '/var/lib/host-agent/containers/web/work',
    merged: '/var/lib/host-agent/containers/web/merged',
  },
  metacopy: true,
};

export function spec(fields: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name: 'web', image: appcRecord(manifest, IMAGE_ID), environment: {}, volumes: [], ports: [], restart: 'no', isolation: 'nspawn', ...fields };
}

export function input(fields: Partial<ContainerSpec> = {}, hostFields: Partial<ContainerHost> = {}): RenderInput {
  return { spec: spec(fields), host: { ...host, ...hostFields } };
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The renderer with node's SHA-256, as the host side gives it. */
export const render = (i: RenderInput): RenderedContainer => renderContainer(i, sha256Hex);
