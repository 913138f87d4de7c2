#!/usr/bin/env bash
# The main job on a fresh machine: prepares it, builds the workspace, checks the
# environment, then runs the tester against the embedded default (the reference tool,
# a local moto S3 server, loop-file btrfs under run/): the fixed scenarios, then the PR
# campaign of generated cases with faults. Tears everything down at the end,
# also on failure or Ctrl-C.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup-machine.sh
cargo build --workspace
harness="$repo/target/debug/b2s3-harness"
config="${B2S3_CONFIG:-$repo/config/reference.toml}"
trap '"$harness" --config "$config" teardown >/dev/null || true' EXIT
"$harness" --config "$config" doctor
"$harness" --config "$config" scenario all
"$harness" --config "$config" fuzz --profile pr
