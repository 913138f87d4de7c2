//! Turning abstract operations into concrete [`Mutation`]s against the evolving model.
//! An operation picks its paths among those that exist now (index modulo count); one
//! with nothing to pick, or whose result the model refuses, is dropped. What is kept
//! has been applied to the model, so a plan built this way replays without error.

use super::choices::Choices;
use super::names::{self, NameSel};
use super::plan::Mutation;
use super::skeleton::{AbsOp, OpKind};
use crate::fixture::tree::EntryKind;
use crate::model::{join, EntryView, ModelTree};

/// Owners (uid, gid) an operation may set.
const OWNERS: &[(u32, u32)] =
    &[(0, 0), (1000, 1000), (1001, 100), (65534, 65534), (0, 1000), (4242, 0), (123456, 654321)];
/// The user xattr names; four at most per inode keeps within ext4's one-block limit.
const XATTRS: &[&str] = &["user.a", "user.comment", "user.mime_type", "user.b2s3.\u{e9}t\u{e9}"];

/// Concretizes `op`, applies the result to `model`, and returns what was applied.
pub(crate) fn apply_op(op: &AbsOp, model: &mut ModelTree, c: &Choices) -> Vec<Mutation> {
    let max_path = c.profile.max_path_bytes as usize;
    concretize(op, model, c)
        .into_iter()
        .filter(|m| m.paths().iter().all(|p| p.len() <= max_path) && model.apply(m).is_ok())
        .collect()
}

fn pick<'a>(items: &[&'a str], sel: u32) -> Option<&'a str> {
    (!items.is_empty()).then(|| items[sel as usize % items.len()])
}

fn select(model: &ModelTree, keep: impl Fn(&EntryView) -> bool) -> Vec<&str> {
    model.entries().filter(|e| keep(e)).map(|e| e.path).collect()
}

/// Directories an entry may be created in, the root (`""`) first.
fn dirs(model: &ModelTree) -> Vec<&str> {
    let mut v = vec![""];
    v.extend(select(model, |e| e.kind == EntryKind::Dir));
    v
}

fn files(model: &ModelTree) -> Vec<&str> {
    select(model, |e| e.kind == EntryKind::File)
}

/// A fresh path in directory `dir` for `name`, if it fits the profile's path limit.
fn new_path(model: &ModelTree, c: &Choices, dir: &str, name: NameSel) -> Option<String> {
    let siblings = model.child_names(dir);
    let base = names::base_name(name, &siblings);
    let path = join(dir, &names::unique_name(base, &siblings));
    (path.len() <= c.profile.max_path_bytes as usize).then_some(path)
}

/// A fresh path in the directory picked by `sel`.
fn new_path_in(model: &ModelTree, c: &Choices, sel: u32, name: NameSel) -> Option<String> {
    new_path(model, c, pick(&dirs(model), sel)?, name)
}

fn concretize(op: &AbsOp, model: &ModelTree, c: &Choices) -> Vec<Mutation> {
    use OpKind::*;
    match op.kind {
        Create | Rewrite | Overwrite | Append | TruncateDown | TruncateUp | PunchHole | Sparse
        | Reflink => content_op(op, model, c).into_iter().collect(),
        Remove | UnlinkLink | RenameFile | RenameDir | Mkdir | Rmdir | Hardlink | Symlink
        | Retarget => namespace_op(op, model, c).into_iter().collect(),
        Chmod | Chown | SetXattr | RemoveXattr | Touch | SubvolumeCreate | SubvolumeDelete => {
            metadata_op(op, model, c).into_iter().collect()
        }
        DeepChain | FanOut | ManySmall => builder_op(op, model, c),
    }
}

/// Operations that create or change file content.
fn content_op(op: &AbsOp, model: &ModelTree, c: &Choices) -> Option<Mutation> {
    let file = || pick(&files(model), op.pick).map(str::to_owned);
    let len_of = |p: &str| model.view(p).map_or(0, |v| v.len);
    let room = |p: &str| c.profile.max_file_size.saturating_sub(len_of(p));
    Some(match op.kind {
        OpKind::Create => Mutation::Write {
            path: new_path_in(model, c, op.pick, op.name)?,
            content: c.content(op.size, op.pattern, u64::MAX),
            mode: c.file_mode(op.mode),
        },
        OpKind::Rewrite => Mutation::Write {
            path: file()?,
            content: c.content(op.size, op.pattern, u64::MAX),
            mode: c.file_mode(op.mode),
        },
        OpKind::Overwrite => {
            let path = file()?;
            let offset = u64::from(op.dest) % (len_of(&path) + 1);
            let cap = c.profile.max_file_size.saturating_sub(offset);
            Mutation::Overwrite { content: c.content(op.size, op.pattern, cap), offset, path }
        }
        OpKind::Append => {
            let path = file()?;
            Mutation::Append { content: c.content(op.size, op.pattern, room(&path)), path }
        }
        OpKind::TruncateDown => {
            let path = file()?;
            let len = (u128::from(len_of(&path)) * u128::from(op.n % 65536) / 65536) as u64;
            Mutation::Truncate { path, len }
        }
        OpKind::TruncateUp => {
            let path = file()?;
            let len = len_of(&path) + c.size(op.size).min(room(&path));
            Mutation::Truncate { path, len }
        }
        OpKind::PunchHole => {
            let path = file()?;
            let offset = u64::from(op.dest) % (len_of(&path) + 1);
            Mutation::PunchHole { path, offset, len: c.size(op.size).max(1) }
        }
        OpKind::Sparse => sparse(op, model, c)?,
        OpKind::Reflink => {
            Mutation::Reflink { from: file()?, to: new_path_in(model, c, op.dest, op.name)? }
        }
        _ => unreachable!("content_op called with {:?}", op.kind),
    })
}

fn sparse(op: &AbsOp, model: &ModelTree, c: &Choices) -> Option<Mutation> {
    let path = new_path_in(model, c, op.pick, op.name)?;
    let len = c.size(op.size);
    let data = op
        .ranges
        .iter()
        .filter(|_| len > 0)
        .map(|(at, size, pattern)| {
            let offset = u64::from(*at) % len;
            (offset, c.content(*size, *pattern, len - offset))
        })
        .collect();
    Some(Mutation::WriteSparse { path, len, data, mode: c.file_mode(op.mode) })
}

/// Operations on names: links, renames, directories, symlinks.
fn namespace_op(op: &AbsOp, model: &ModelTree, c: &Choices) -> Option<Mutation> {
    let non_dirs = || select(model, |e| e.kind != EntryKind::Dir);
    let plain_dirs = || select(model, |e| e.kind == EntryKind::Dir && !e.subvolume_root);
    let empty_dirs = || {
        select(model, |e| e.kind == EntryKind::Dir && !e.subvolume_root)
            .into_iter()
            .filter(|d| model.child_names(d).is_empty())
            .collect::<Vec<_>>()
    };
    let owned = |p: Option<&str>| p.map(str::to_owned);
    Some(match op.kind {
        OpKind::Remove => Mutation::Remove { path: owned(pick(&non_dirs(), op.pick))? },
        OpKind::UnlinkLink => {
            let linked = select(model, |e| e.kind == EntryKind::File && e.links > 1);
            Mutation::Remove { path: owned(pick(&linked, op.pick))? }
        }
        OpKind::RenameFile => {
            let from = owned(pick(&non_dirs(), op.pick))?;
            let replace = if op.flag { owned(pick(&non_dirs(), op.dest)) } else { None };
            let to = replace.or_else(|| new_path_in(model, c, op.dest, op.name))?;
            Mutation::Rename { from, to }
        }
        OpKind::RenameDir => {
            let from = owned(pick(&plain_dirs(), op.pick))?;
            let replace = if op.flag { owned(pick(&empty_dirs(), op.dest)) } else { None };
            let to = replace.or_else(|| new_path_in(model, c, op.dest, op.name))?;
            Mutation::Rename { from, to }
        }
        OpKind::Mkdir => Mutation::Mkdir {
            path: new_path_in(model, c, op.pick, op.name)?,
            mode: c.dir_mode(op.mode),
        },
        OpKind::Rmdir => Mutation::Rmdir { path: owned(pick(&empty_dirs(), op.pick))? },
        OpKind::Hardlink => Mutation::Hardlink {
            existing: owned(pick(&files(model), op.pick))?,
            new: new_path_in(model, c, op.dest, op.name)?,
        },
        OpKind::Symlink => {
            let path = new_path_in(model, c, op.pick, op.name)?;
            Mutation::Symlink { target: link_target(op, model, &path), path }
        }
        OpKind::Retarget => {
            let path = owned(pick(&select(model, |e| e.kind == EntryKind::Symlink), op.pick))?;
            Mutation::Retarget { target: link_target(op, model, &path), path }
        }
        _ => unreachable!("namespace_op called with {:?}", op.kind),
    })
}

fn link_target(op: &AbsOp, model: &ModelTree, link: &str) -> String {
    let all = select(model, |_| true);
    names::target(op.target, link, &all, &dirs(model))
}

/// Operations on metadata, and nested subvolumes.
fn metadata_op(op: &AbsOp, model: &ModelTree, c: &Choices) -> Option<Mutation> {
    let files_and_dirs = || select(model, |e| e.kind != EntryKind::Symlink);
    let any = || select(model, |_| true);
    let owned = |p: Option<&str>| p.map(str::to_owned);
    Some(match op.kind {
        OpKind::Chmod => {
            let path = owned(pick(&files_and_dirs(), op.pick))?;
            let is_dir = model.view(&path).is_some_and(|v| v.kind == EntryKind::Dir);
            let mode = if is_dir { c.dir_mode(op.mode) } else { c.file_mode(op.mode) };
            Mutation::Chmod { path, mode }
        }
        OpKind::Chown => {
            let (uid, gid) = OWNERS[op.n as usize % OWNERS.len()];
            Mutation::Chown { path: owned(pick(&any(), op.pick))?, uid, gid }
        }
        OpKind::SetXattr => {
            let len = op.dest as usize % (c.profile.xattr_value_max as usize + 1);
            let value = c.xattr_value(op.pattern.seed, len);
            let name = XATTRS[op.n as usize % XATTRS.len()].to_owned();
            Mutation::SetXattr { path: owned(pick(&files_and_dirs(), op.pick))?, name, value }
        }
        OpKind::RemoveXattr => {
            let path = owned(pick(&select(model, |e| e.xattr_count > 0), op.pick))?;
            let names = model.xattr_names(&path);
            let name = names[op.n as usize % names.len()].to_owned();
            Mutation::RemoveXattr { path, name }
        }
        OpKind::Touch => {
            let (mtime_sec, mtime_nsec) = touch_time(op.n, op.dest);
            Mutation::Touch { path: owned(pick(&any(), op.pick))?, mtime_sec, mtime_nsec }
        }
        OpKind::SubvolumeCreate => {
            Mutation::CreateSubvolume { path: new_path_in(model, c, op.pick, op.name)? }
        }
        OpKind::SubvolumeDelete => Mutation::DeleteSubvolume {
            path: owned(pick(&select(model, |e| e.subvolume_root), op.pick))?,
        },
        _ => unreachable!("metadata_op called with {:?}", op.kind),
    })
}

/// Times worth setting: the epoch, both sides of 2^31, 2001, recent ones with
/// nanoseconds, and far-future ones (year 2242).
fn touch_time(n: u32, x: u32) -> (i64, u32) {
    match n % 6 {
        0 => (0, 0),
        1 => ((1 << 31) - 1, 0),
        2 => (1 << 31, 0),
        3 => (1_000_000_000, 0),
        4 => (1_600_000_000 + i64::from(x % 100_000_000), x % 1_000_000_000),
        _ => ((1 << 33) + i64::from(x % 1000), 999_999_999),
    }
}

/// Builders that make several entries at once (initial trees only).
fn builder_op(op: &AbsOp, model: &ModelTree, c: &Choices) -> Vec<Mutation> {
    let Some(top) = new_path_in(model, c, op.pick, op.name) else {
        return Vec::new();
    };
    let mode = c.dir_mode(op.mode);
    let mut out = vec![Mutation::Mkdir { path: top.clone(), mode }];
    let within = |p: String| (p.len() <= c.profile.max_path_bytes as usize).then_some(p);
    match op.kind {
        OpKind::DeepChain => {
            let depth = 1 + op.n % c.profile.depth_max;
            let mut path = top;
            for level in 1..depth {
                let Some(next) = within(format!("{path}/d{level}")) else {
                    break;
                };
                path = next;
                out.push(Mutation::Mkdir { path: path.clone(), mode });
            }
        }
        OpKind::FanOut => {
            for i in 0..1 + op.n % c.profile.fan_out_max {
                match (op.dest >> (i % 32)) & 1 {
                    0 => out.push(Mutation::Write {
                        path: format!("{top}/f{i}"),
                        content: c.small_content(op.pattern, i, 100),
                        mode: c.file_mode(op.mode),
                    }),
                    _ => out.push(Mutation::Mkdir { path: format!("{top}/d{i}"), mode }),
                }
            }
        }
        OpKind::ManySmall => {
            for i in 0..1 + op.n % c.profile.fan_out_max {
                out.push(Mutation::Write {
                    path: format!("{top}/s{i:04}"),
                    content: c.small_content(op.pattern, i, 4097),
                    mode: c.file_mode(op.mode),
                });
            }
        }
        _ => unreachable!("builder_op called with {:?}", op.kind),
    }
    out
}
