#!/usr/bin/env bash
# The project's test command: prepares the machine, then runs every test of the
# workspace (the tester and the reference tool) on real btrfs and a real S3 server.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup-machine.sh
# One moto venv (made by setup-machine.sh) serves every test; the names below are the
# ones the harness (B2S3_VENV), the S3 tests (B2S3_MOTO_VENV) and the reference's tests
# (B2S3_MOTO_SERVER) read.
venv="${B2S3_VENV:-$repo/run/venv}"
export B2S3_VENV="$venv" B2S3_MOTO_VENV="$venv" B2S3_MOTO_SERVER="$venv/bin/moto_server"
cargo build --workspace --all-targets
cargo test --workspace "$@"
