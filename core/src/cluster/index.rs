//! Typed indexes into the cluster's tables, and the vector they index.
//!
//! Models, LLM instances and embedding servers are each numbered from 0 in the order the
//! spec lists them. A distinct type per table keeps a model number from being used as an
//! instance number (and the other way round); [`IdxVec`] is a `Vec` indexed only by its own
//! index type.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A number into a table: converts to and from the position in the table.
pub(crate) trait Idx: Copy {
    /// The index at position `i`.
    fn new(i: usize) -> Self;
    /// The position in the table.
    fn index(self) -> usize;
}

macro_rules! idx_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) struct $name(pub(crate) usize);

        impl Idx for $name {
            fn new(i: usize) -> Self {
                Self(i)
            }
            fn index(self) -> usize {
                self.0
            }
        }
    };
}

idx_type!(
    /// A model the cluster knows (LLM or embedding), in the order of first mention in the
    /// spec: LLM instances' models, pool models, then embedding servers' models.
    ModelIdx
);
idx_type!(
    /// An LLM instance (`ClusterSpec::llm_instances`).
    LlmIdx
);
idx_type!(
    /// An embedding server (`ClusterSpec::embedding_instances`).
    EmbIdx
);

/// A `Vec<T>` indexed by `I`.
pub(crate) struct IdxVec<I, T> {
    raw: Vec<T>,
    _index: PhantomData<fn(I) -> I>,
}

impl<I: Idx, T> IdxVec<I, T> {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self::from(Vec::new())
    }

    /// A table of `n` copies of `value`.
    pub(crate) fn filled(value: T, n: usize) -> Self
    where
        T: Clone,
    {
        Self::from(vec![value; n])
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the table is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Appends an entry and returns its index.
    pub(crate) fn push(&mut self, value: T) -> I {
        self.raw.push(value);
        I::new(self.raw.len() - 1)
    }

    /// The entry at `i`, if any.
    pub(crate) fn get(&self, i: I) -> Option<&T> {
        self.raw.get(i.index())
    }

    /// Every index, in order.
    pub(crate) fn indices(&self) -> impl DoubleEndedIterator<Item = I> + use<I, T> {
        (0..self.raw.len()).map(I::new)
    }

    /// The entries, in order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.raw.iter()
    }

    /// The entries with their indexes, in order.
    pub(crate) fn iter_enumerated(&self) -> impl Iterator<Item = (I, &T)> {
        self.raw.iter().enumerate().map(|(i, v)| (I::new(i), v))
    }
}

impl<I, T> From<Vec<T>> for IdxVec<I, T> {
    fn from(raw: Vec<T>) -> Self {
        Self {
            raw,
            _index: PhantomData,
        }
    }
}

impl<I: Idx, T> FromIterator<T> for IdxVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Self::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<I: Idx, T> Index<I> for IdxVec<I, T> {
    type Output = T;
    fn index(&self, i: I) -> &T {
        &self.raw[i.index()]
    }
}

impl<I: Idx, T> IndexMut<I> for IdxVec<I, T> {
    fn index_mut(&mut self, i: I) -> &mut T {
        &mut self.raw[i.index()]
    }
}

impl<'a, I, T> IntoIterator for &'a IdxVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter()
    }
}

impl<'a, I, T> IntoIterator for &'a mut IdxVec<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter_mut()
    }
}

impl<I, T: Clone> Clone for IdxVec<I, T> {
    fn clone(&self) -> Self {
        Self::from(self.raw.clone())
    }
}

impl<I, T> Default for IdxVec<I, T> {
    fn default() -> Self {
        Self::from(Vec::new())
    }
}

impl<I, T: fmt::Debug> fmt::Debug for IdxVec<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}
