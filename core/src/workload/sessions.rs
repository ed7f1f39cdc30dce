//! Multi-turn sessions (`sessions`): conversations whose turns are the measured requests.
//!
//! Sessions are drawn in order, each with its number of turns (from `sessions.turns`, or its
//! dataset conversation's), until the turns make `num_requests` (the last session cut short).
//! Session `s` starts at the arrival process's `s`-th offset (at `request_rate` sessions per
//! second, or the inline timestamps); turn `k + 1` is scheduled at turn `k`'s scheduled time
//! plus `max_tokens * answer_ms_per_token` plus a think time. Every turn of a session has the
//! session's kind, model, priority and prefix group. The turns of all sessions are then
//! sorted by time (ties by session, then turn) and numbered.
//!
//! Streams: the session seeds (`TAG_SESSION`), the turn counts (`TAG_TURNS`), the think
//! times (`TAG_THINK`, one draw per turn), the arrival offsets (`TAG_ARRIVAL`), the dataset
//! entries (one word per session), and the sampler's kind, model, priority and group streams
//! (one draw of each per session). A synthetic conversation's message lengths replay from
//! its seed ([`conversation_turns`]); a dataset conversation's output lengths are the recorded
//! replies' (`output_length: empirical`) or drawn from the output length stream, one per turn.

use super::generation::{Sampler, TAG_ARRIVAL, TAG_SESSION, TAG_THINK, TAG_TURNS, stream};
use super::{RequestSpec, TextSource, WorkloadError, conversation_turns};
use crate::arrival::{self, Trace, ms_to_us};
use crate::config::Sessions;
use crate::request::{Priority, RequestKind};
use rand_core::Rng;

/// One session: what every turn shares.
struct Session {
    kind: RequestKind,
    model: u32,
    priority: Priority,
    group: Option<u32>,
    /// Its conversation: a synthetic one's seed, or a dataset entry.
    conversation: Conversation,
}

#[derive(Clone, Copy)]
enum Conversation {
    Synthetic(u64),
    Entry(u32),
}

/// One turn before numbering: its time, session, turn and output length.
struct Turn {
    offset_us: u64,
    session: u32,
    turn: u32,
    max_tokens: u32,
}

/// The measured requests of a session workload (see the module doc).
pub(super) fn requests(
    s: &Sessions,
    trace: Option<&Trace>,
    sampler: &mut Sampler<'_>,
) -> Result<Vec<RequestSpec>, WorkloadError> {
    let config = sampler.config;
    let n = config.num_requests;
    let mut seeds = stream(config.seed, TAG_SESSION);
    let mut turn_counts = stream(config.seed, TAG_TURNS);
    let mut think = stream(config.seed, TAG_THINK);

    // The sessions and their turn counts, until they make n requests.
    let mut sessions: Vec<(Session, u32)> = Vec::new();
    let mut total = 0u64;
    while total < n {
        let (kind, model, priority) = sampler.session_head();
        let group = sampler.groups.as_mut().map(|g| g.draw());
        let seed = seeds.next_u64();
        let entry_draw = sampler.dataset_index.next_u64();
        let (conversation, turns) = match sampler.dataset {
            Some(d) if s.turns.is_empirical() => {
                let index = ((u128::from(entry_draw) * d.entries.len() as u128) >> 64) as usize;
                let e = &d.entries[index];
                // With recorded output lengths, the turns that have one.
                let turns = if config.output_length.is_empirical() {
                    (0..e.num_turns())
                        .take_while(|&k| e.output_tokens_of(k).is_some())
                        .count() as u32
                } else {
                    e.num_turns()
                };
                if turns == 0 {
                    return Err(WorkloadError::MissingOutputLength { index });
                }
                (
                    Conversation::Entry(u32::try_from(index).expect("fewer than 2^32 entries")),
                    turns,
                )
            }
            _ => (
                Conversation::Synthetic(seed),
                s.turns.sample(&mut turn_counts).unwrap_or(1).max(1),
            ),
        };
        let turns = u64::from(turns).min(n - total);
        total += turns;
        sessions.push((
            Session {
                kind,
                model,
                priority,
                group,
                conversation,
            },
            turns as u32,
        ));
    }

    let count = sessions.len();
    let starts = match trace {
        Some(t) => {
            if t.len() < count {
                return Err(WorkloadError::TraceTooShort {
                    records: t.len(),
                    requests: count as u64,
                });
            }
            t.offsets_us(count)
        }
        None => arrival::offsets_us(
            &config.arrival,
            config.request_rate,
            count,
            &mut stream(config.seed, TAG_ARRIVAL),
        )
        .expect("generative arrival pattern"),
    };

    let mut turns: Vec<Turn> = Vec::with_capacity(n as usize);
    for (i, ((session, count), start)) in sessions.iter().zip(starts).enumerate() {
        let mut at = start;
        let mut outputs = output_lengths(sampler, session.conversation, *count)?;
        for k in 0..*count {
            let max_tokens = outputs.next().expect("one output length per turn");
            turns.push(Turn {
                offset_us: at,
                session: i as u32,
                turn: k,
                max_tokens,
            });
            let think_ms = s.think_time_ms.sample(&mut think).unwrap_or(0);
            at = at.saturating_add(ms_to_us(
                f64::from(max_tokens) * s.answer_ms_per_token + f64::from(think_ms),
            ));
        }
    }
    turns.sort_unstable_by_key(|t| (t.offset_us, t.session, t.turn));

    let c = config;
    Ok(turns
        .into_iter()
        .enumerate()
        .map(|(id, t)| {
            let session = &sessions[t.session as usize].0;
            let text = match session.conversation {
                Conversation::Synthetic(seed) => TextSource::SessionTurn {
                    seed,
                    turn: t.turn,
                    group: session.group,
                },
                Conversation::Entry(entry) => TextSource::DatasetTurn {
                    entry,
                    turn: t.turn,
                    group: session.group,
                },
            };
            RequestSpec {
                id: id as u64,
                offset_us: t.offset_us,
                kind: session.kind,
                model: session.model,
                priority: session.priority,
                slo_deadline_ms: c
                    .slo
                    .deadline_ms(session.kind, session.priority, t.max_tokens),
                slo_ttft_ms: c.slo.ttft_target_ms(session.kind, session.priority),
                prompt_tokens_est: sampler.texts.tokens_est(&text),
                max_tokens: t.max_tokens,
                text,
            }
        })
        .collect())
}

/// The output length (`max_tokens`) of each of the first `count` turns of a conversation.
fn output_lengths(
    sampler: &mut Sampler<'_>,
    conversation: Conversation,
    count: u32,
) -> Result<std::vec::IntoIter<u32>, WorkloadError> {
    let out: Vec<u32> = match conversation {
        Conversation::Synthetic(seed) => {
            let lengths = sampler
                .texts
                .conversation
                .as_ref()
                .expect("synthetic sessions have their message lengths");
            conversation_turns(seed, lengths)
                .take(count as usize)
                .map(|(_, answer)| answer)
                .collect()
        }
        Conversation::Entry(entry) => {
            let d = sampler.dataset.expect("dataset sessions have a dataset");
            let e = &d.entries[entry as usize];
            let mut out = Vec::with_capacity(count as usize);
            for k in 0..count {
                let drawn = sampler.config.output_length.sample(&mut sampler.output_len);
                out.push(match drawn {
                    Some(tokens) => tokens,
                    None => e
                        .output_tokens_of(k)
                        .ok_or(WorkloadError::MissingOutputLength {
                            index: entry as usize,
                        })?,
                });
            }
            out
        }
    };
    Ok(out.into_iter())
}
