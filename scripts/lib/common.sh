# Shared by scripts/demo, scripts/test and scripts/install: install what is missing
# (apt for OS packages, npm for JS packages) and build. Each step is idempotent and
# skipped when already done.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# OS packages the project needs at run time and in tests.
APT_PACKAGES=(dbus systemd systemd-container busybox-static gdisk cgpt gnupg etcd-server
  curl openssl xz-utils bzip2 iproute2 util-linux debootstrap attr man-db groff-base
  containernetworking-plugins iptables docker-registry skopeo umoci cryptsetup-bin time)

say() { printf '==> %s\n' "$*" >&2; }

ensure_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "$(basename "$0"): run as root (it installs packages and starts a private systemd)" >&2
    exit 1
  fi
}

ensure_apt_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing OS packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_npm_deps() {
  local stamp="$REPO/node_modules/.host-agent-lock"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$REPO/package-lock.json"; then return 0; fi
  say "installing npm packages (npm ci)"
  (cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$REPO/package-lock.json" "$stamp"
}

build() {
  say "building (tsc)"
  (cd "$REPO" && node "$REPO/node_modules/typescript/bin/tsc" -p tsconfig.json)
  chmod +x "$REPO/dist/agent/main.js" "$REPO/dist/agent/cli/main.js"
}
