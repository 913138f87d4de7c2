#!/usr/bin/env bash
# The project's test command: prepares the machine, then runs every test of the
# workspace (the tester and the reference tool) on real btrfs and a real S3 server.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup-machine.sh
export B2S3_MOTO_SERVER="${B2S3_MOTO_SERVER:-$repo/run/venv/bin/moto_server}"
cargo build --workspace --all-targets
cargo test --workspace "$@"
