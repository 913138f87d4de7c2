//! `plan --seed S [--case N] [--profile P] [--render]`: prints the plan of one generated
//! case (JSON, byte for byte what the campaign runs; `--render` the text form). Runs
//! nothing and needs no root. Exit 0, or 2 for an unknown profile.

use std::path::Path;

use crate::campaign::progress::{say_line, say_text};
use crate::campaign;
use crate::exit;
use crate::gen::{generate, render};

use super::{load_config, CommandError};

pub fn plan(config_path: &Path, seed: u64, case: u64, profile: &str, as_text: bool) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let p = campaign::profile::load(&config, profile)?;
    let plan = generate(seed, case, &p.gen);
    if as_text {
        say_text!("{}", render(&plan));
    } else {
        let json = serde_json::to_string_pretty(&plan).map_err(|e| CommandError::harness("serialising the plan", e))?;
        say_line!("{json}");
    }
    Ok(exit::OK)
}
