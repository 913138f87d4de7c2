//! [`render`]: a plan as text for bug reports, one line per operation or step. Paths
//! and symlink targets are quoted with Rust escapes, so tabs, newlines and control
//! characters stay visible; sizes are exact bytes.

use std::fmt::Write as _;

use super::plan::*;

/// The plan, one line per operation or step.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let origin = match (plan.seed, plan.case) {
        (Some(s), Some(c)) => format!("seed {s} case {c}"),
        _ => format!("{:?}", plan.name),
    };
    let _ = writeln!(out, "plan {origin} (format {})", plan.format);
    let t = &plan.tool;
    let _ = writeln!(
        out,
        "tool: chunk {} B, retain {}, chunks {}, manifests {}, sse {}, concurrency {}, spool {}, verify {} (sample {}), wait {}, timeout {} s, full every {} d, incremental every {} d",
        t.chunk_size_bytes,
        t.retain,
        t.storage_class_chunks,
        t.storage_class_manifest,
        t.sse,
        t.concurrency,
        if t.spool_enabled { format!("on ({} B)", t.spool_size_bytes) } else { "off".into() },
        t.verify_mode.as_str(),
        t.sample_max_files,
        t.wait_for_restore,
        t.restore_timeout_seconds,
        t.full_every_days,
        t.incremental_every_days,
    );
    for s in &plan.subvolumes {
        let _ = writeln!(out, "subvolume {:?}: {} initial operations", s.name, s.initial.len());
        for m in &s.initial {
            let _ = writeln!(out, "  {:?}| {}", s.name, mutation(m));
        }
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(out, "step {i}: {}", step_line(step));
        if let Step::Mutate { subvolume, ops } = step {
            for m in ops {
                let _ = writeln!(out, "  {subvolume:?}| {}", mutation(m));
            }
        }
    }
    out
}

fn content(c: &Content) -> String {
    let pattern = match c.pattern {
        Pattern::Random { seed } => format!("random({seed})"),
        Pattern::Zeros => "zeros".into(),
        Pattern::Repeat { seed, block } => format!("repeat({seed}, block {block})"),
    };
    format!("{} B {pattern}", c.len)
}

/// One mutation as text.
pub fn mutation(m: &Mutation) -> String {
    use Mutation::*;
    match m {
        Mkdir { path, mode } => format!("mkdir {path:?} {mode:04o}"),
        Write { path, content: c, mode } => format!("write {path:?} {} {mode:04o}", content(c)),
        WriteSparse { path, len, data, mode } => {
            let parts: Vec<String> =
                data.iter().map(|(o, c)| format!("@{o} {}", content(c))).collect();
            format!("write-sparse {path:?} len {len} [{}] {mode:04o}", parts.join(", "))
        }
        Overwrite { path, offset, content: c } => {
            format!("overwrite {path:?} @{offset} {}", content(c))
        }
        Append { path, content: c } => format!("append {path:?} {}", content(c)),
        Truncate { path, len } => format!("truncate {path:?} to {len}"),
        PunchHole { path, offset, len } => format!("punch-hole {path:?} @{offset} len {len}"),
        Remove { path } => format!("remove {path:?}"),
        Rmdir { path } => format!("rmdir {path:?}"),
        Rename { from, to } => format!("rename {from:?} -> {to:?}"),
        Chmod { path, mode } => format!("chmod {path:?} {mode:04o}"),
        Chown { path, uid, gid } => format!("chown {path:?} {uid}:{gid}"),
        Symlink { path, target } => format!("symlink {path:?} -> {target:?}"),
        Retarget { path, target } => format!("retarget {path:?} -> {target:?}"),
        Hardlink { existing, new } => format!("hardlink {new:?} = {existing:?}"),
        SetXattr { path, name, value } => {
            format!("setxattr {path:?} {name:?} = {} B", value.len() / 2)
        }
        RemoveXattr { path, name } => format!("removexattr {path:?} {name:?}"),
        Touch { path, mtime_sec, mtime_nsec } => {
            format!("touch {path:?} {mtime_sec}.{mtime_nsec:09}")
        }
        Reflink { from, to } => format!("reflink {to:?} = {from:?}"),
        CreateSubvolume { path } => format!("subvolume-create {path:?}"),
        DeleteSubvolume { path } => format!("subvolume-delete {path:?}"),
    }
}

/// One step as text (its operations, for a `Mutate`, are not listed).
pub fn step_line(step: &Step) -> String {
    match step {
        Step::Mutate { subvolume, ops } => {
            format!("mutate {subvolume:?} ({} operations)", ops.len())
        }
        Step::Backup(b) => backup_line(b),
        Step::Restore(r) => restore_line(r),
        Step::ForceFull { subvolume } => format!("force-full {subvolume:?}"),
        Step::DeleteSnapshot { subvolume, which } => {
            format!("delete-snapshot {subvolume:?} {which:?}")
        }
        Step::DeleteState => "delete-state".into(),
        Step::ChunkSizeFromLastFull { subvolume, parts } => {
            format!("chunk-size-from-last-full {subvolume:?} / {parts}")
        }
    }
}

fn backup_line(b: &BackupStep) -> String {
    let mut s = format!("backup after {} ms", b.gap_ms);
    for name in &b.subvolumes {
        let _ = write!(s, " --subvolume {name:?}");
    }
    if b.once {
        s.push_str(" --once");
    }
    match b.mode {
        BackupMode::Normal => {}
        BackupMode::DryRun => s.push_str(" --dry-run"),
        BackupMode::NoS3 => s.push_str(" --no-s3"),
    }
    if let Some(f) = &b.fault {
        let _ = write!(s, "; fault: {}", fault(f));
    }
    s
}

fn fault(f: &BackupFault) -> String {
    match f {
        BackupFault::Kill { at } => format!("kill {}", kill(at)),
        BackupFault::Contender { simultaneous } => {
            format!(
                "contender {}",
                if *simultaneous { "at the same instant" } else { "while it holds the lock" }
            )
        }
        BackupFault::StaleLock { content } => format!("stale lock ({content:?})"),
        BackupFault::S3Error { at, status } => format!("S3 error {status} on {}", request(at)),
    }
}

fn request(r: &RequestPoint) -> String {
    format!("{:?} request #{}", r.object, r.nth).to_lowercase()
}

fn kill(k: &KillPoint) -> String {
    match k {
        KillPoint::AfterDelay { ms } => format!("after {ms} ms"),
        KillPoint::OnEvent { event, nth } => format!("on event {event} #{nth}"),
        KillPoint::OnRequest { at, before } => {
            format!("{} {}", if *before { "before" } else { "after" }, request(at))
        }
    }
}

fn restore_line(r: &RestoreStep) -> String {
    let source = match r.source {
        RestoreSource::Current => "current.json".to_owned(),
        RestoreSource::Manifest { back } => format!("the manifest {back} back"),
    };
    let mut s = format!("restore {:?} from {source}, verify {}", r.subvolume, r.verify.as_str());
    match r.wait {
        Some(true) => s.push_str(", --wait-restore"),
        Some(false) => s.push_str(", --no-wait-restore"),
        None => {}
    }
    if r.existing_target {
        s.push_str(", onto an existing target");
    }
    if let Some(k) = &r.kill {
        let _ = write!(s, ", kill {}", kill(k));
    }
    if let Some(RestoreFault::CorruptChunk { from_end, pick }) = &r.fault {
        let _ = write!(
            s,
            ", serving a chunk of the manifest {from_end} back from the newest corrupted (pick {pick})"
        );
    }
    if r.retry {
        s.push_str(", then retry");
    }
    s
}
