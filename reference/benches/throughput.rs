//! Benchmark (not a timed test): backup and restore throughput of a 200 MiB subvolume
//! against the moto server, and the reference's peak memory with a 64 MiB chunk size,
//! measured as the `ru_maxrss` of the `b2s3-ref` process from `wait4(2)` (its own peak;
//! `btrfs send`/`receive` are separate processes). Run it with
//! `cargo bench -p b2s3-ref --bench throughput`; it prints a report, writes it to
//! `target/b2s3-ref-throughput.txt`, and fails if a peak reaches 4x the chunk size.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

use support::tool::parse_events;
use support::{Settings, World};

const MIB: u64 = 1024 * 1024;
const CHUNK: u64 = 64 * MIB;
const DATA: u64 = 200 * MIB;

/// One measured invocation.
struct Run {
    wall_seconds: f64,
    peak_rss_mib: f64,
    metrics: String,
}

fn measure(w: &World, args: &[&str]) -> Run {
    let log = w.scratch.join("bench.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_b2s3-ref"));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
    cmd.envs(w.env()).env_remove("B2S3_REF_BUG");
    let started = Instant::now();
    // Reaped by wait4 below, which also reports the child's peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall_seconds = started.elapsed().as_secs_f64();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{args:?} failed:\n{stderr}");
    let metrics = parse_events(&stderr)
        .into_iter()
        .find(|e| e.name.ends_with("_metrics"))
        .map(|e| format!("{} bytes in {} s = {}", e.get("total_bytes"), e.get("elapsed_seconds"), e.get("throughput")))
        .unwrap_or_default();
    Run { wall_seconds, peak_rss_mib: usage.ru_maxrss as f64 / 1024.0, metrics }
}

fn main() {
    let settings = Settings { chunk_size: CHUNK, verify_mode: "full".into(), ..Settings::default() };
    let w = World::new("bench", &["big"], settings);
    let mut rng = support::tree::Rng::new(42);
    for i in 0..4 {
        std::fs::write(w.vol("big").join(format!("part{i}.bin")), rng.bytes((DATA / 4) as usize)).unwrap();
    }
    let config = w.config_path().to_string_lossy().into_owned();
    let backup = measure(&w, &["backup", "--config", &config]);
    let target = w.target("restored").to_string_lossy().into_owned();
    let restore = measure(&w, &["restore", "--subvolume", "big", "--target", &target, "--config", &config]);
    let limit = 4.0 * (CHUNK / MIB) as f64;
    let report = format!(
        "b2s3-ref throughput benchmark: {} MiB subvolume, chunk_size {} MiB, moto server\n\
         backup : {:.2} s wall, peak RSS {:.1} MiB; backup_metrics: {}\n\
         restore: {:.2} s wall incl. full verification, peak RSS {:.1} MiB; restore_metrics: {}\n\
         peak RSS limit (4 x chunk): {limit:.0} MiB\n",
        DATA / MIB,
        CHUNK / MIB,
        backup.wall_seconds,
        backup.peak_rss_mib,
        backup.metrics,
        restore.wall_seconds,
        restore.peak_rss_mib,
        restore.metrics,
    );
    print!("{report}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/b2s3-ref-throughput.txt");
    let _ = std::fs::write(out, &report);
    assert!(backup.peak_rss_mib < limit, "backup peak RSS {:.1} MiB >= {limit} MiB", backup.peak_rss_mib);
    assert!(restore.peak_rss_mib < limit, "restore peak RSS {:.1} MiB >= {limit} MiB", restore.peak_rss_mib);
}
