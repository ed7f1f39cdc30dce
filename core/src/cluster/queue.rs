//! The control-plane queues: one per model, ordered by the policy's key, each in two lanes
//! (requests that can still meet their deadline, and those that cannot), and the cluster's
//! bookkeeping of what waits where.

use super::embedding::EmbItem;
use super::index::ModelIdx;
use super::policy::QueueOrder;
use super::{Cluster, Location};
use crate::request::Priority;
use std::collections::BTreeMap;

/// Where a queued request stands under the queue's order: smaller is served first. What
/// the three numbers are depends on the order ([`SortKey::new`]); the last one that is used
/// is the arrival counter, so keys are unique and ties are broken by arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SortKey(u64, u64, u64);

impl SortKey {
    /// The key of a request under `order`:
    /// - arrival: (arrival time, arrival counter);
    /// - priority: (class rank, HIGH first; arrival time; arrival counter);
    /// - deadline: (absolute deadline; arrival time; arrival counter).
    fn new(
        order: QueueOrder,
        priority: Priority,
        arrival_us: u64,
        deadline_us: u64,
        seq: u64,
    ) -> Self {
        match order {
            QueueOrder::Arrival => Self(arrival_us, seq, 0),
            QueueOrder::Priority => Self(priority_rank(priority), arrival_us, seq),
            QueueOrder::Deadline => Self(deadline_us, arrival_us, seq),
        }
    }
}

fn priority_rank(p: Priority) -> u64 {
    match p {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

/// The two lanes of a model's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Requests that can still meet their deadline.
    Main,
    /// Requests that cannot (hopeless, or found infeasible at dispatch).
    Late,
}

/// Where a request sits in its model's queue: its lane and its key there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueSlot {
    pub(crate) lane: Lane,
    pub(crate) sort: SortKey,
}

impl QueueSlot {
    /// A slot of the main lane.
    pub(crate) fn main(sort: SortKey) -> Self {
        Self {
            lane: Lane::Main,
            sort,
        }
    }

    /// A slot of the late lane.
    pub(crate) fn late(sort: SortKey) -> Self {
        Self {
            lane: Lane::Late,
            sort,
        }
    }
}

/// When the late lane is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LateLane {
    /// Only when the main lane is empty (deadline order: hopeless requests go last).
    Last,
    /// Merged with the main lane by sort key.
    Merged,
}

impl LateLane {
    /// How a queue in `order` serves its late lane.
    pub(crate) fn of(order: QueueOrder) -> Self {
        if order == QueueOrder::Deadline {
            Self::Last
        } else {
            Self::Merged
        }
    }
}

/// A request waiting in the control-plane queue.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) key: u64,
    pub(crate) model: ModelIdx,
    pub(crate) priority: Priority,
    pub(crate) arrival_us: u64,
    /// The deadline deadline-aware policies schedule for: the first-token deadline when the
    /// request has a TTFT target, else the end-to-end one.
    pub(crate) deadline_us: u64,
    /// Output tokens that must be out by `deadline_us`: 1 for a first-token deadline, all of
    /// them for an end-to-end one.
    pub(crate) deadline_tokens: u32,
    /// After this time the request cannot meet its deadline even if served at once.
    pub(crate) hopeless_at_us: u64,
    /// Whether that time has passed while it waited.
    pub(crate) hopeless: bool,
    pub(crate) prompt_tokens: u32,
    pub(crate) max_tokens: u32,
    pub(crate) num_inputs: u32,
    /// Block hashes of the prompt's full blocks (at most `prompt_tokens / 16`; none for
    /// embeddings).
    pub(crate) prefix_blocks: Vec<u64>,
    /// Arrival counter: unique, breaks ties by arrival.
    pub(crate) seq: u64,
}

impl Pending {
    fn sort_key(&self, order: QueueOrder) -> SortKey {
        SortKey::new(
            order,
            self.priority,
            self.arrival_us,
            self.deadline_us,
            self.seq,
        )
    }

    /// The request as an embedding server or batch holds it.
    pub(crate) fn emb_item(&self) -> EmbItem {
        EmbItem {
            key: self.key,
            inputs: self.num_inputs,
            tokens: self.prompt_tokens,
        }
    }

    fn hopeless_entry(&self) -> HopelessAt {
        HopelessAt {
            at_us: self.hopeless_at_us,
            key: self.key,
        }
    }
}

/// A queued request of the main lane by the time it becomes hopeless (earliest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HopelessAt {
    at_us: u64,
    key: u64,
}

/// The control-plane queue of one model: its main and late lanes, each sorted by the
/// policy's key.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelQueue {
    pub(crate) main: BTreeMap<SortKey, Pending>,
    pub(crate) late: BTreeMap<SortKey, Pending>,
    /// Embedding inputs of every queued request.
    pub(crate) inputs: u64,
}

impl ModelQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.main.is_empty() && self.late.is_empty()
    }

    fn lane(&self, lane: Lane) -> &BTreeMap<SortKey, Pending> {
        match lane {
            Lane::Main => &self.main,
            Lane::Late => &self.late,
        }
    }

    fn lane_mut(&mut self, lane: Lane) -> &mut BTreeMap<SortKey, Pending> {
        match lane {
            Lane::Main => &mut self.main,
            Lane::Late => &mut self.late,
        }
    }

    /// The next request: with [`LateLane::Last`], one of the late lane only when the main
    /// lane is empty; otherwise the smaller key of both lanes' heads.
    pub(crate) fn head(&self, late: LateLane) -> Option<QueueSlot> {
        let m = self.main.first_key_value().map(|(k, _)| *k);
        let l = self.late.first_key_value().map(|(k, _)| *k);
        match (m, l) {
            (Some(m), Some(l)) if late == LateLane::Merged && l < m => Some(QueueSlot::late(l)),
            (Some(m), _) => Some(QueueSlot::main(m)),
            (None, Some(l)) => Some(QueueSlot::late(l)),
            (None, None) => None,
        }
    }

    pub(crate) fn get(&self, slot: QueueSlot) -> Option<&Pending> {
        self.lane(slot.lane).get(&slot.sort)
    }

    pub(crate) fn remove(&mut self, slot: QueueSlot) -> Option<Pending> {
        let p = self.lane_mut(slot.lane).remove(&slot.sort);
        if let Some(p) = &p {
            self.inputs -= u64::from(p.num_inputs);
        }
        p
    }

    fn insert(&mut self, slot: QueueSlot, p: Pending) {
        self.inputs += u64::from(p.num_inputs);
        self.lane_mut(slot.lane).insert(slot.sort, p);
    }

    /// Every request, main lane first.
    pub(crate) fn into_requests(self) -> impl Iterator<Item = Pending> {
        self.main.into_values().chain(self.late.into_values())
    }
}

impl Cluster {
    /// The order of model `model`'s queue under the current behaviour.
    pub(crate) fn order_of(&self, model: ModelIdx) -> QueueOrder {
        if self.models[model].is_llm {
            self.behaviour.llm_order
        } else {
            self.behaviour.emb_order
        }
    }

    /// Queues an arriving request: in the late lane if it is already hopeless.
    pub(crate) fn enqueue(&mut self, mut p: Pending) {
        let m = p.model;
        let sort = p.sort_key(self.order_of(m));
        p.hopeless = p.hopeless_at_us < self.clock_us;
        let slot = if p.hopeless {
            QueueSlot::late(sort)
        } else {
            QueueSlot::main(sort)
        };
        if p.hopeless && self.models[m].is_llm {
            self.hopeless_llm += 1;
        }
        if slot.lane == Lane::Main {
            self.hopeless.insert(p.hopeless_entry());
        }
        self.locations
            .insert(p.key, Location::Queued { model: m, slot });
        if self.models[m].is_llm {
            self.queued_llm += 1;
        } else {
            self.queued_emb += 1;
        }
        self.queues[m].insert(slot, p);
    }

    /// Takes a request out of its queue (it is being dispatched).
    pub(crate) fn dequeue(&mut self, model: ModelIdx, slot: QueueSlot) -> Option<Pending> {
        let p = self.queues[model].remove(slot)?;
        self.forget(&p);
        Some(p)
    }

    /// Books a request leaving the control-plane queue (already removed from its lane).
    pub(crate) fn forget(&mut self, p: &Pending) {
        self.hopeless.remove(&p.hopeless_entry());
        if self.models[p.model].is_llm {
            self.queued_llm -= 1;
            if p.hopeless {
                self.hopeless_llm -= 1;
            }
        } else {
            self.queued_emb -= 1;
        }
    }

    /// Re-sorts every queue after the policy (or `adaptive`'s mode) changed; requests keep
    /// their lane.
    pub(crate) fn rebuild_queues(&mut self) {
        for m in self.queues.indices() {
            let q = std::mem::take(&mut self.queues[m]);
            let order = self.order_of(m);
            let mut fresh = ModelQueue::default();
            for (lane, p) in q
                .main
                .into_values()
                .map(|p| (Lane::Main, p))
                .chain(q.late.into_values().map(|p| (Lane::Late, p)))
            {
                let slot = QueueSlot {
                    lane,
                    sort: p.sort_key(order),
                };
                self.locations
                    .insert(p.key, Location::Queued { model: m, slot });
                fresh.insert(slot, p);
            }
            self.queues[m] = fresh;
        }
    }

    /// Moves requests that can no longer meet their deadline behind the others.
    pub(crate) fn refresh_hopeless(&mut self, t: u64) {
        while let Some(&first) = self.hopeless.first() {
            if first.at_us >= t {
                break;
            }
            self.hopeless.pop_first();
            if let Some(Location::Queued {
                model,
                slot:
                    QueueSlot {
                        lane: Lane::Main,
                        sort,
                    },
            }) = self.locations.get(&first.key).copied()
            {
                if let Some(p) = self.queues[model].main.get_mut(&sort) {
                    p.hopeless = true;
                    if self.models[model].is_llm {
                        self.hopeless_llm += 1;
                    }
                }
                self.demote(model, sort);
            }
        }
    }

    /// Moves a queued request from the main lane to the late lane.
    pub(crate) fn demote(&mut self, model: ModelIdx, sort: SortKey) {
        if let Some(p) = self.queues[model].remove(QueueSlot::main(sort)) {
            self.hopeless.remove(&p.hopeless_entry());
            let slot = QueueSlot::late(sort);
            self.locations
                .insert(p.key, Location::Queued { model, slot });
            self.queues[model].insert(slot, p);
        }
    }
}
