//! Generation of case plans: proptest strategies for trees, mutations, steps, faults
//! and tool configurations, all derived from one seed.

pub mod content;
pub mod plan;
