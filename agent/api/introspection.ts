/**
 * Introspection XML of agentd's object, generated from the method table so the contract
 * is declared once (agent/api/agent1.ts).
 */
import { AGENT_INTERFACE, AGENT_METHODS, AGENT_SIGNALS } from './agent1.js';
import { splitSignature } from './signature.js';

const DOCTYPE = '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
  + ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">';

const STANDARD_INTERFACES = `  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>`;

function args(signature: string, direction: 'in' | 'out' | undefined): string {
  return splitSignature(signature)
    .map((type, i) => `<arg name="arg${i}" type="${type}"${direction ? ` direction="${direction}"` : ''}/>`)
    .join('');
}

/** XML for the agent object itself. */
export function agentIntrospectionXml(): string {
  const methods = Object.entries(AGENT_METHODS)
    .map(([name, m]) => `    <method name="${name}">${args(m.in, 'in')}${args(m.out, 'out')}</method>`);
  const signals = Object.entries(AGENT_SIGNALS)
    .map(([name, s]) => `    <signal name="${name}">${args(s.signature, undefined)}</signal>`);
  return `${DOCTYPE}
<node>
  <interface name="${AGENT_INTERFACE}">
${[...methods, ...signals].join('\n')}
  </interface>
${STANDARD_INTERFACES}
</node>
`;
}

/** XML for an intermediate node of the object path (e.g. /org), naming its child. */
export function parentNodeXml(child: string): string {
  return `${DOCTYPE}\n<node>\n  <node name="${child}"/>\n</node>\n`;
}
