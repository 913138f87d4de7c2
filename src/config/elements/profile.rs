//! `[profile.<name>]`: campaign profiles (pr, nightly, ...). Their keys belong to the
//! campaign code, which validates them; here each profile is only checked to be a table
//! and kept as raw TOML.

use std::collections::BTreeMap;

use toml::Table;

use crate::config::error::ConfigError;
use crate::config::reader::Section;

/// Reads the `profile` key of the root table into name -> raw table.
pub(crate) fn read(root: &mut Section<'_>) -> Result<BTreeMap<String, Table>, ConfigError> {
    let Some(profiles) = root.table("profile")? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (name, value) in profiles {
        let Some(table) = value.as_table() else {
            let found = format!("a value of type {}", value.type_str());
            return Err(root.invalid(
                &format!("profile.{name}"),
                "a table [profile.<name>]",
                found,
            ));
        };
        out.insert(name.clone(), table.clone());
    }
    Ok(out)
}
