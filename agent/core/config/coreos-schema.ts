/**
 * The keys coreos-cloudinit knew, with their types, valid values and deprecations, so that
 * files written for it validate here with the same entries. Values are checked with the same
 * rules as the reference (unit commands, reboot strategies, encodings, file permissions,
 * locksmith windows, etcd2 proxy modes). `reboot-strategy` also takes `fleetlock`, a
 * host-agent extension; `users[]` names, groups and `passwd` are checked too, since the
 * agent creates the users. Pure: no I/O.
 */
import { REBOOT_STRATEGIES } from '../schedule/strategy.js';
import { checkGroupName, checkLoginName, checkPasswordHash } from './checks.js';
import { bool, deprecated, deprecatedAll, fieldsOf, float, int, list, str, struct, type Field, type Schema } from './schema.js';

export const UNIT_COMMANDS = [
  'start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart',
] as const;

/** `encoding` values, each with the decoding it names. */
export const ENCODINGS = {
  base64: 'base64', b64: 'base64',
  gz: 'gzip', gzip: 'gzip',
  'gz+base64': 'gzip+base64', 'gzip+base64': 'gzip+base64', 'gz+b64': 'gzip+base64', 'gzip+b64': 'gzip+base64',
} as const;

const oneOf = (values: readonly string[], flags = ''): RegExp =>
  new RegExp(`^(${values.map((v) => v.replace(/[+.]/g, '\\$&')).join('|')})$`, flags);

export const VALID = {
  command: oneOf(UNIT_COMMANDS),
  rebootStrategy: oneOf(REBOOT_STRATEGIES),
  encoding: oneOf(Object.keys(ENCODINGS)),
  /** Octal, three or four digits, optionally with a leading 0. */
  permissions: /^0?[0-7]{3,4}$/,
  /** `[Day ]H:M`, the day in any case, leading zeros allowed. */
  windowStart: /^((sun|mon|tue|wed|thu|fri|sat) )?0*([0-9]|1[0-9]|2[0-3]):0*([0-9]|[1-5][0-9])$/i,
  /** A Go duration's shape: number-unit pairs. */
  windowLength: /^[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+$/,
  etcd2Proxy: /^(on|off|readonly)$/,
};

const ETCD2_ONLY = 'etcd2 options no longer work for etcd';
const REMOTE_KEYS = 'trying to fetch from a remote endpoint introduces too many intermittent errors';

const etcd = struct({
  ...fieldsOf(str, `addr bind_addr ca_file cert_file cors data_dir discovery graphite_host key_file name
    peer_addr peer_bind_addr peer_ca_file peer_cert_file peer_key_file peers peers_file trace`),
  ...fieldsOf(int, 'cluster_active_size max_result_buffer max_retry_attempts peer_election_timeout peer_heartbeat_interval snapshot_count'),
  ...fieldsOf(float, 'cluster_remove_delay cluster_sync_interval http_read_timeout http_write_timeout retry_interval'),
  ...fieldsOf(bool, 'snapshot verbose very_verbose very_very_verbose'),
  ...deprecatedAll(ETCD2_ONLY, {
    ...fieldsOf(str, `advertise_client_urls discovery_fallback discovery_srv discovery_proxy initial_advertise_peer_urls
      initial_cluster initial_cluster_state initial_cluster_token listen_client_urls listen_peer_urls proxy`),
    ...fieldsOf(int, 'election_timeout heartbeat_interval max_snapshots max_wals'),
    force_new_cluster: bool(),
  }),
});

const etcd2 = struct({
  ...fieldsOf(str, `advertise_client_urls cert_file cors data_dir discovery discovery_fallback discovery_srv
    discovery_proxy initial_advertise_peer_urls initial_cluster initial_cluster_state initial_cluster_token
    key_file listen_client_urls listen_peer_urls log_package_levels name peer_cert_file peer_key_file
    peer_trusted_ca_file trusted_ca_file wal_dir`),
  ca_file: deprecated(str(), 'ca_file obsoleted by trusted_ca_file and client_cert_auth'),
  peer_ca_file: deprecated(str(), 'peer_ca_file obsoleted peer_trusted_ca_file and peer_client_cert_auth'),
  proxy: str({ valid: VALID.etcd2Proxy }),
  ...fieldsOf(int, `election_timeout heartbeat_interval max_snapshots max_wals proxy_dial_timeout proxy_failure_wait
    proxy_read_timeout proxy_refresh_interval proxy_write_timeout snapshot_count`),
  ...fieldsOf(bool, 'client_cert_auth debug enable_pprof force_new_cluster peer_client_cert_auth strict_reconfig_check'),
});

/** flannel's options, written by the agent into flannel's environment file. */
export const FLANNEL = struct(fieldsOf(str, `etcd_endpoints etcd_cafile etcd_certfile etcd_keyfile etcd_prefix etcd_username
  etcd_password ip_masq subnet_file interface public_ip`));

const fleet = struct({
  ...fieldsOf(str, `agent_ttl authorized_keys_file etcd_cafile etcd_certfile etcd_keyfile etcd_key_prefix etcd_servers
    etcd_username etcd_password metadata public_ip`),
  ...fieldsOf(bool, 'disable_engine verify_units'),
  ...fieldsOf(float, 'engine_reconcile_interval etcd_request_timeout'),
  ...fieldsOf(int, 'token_limit verbosity'),
});

const locksmith = struct({
  ...fieldsOf(str, 'endpoint etcd_cafile etcd_certfile etcd_keyfile etcd_username etcd_password group'),
  window_start: str({ valid: VALID.windowStart }),
  window_length: str({ valid: VALID.windowLength }),
});

const oem = struct(fieldsOf(str, 'id name version_id home_url bug_report_url'));

const update = struct({
  reboot_strategy: str({ valid: VALID.rebootStrategy }),
  group: str(),
  server: str(),
});

const unit = struct({
  name: str(),
  mask: bool(),
  enable: bool(),
  runtime: bool(),
  content: str(),
  command: str({ valid: VALID.command }),
  drop_ins: list(struct({ name: str(), content: str() }), 'name'),
});

/** Users are created by the agent, so their names and hash are checked (our messages). */
const user = struct({
  name: str({ check: checkLoginName }),
  passwd: str({ check: checkPasswordHash }),
  primary_group: str({ check: checkGroupName }),
  ...fieldsOf(str, 'gecos homedir shell'),
  ssh_authorized_keys: list(str()),
  groups: list(str({ check: checkGroupName })),
  ...fieldsOf(bool, 'no_create_home no_user_group system no_log_init'),
  coreos_ssh_import_github: deprecated(str(), REMOTE_KEYS),
  coreos_ssh_import_github_users: deprecated(list(str()), REMOTE_KEYS),
  coreos_ssh_import_url: deprecated(str(), REMOTE_KEYS),
});

const file = struct({
  encoding: str({ valid: VALID.encoding }),
  content: str(),
  owner: str(),
  path: str(),
  permissions: str({ valid: VALID.permissions }),
});

const coreos = struct({
  etcd: deprecated(etcd, 'etcd is no longer shipped in Container Linux'),
  etcd2: deprecated(etcd2, 'etcd2 is no longer shipped in Container Linux'),
  flannel: FLANNEL,
  fleet: deprecated(fleet, 'fleet is no longer shipped in Container Linux'),
  locksmith,
  oem,
  update,
  units: list(unit, 'name'),
});

/** The top-level keys coreos-cloudinit knew. */
export const COREOS_CLOUDINIT_KEYS: Readonly<Record<string, Field | Schema>> = {
  ssh_authorized_keys: list(str()),
  coreos,
  write_files: list(file, 'path'),
  hostname: str(),
  users: list(user, 'name'),
  manage_etc_hosts: str(),
};
