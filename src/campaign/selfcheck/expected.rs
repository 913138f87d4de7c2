//! The properties each bug variant of the reference tool breaks, as the "breaks" column
//! of reference/README.md lists them (a test keeps the two in step). Used only to say
//! whether a self-check's first finding is one the variant is documented to break; an
//! unknown variant (another tool's) has no expectation.

/// `(variant, property ids)`, in reference/README.md's order.
pub const EXPECTED: &[(&str, &[&str])] = &[
    ("no-lock", &["P5"]),
    ("stale-lock-never-taken", &["P5", "P4"]),
    ("pointer-before-manifest", &["P2", "P3"]),
    ("pointer-before-last-chunk", &["P2", "P3"]),
    ("wrong-parent-manifest", &["P6", "P1"]),
    ("send-wrong-parent", &["P4", "P1"]),
    ("drop-last-partial-chunk", &["P7", "P1"]),
    ("empty-trailing-chunk", &["P7"]),
    ("wrong-manifest-size", &["P7"]),
    ("prune-parent", &["P8", "P6"]),
    ("state-before-upload", &["P4", "P2"]),
    ("restore-full-only", &["P1"]),
    ("restore-skip-hash", &["P1", "P13"]),
    ("restore-leave-partial", &["P11", "P12"]),
    ("archive-no-wait", &["P12"]),
    ("manifest-chunk-class", &["P7", "P12"]),
    ("missing-sse", &["P7"]),
];

/// The documented properties of `variant`; `None` for a variant not in the table.
pub fn expected(variant: &str) -> Option<&'static [&'static str]> {
    EXPECTED.iter().find(|(v, _)| *v == variant).map(|(_, p)| *p)
}
