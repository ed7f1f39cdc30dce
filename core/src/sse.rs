//! A pure Server-Sent Events decoder for OpenAI-style streams.
