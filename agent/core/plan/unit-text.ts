/**
 * The text of unit files and drop-ins the agent writes: the given content with a header
 * comment and the `X-HostAgent-Source=` marker in [Unit], so the agent recognises its own
 * files and never touches the administrator's. Pure.
 */

export const MARKER_KEY = 'X-HostAgent-Source';
export const CONFIG_ORIGIN = 'cloud-config';

const HEADER = '# Written by host-agent; edit the source named below instead of this file.\n';

/** `content` with the header and the marker line for `origin`. */
export function withMarker(content: string, origin: string): string {
  const marker = `${MARKER_KEY}=${origin}`;
  const body = content.endsWith('\n') ? content : `${content}\n`;
  const unitHeader = /^\[Unit\][ \t]*$/m.exec(body);
  if (unitHeader) {
    const at = unitHeader.index + unitHeader[0].length;
    return `${HEADER}${body.slice(0, at)}\n${marker}${body.slice(at)}`;
  }
  return `${HEADER}[Unit]\n${marker}\n\n${body}`;
}

/** The origin recorded in a file's marker, or undefined when the agent did not write it. */
export function markerOf(text: string): string | undefined {
  return new RegExp(`^${MARKER_KEY}=(.*)$`, 'm').exec(text)?.[1]?.trim();
}
