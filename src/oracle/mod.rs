//! The oracle: judges observations against the model and reports findings named by
//! PROPERTIES.md ids.

pub mod finding;
