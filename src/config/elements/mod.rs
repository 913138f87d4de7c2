//! One file per config section, each owning its keys, defaults and checks (the layout of
//! nextest's `config/elements/`). Every section here is strict (unknown keys are errors)
//! except `[tool.env]` and `[profile.*]`.

pub mod backup;
pub mod btrfs;
pub mod paths;
pub mod profile;
pub mod restore;
pub mod s3;
pub mod tool;
