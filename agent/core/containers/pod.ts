/**
 * A pod's unit files, as rkt ran `rkt run IMG1 --- IMG2` (appc PodManifest): several apps
 * in one network namespace and one IPC namespace, started and stopped together, one
 * failing app failing the pod. systemd is the parent of every app:
 *
 * - `container-<pod>.service`, the pod unit (the one to start, stop and watch): brings the
 *   pod's network up before anything runs and down after everything ended (the network
 *   helper, as for a container), pulls in its apps (`Wants=`), and waits on the pod's exit
 *   FIFO: the first line an app writes there (`APP STATUS`) ends the pod with that status.
 * - `container-<pod>.<app>.service` per app: a RootDirectory= sandbox on the app's own
 *   overlay (its image's layers under a writable layer of its own), in the pod's network
 *   namespace (`NetworkNamespacePath=` the pod's namespace file; `network: none`:
 *   `PrivateNetwork=`) and IPC namespace (`PrivateIPC=` + `JoinsNamespaceOf=` the other
 *   apps); `BindsTo=` + `After=` the pod, so it stops before the pod's network goes, and
 *   when the pod stops. Its `ExecStopPost=` (outside the sandbox: `+`) writes its exit to
 *   the FIFO when it ended in failure.
 * - `container-<pod>.<app>.rootfs.service` per app: keeps the app's overlay mounted, as for
 *   isolation fly (AC Names have no dots, so these names collide with no container).
 *
 * Why not one nspawn per app: systemd-nspawn always makes an IPC namespace of its own, so
 * apps under nspawn could not share one. Pure: no I/O.
 */
import { limitsOf, type Limits } from './limits.js';
import { networkCommands, networkFiles, netnsOf, networkStart, networkUnshare, networkUp } from './network.js';
import { commandLine, escapeSpecifiers, quoteWord } from './quote.js';
import { comment, header, install, output, rootfsService, sandboxService, section, type Lines } from './sections.js';
import { appContainer, resolve, type AppHost, type ContainerHost, type ContainerSpec, type ResolvedContainer } from './spec.js';

export function appUnitName(pod: string, app: string): string {
  return `container-${pod}.${app}.service`;
}

export function appRootfsUnitName(pod: string, app: string): string {
  return `container-${pod}.${app}.rootfs.service`;
}

/**
 * Before the pod starts: its exit FIFO (`$1`) anew, and its IPC namespace as a file (`$2`,
 * bind-mounted by `unshare --ipc=FILE`, as the network helper makes the network namespace),
 * a leftover of a crash unmounted first.
 */
const POD_UP = 'umount "$2" 2>/dev/null; rm -f "$1" "$2" && mkfifo -m 0600 "$1" && : > "$2" && unshare --ipc="$2" true';

/** After the pod ended: the FIFO (`$1`) and the IPC namespace file (`$2`) go; missing is fine. */
const POD_DOWN = 'umount "$2" 2>/dev/null; rm -f "$1" "$2"';

/**
 * The pod's main process: waits for the first `APP STATUS` line on the FIFO (`$1`), says
 * which app failed and exits with its status. Opened read-write, so neither side blocks
 * on open; a stop's SIGTERM ends it cleanly.
 */
const POD_WAIT = 'exec 3<>"$1"; read -r app status <&3; echo "pod: app $app failed with exit status $status; stopping the pod" >&2; exit "$status"';

/**
 * An app's OnFailure= unit (`$1` the FIFO, `$2` the app), with the failed app's
 * MONITOR_EXIT_CODE and MONITOR_EXIT_STATUS: its exit status (1 when it was killed by a
 * signal or could not start) to the FIFO, while the pod waits on it.
 */
const APP_FAILED = '[ -p "$1" ] || exit 0; if [ "$MONITOR_EXIT_CODE" = exited ] && [ "$MONITOR_EXIT_STATUS" -gt 0 ] 2>/dev/null; '
  + 'then s=$MONITOR_EXIT_STATUS; else s=1; fi; exec 3<>"$1"; echo "$2 $s" >&3';

export function appFailureUnitName(pod: string, app: string): string {
  return `container-${pod}.${app}.onfailure.service`;
}

export interface RenderedPod {
  files: Array<{ name: string; text: string }>;
  warnings: string[];
}

/** The apps of `spec`, resolved against their images, with their host paths. */
function podApps(spec: ContainerSpec, host: ContainerHost): Array<{ app: ResolvedContainer; host: ContainerHost; limits: Limits }> {
  return (spec.apps ?? []).map((a, i) => {
    const appHost: AppHost = host.pod!.apps[i]!;
    const app = resolve(appContainer(spec, a));
    return { app, host: { ...host, imageLayers: appHost.imageLayers, layer: appHost.layer }, limits: limitsOf(app) };
  });
}

/** The namespace lines of one app: the pod's network (and its resolv.conf and hosts), one IPC namespace for all apps. */
function namespaces(pod: ResolvedContainer, host: ContainerHost): Lines {
  const lines: Lines = [['IPCNamespacePath', escapeSpecifiers(host.pod!.ipcNamespace)]];
  const netns = netnsOf(pod, host);
  const files = networkFiles(pod, host);
  if (netns !== undefined && files !== undefined) {
    lines.push(
      ['NetworkNamespacePath', escapeSpecifiers(netns)],
      ['BindReadOnlyPaths', quoteWord(`${files.resolvConf}:/etc/resolv.conf`)],
      ['BindReadOnlyPaths', quoteWord(`${files.hosts}:/etc/hosts`)],
    );
  } else if (pod.network.mode === 'none') {
    lines.push(['PrivateNetwork', 'yes']);
  }
  return lines;
}

/** The pod's unit files, pod unit first. */
export function renderPod(spec: ContainerSpec, host: ContainerHost, hash: string): RenderedPod {
  const pod = resolve(spec);
  const apps = podApps(spec, host);
  const names = apps.map((a) => a.app.name);
  const { exitFifo: fifo, ipcNamespace } = host.pod!;
  const net = networkCommands(pod, host);
  const up = networkUp(pod, host);
  const podUnit: Lines = [
    ['Description', escapeSpecifiers(`Pod ${pod.name} (${names.join(', ')})`)],
    ...header(pod, hash, 'Pod').slice(1),
    ['Wants', names.map((n) => appUnitName(pod.name, n)).join(' ')],
  ];
  const podService: Lines = [
    ['Type', 'exec'],
    ['Slice', 'machine.slice'],
    ['KillMode', 'control-group'],
    ['Restart', pod.restart],
    ...output(host),
    ...networkStart(net, false),
    ...(up ? [['ExecStartPre', commandLine(['unshare', ...networkUnshare(pod, host), '--', '/bin/sh', '-c', `${up.script}\nnet_up "$@"`, `pod-${pod.name}`, ...up.args])] as [string, string]] : []),
    ['ExecStartPre', commandLine(['/bin/sh', '-c', POD_UP, `pod-${pod.name}`, fifo, ipcNamespace])],
    ['ExecStart', commandLine(['/bin/sh', '-c', POD_WAIT, `pod-${pod.name}`, fifo])],
    ...(net ? [['ExecStopPost', `-${commandLine(net.post)}`] as [string, string]] : []),
    ['ExecStopPost', `-${commandLine(['/bin/sh', '-c', POD_DOWN, `pod-${pod.name}`, fifo, ipcNamespace])}`],
  ];
  const files = [{ name: `container-${pod.name}.service`, text: `${comment(pod.name)}${section('Unit', podUnit)}\n${section('Service', podService)}${install(host)}` }];
  const warnings: string[] = [];
  const podUnitName = `container-${pod.name}.service`;
  for (const { app, host: appHost, limits } of apps) {
    const rootfs = appRootfsUnitName(pod.name, app.name);
    const onFailure = appFailureUnitName(pod.name, app.name);
    const unit: Lines = [
      ...header(app, hash, `App of pod ${pod.name}:`, pod.name),
      ['BindsTo', `${podUnitName} ${rootfs}`],
      ['After', `${podUnitName} ${rootfs}`],
      ['OnFailure', onFailure],
    ];
    const service = sandboxService(app, appHost, limits, { restart: 'no', privateTmp: false, namespaces: namespaces(pod, host) });
    files.push({ name: appUnitName(pod.name, app.name), text: `${comment(pod.name)}${section('Unit', unit)}\n${section('Service', service)}` });
    const failedUnit: Lines = [...header(app, hash, `Failure of app of pod ${pod.name}:`, pod.name)];
    const failedService: Lines = [
      ['Type', 'oneshot'],
      ['Slice', 'machine.slice'],
      ['ExecStart', commandLine(['/bin/sh', '-c', APP_FAILED, `app-${app.name}-failed`, fifo, app.name])],
    ];
    files.push({ name: onFailure, text: `${comment(pod.name)}${section('Unit', failedUnit)}\n${section('Service', failedService)}` });
    const rootfsUnit: Lines = [...header(app, hash, `Root file system of app of pod ${pod.name}:`, pod.name), ['StopWhenUnneeded', 'yes']];
    files.push({ name: rootfs, text: `${comment(pod.name)}${section('Unit', rootfsUnit)}\n${section('Service', rootfsService(appHost))}` });
    warnings.push(...limits.warnings.map((w) => `app ${app.name}: ${w}`));
  }
  return { files, warnings };
}
