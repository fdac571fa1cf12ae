/**
 * A D-Bus method call as both of our D-Bus clients take it (dbus-next in agentd, the
 * lean client in agentctl).
 */

export interface MethodCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}
