#!/usr/bin/env bash
# Installs the Idlegrid agent as a systemd service on a Linux rig:
#
#   sudo ./install-agent.sh --server https://grid.example.com --enroll ige_… [--region eu-west] [--binary ./idlegrid-agent]
#
# It creates the system user "idlegrid", the data directory
# /var/lib/idlegrid-agent (mode 0700, the device key lives there), the
# settings file /etc/idlegrid/agent.env (mode 0600, it holds the enrollment
# token), installs the binary and the unit, and starts the service; the
# agent enrolls itself with the farm's token on its first start.
# --root DIR installs into DIR instead of / and only prints the user and
# systemctl steps (packaging, tests).
set -euo pipefail

server="" enroll="" region="" binary="" root="/"
here="$(cd "$(dirname "$0")" && pwd)"
die() { echo "install-agent: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="${2:-}"; shift 2 ;;
    --enroll) enroll="${2:-}"; shift 2 ;;
    --region) region="${2:-}"; shift 2 ;;
    --binary) binary="${2:-}"; shift 2 ;;
    --root) root="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$server" ] || die "--server URL is required (the control plane, e.g. https://grid.example.com)"
case "$server" in http://*|https://*) ;; *) die "--server must start with http:// or https://" ;; esac
[ -n "$enroll" ] || die "--enroll TOKEN is required (create one in the console under Devices → farm enrollment tokens)"
case "$enroll" in *[!A-Za-z0-9_-]*) die "the enrollment token has characters a token never has: copy it again" ;; esac
if [ -n "$region" ]; then
  case "$region" in *[!a-z0-9-]*) die "--region: lowercase letters, digits and dashes, like eu-west" ;; esac
fi
if [ -z "$binary" ]; then
  binary="$(command -v idlegrid-agent || true)"
  [ -n "$binary" ] || binary="$here/idlegrid-agent"
fi
[ -x "$binary" ] || die "no idlegrid-agent binary at $binary: pass --binary PATH"
live=false
if [ "$root" = "/" ]; then
  live=true
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates a system user and a service"
  command -v systemctl >/dev/null || die "systemd is needed; run idlegrid-agent by hand instead"
fi
run() { if $live; then "$@"; else echo "would run: $*"; fi; }

echo "Installing the Idlegrid agent (server $server)…"
if ! $live || ! id idlegrid >/dev/null 2>&1; then
  run useradd --system --home-dir /var/lib/idlegrid-agent --shell /usr/sbin/nologin idlegrid
fi
install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system"
install -d -m 0750 "$root/etc/idlegrid"
install -d -m 0700 "$root/var/lib/idlegrid-agent"
install -m 0755 "$binary" "$root/usr/local/bin/idlegrid-agent"
install -m 0644 "$here/idlegrid-agent.service" "$root/etc/systemd/system/idlegrid-agent.service"
umask 077
{
  echo "# Written by install-agent.sh. The token is only used on the first start."
  echo "IDLEGRID_SERVER=$server"
  echo "IDLEGRID_ENROLL=$enroll"
  [ -z "$region" ] || echo "IDLEGRID_REGION=$region"
} > "$root/etc/idlegrid/agent.env"
chmod 0600 "$root/etc/idlegrid/agent.env"
# systemd reads the settings as root before it drops to the agent's user,
# so they stay root's alone.
if $live; then
  chown -R idlegrid:idlegrid /var/lib/idlegrid-agent
fi
run systemctl daemon-reload
run systemctl enable --now idlegrid-agent.service
echo "Done. Follow it with: journalctl -u idlegrid-agent -f"
