/**
 * systemd's D-Bus errors turned into AgentErrors that name the unit and say what to do.
 */
import { AgentError } from '../../core/errors.js';
import { DBusCallError } from './dbus.js';

const HINTS: Record<string, { code: `systemd.${string}`; hint: string }> = {
  'org.freedesktop.systemd1.NoSuchUnit': { code: 'systemd.no-such-unit', hint: 'Check the unit name, or write its unit file first' },
  'org.freedesktop.systemd1.LoadFailed': { code: 'systemd.load-failed', hint: 'Check the unit file for errors (systemd-analyze verify)' },
  'org.freedesktop.systemd1.UnitMasked': { code: 'systemd.unit-masked', hint: 'Unmask the unit before starting it' },
  'org.freedesktop.systemd1.JobTypeNotApplicable': { code: 'systemd.not-applicable', hint: 'The unit does not support this operation' },
  'org.freedesktop.systemd1.OnlyByDependency': { code: 'systemd.only-by-dependency', hint: 'This unit may only be started as a dependency' },
  'org.freedesktop.systemd1.TransactionIsDestructive': { code: 'systemd.destructive', hint: 'A conflicting job is queued; retry when it finished' },
  'org.freedesktop.DBus.Error.AccessDenied': { code: 'systemd.access-denied', hint: 'Run as root' },
  'org.freedesktop.DBus.Error.ServiceUnknown': { code: 'systemd.unreachable', hint: 'Is systemd running on this bus?' },
  'org.freedesktop.DBus.Error.NameHasNoOwner': { code: 'systemd.unreachable', hint: 'Is systemd running on this bus?' },
  'org.freedesktop.DBus.Error.NoReply': { code: 'systemd.no-reply', hint: 'systemd did not answer in time; check its health' },
};

/** Wrap any error of a systemd call; `action` reads like "start", `subject` is the unit. */
export function systemdError(e: unknown, action: string, subject?: string): AgentError {
  if (e instanceof AgentError) return e;
  if (e instanceof DBusCallError) {
    const known = HINTS[e.errorName];
    return new AgentError({
      code: known?.code ?? 'systemd.call-failed',
      message: `systemd refused to ${action}: ${e.message}`,
      ...(subject !== undefined && { subject }),
      hint: known?.hint ?? `systemd answered ${e.errorName}`,
      cause: e,
    });
  }
  return new AgentError({
    code: 'systemd.call-failed',
    message: `could not ${action}: ${e instanceof Error ? e.message : String(e)}`,
    ...(subject !== undefined && { subject }),
    cause: e,
  });
}
