//! The vocabulary every other module shares: what kind of request, which priority class.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a request, as sent in the `X-Request-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    LlmChat,
    /// OpenAI legacy Completions (`/v1/completions`).
    LlmGenerate,
    /// OpenAI Embeddings (`/v1/embeddings`).
    Embedding,
}

impl RequestKind {
    /// All kinds, in their canonical order.
    pub const ALL: [RequestKind; 3] = [Self::LlmChat, Self::LlmGenerate, Self::Embedding];

    /// The header / serialized name (`llm_chat`, `llm_generate`, `embedding`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LlmChat => "llm_chat",
            Self::LlmGenerate => "llm_generate",
            Self::Embedding => "embedding",
        }
    }

    /// Whether this kind generates tokens (chat or completions).
    pub fn is_llm(self) -> bool {
        !matches!(self, Self::Embedding)
    }

    /// Parses the header / serialized name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's priority class, as sent in the `X-Request-Priority` header.
///
/// Ordered from most to least urgent: `High < Normal < Low` in `Ord`, so sorting by priority
/// puts `High` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    /// Most urgent.
    High,
    /// The default class.
    Normal,
    /// Least urgent.
    Low,
}

impl Priority {
    /// All classes, most urgent first.
    pub const ALL: [Priority; 3] = [Self::High, Self::Normal, Self::Low];

    /// The header / serialized name (`HIGH`, `NORMAL`, `LOW`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Normal => "NORMAL",
            Self::Low => "LOW",
        }
    }

    /// Parses the header / serialized name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per priority class; serialized as `{"HIGH": .., "NORMAL": .., "LOW": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PerPriority<T> {
    /// Value for `HIGH`.
    #[serde(rename = "HIGH")]
    pub high: T,
    /// Value for `NORMAL`.
    #[serde(rename = "NORMAL")]
    pub normal: T,
    /// Value for `LOW`.
    #[serde(rename = "LOW")]
    pub low: T,
}

impl<T: Copy> PerPriority<T> {
    /// The value for one class.
    pub fn get(&self, p: Priority) -> T {
        match p {
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in RequestKind::ALL {
            assert_eq!(RequestKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(&p.as_str().to_lowercase()), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        assert!(Priority::High < Priority::Low);
    }
}
