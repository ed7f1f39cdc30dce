//! Errors of building and administering a cluster.

/// Errors of the cluster's construction and administration (request failures are events).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    /// A policy name that does not exist.
    #[error("unknown policy `{name}`; known policies: {known}")]
    UnknownPolicy {
        /// The name given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
    /// A preset name that does not exist.
    #[error("unknown cluster preset `{name}`; known presets: {known}")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The known presets, comma separated.
        known: String,
    },
    /// A field of a cluster spec with a bad value.
    #[error("cluster spec field `{field}`: got {value}, expected {expected}")]
    InvalidSpec {
        /// Path of the field (`llm_instances[0].step.base_ms`).
        field: String,
        /// The bad value.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A cluster file that is not valid YAML for a [`ClusterSpec`](super::ClusterSpec).
    #[error("cluster spec is not valid: {0}")]
    Yaml(String),
}
