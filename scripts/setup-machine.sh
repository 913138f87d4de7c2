#!/usr/bin/env bash
# Installs what b2s3-harness needs on a fresh Debian machine, and nothing else:
#   - btrfs-progs (mkfs.btrfs, btrfs send/receive), from Debian's packages;
#   - a Python venv with moto's S3 server at run/venv (the embedded S3 server).
# Idempotent: each part is skipped when already present. Must run as root.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${B2S3_VENV:-$repo/run/venv}"

if [ "$(id -u)" != 0 ]; then
    echo "setup-machine: must run as root (it installs packages; the harness mounts filesystems)" >&2
    exit 2
fi

if ! command -v mkfs.btrfs >/dev/null 2>&1; then
    echo "setup-machine: installing btrfs-progs" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq btrfs-progs >/dev/null
fi

if [ ! -x "$venv/bin/moto_server" ]; then
    echo "setup-machine: creating the moto venv at $venv (about 30 s)" >&2
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'moto[server]' boto3
fi

grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null || {
    echo "setup-machine: this kernel has no btrfs support" >&2
    exit 2
}
[ -e /dev/loop-control ] || {
    echo "setup-machine: no /dev/loop-control: loop devices are needed for the btrfs images" >&2
    exit 2
}
echo "setup-machine: ok (btrfs-progs $(btrfs --version | awk '{print $2}'), moto venv $venv)" >&2
