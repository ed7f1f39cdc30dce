//! Readers of the request fields that can be large: a completions `prompt`, a chat message's
//! `content`, and an embeddings `input`. They keep only what the server uses (a prompt's
//! size and the hashes of its blocks, computed as the text is read; the inputs' texts), so reading a body never takes much more memory than the body:
//! read as JSON values, an 8 MiB array of token ids took 18 times its size.

use cpbench_core::cluster::prefix::{BlockHasher, block_hashes};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Write as _};

/// A completion's `prompt`: its size in characters (a token id counts 4, one estimated
/// token) and the block hashes of its text (token ids as
/// [`cpbench_core::cluster::prefix::token_ids_text`] writes them), for the prefix caches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PromptChars {
    pub(crate) chars: u64,
    pub(crate) blocks: Vec<u64>,
}

fn chars(s: &str) -> u64 {
    s.chars().count() as u64
}

const PROMPT_SHAPES: &str =
    "`prompt` as a string, an array of strings, or an array of token ids (integers)";

/// One element of a `prompt` array: a string or a token id, hashed as it is read.
enum PromptItem {
    Text(u64),
    Id,
}

struct PromptItemSeed<'a>(&'a mut BlockHasher);

impl<'de> DeserializeSeed<'de> for PromptItemSeed<'_> {
    type Value = PromptItem;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PromptItem, D::Error> {
        struct V<'a>(&'a mut BlockHasher);
        impl Visitor<'_> for V<'_> {
            type Value = PromptItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(PROMPT_SHAPES)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PromptItem, E> {
                self.0.push_str(s);
                Ok(PromptItem::Text(chars(s)))
            }
            fn visit_u64<E: de::Error>(self, id: u64) -> Result<PromptItem, E> {
                self.0.push_token_id(id);
                Ok(PromptItem::Id)
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// `prompt`: a string, an array of strings (concatenated), or an array of token ids.
impl<'de> Deserialize<'de> for PromptChars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PromptChars;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(PROMPT_SHAPES)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PromptChars, E> {
                Ok(PromptChars {
                    chars: chars(s),
                    blocks: block_hashes(s),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PromptChars, A::Error> {
                let (mut text, mut ids) = (None::<u64>, 0u64);
                let mut hasher = BlockHasher::new();
                while let Some(item) = seq.next_element_seed(PromptItemSeed(&mut hasher))? {
                    match item {
                        PromptItem::Text(n) => *text.get_or_insert(0) += n,
                        PromptItem::Id => ids += 1,
                    }
                }
                let blocks = hasher.finish();
                match text {
                    Some(_) if ids > 0 => Err(de::Error::custom(
                        "`prompt` mixes strings and token ids; give one or the other",
                    )),
                    Some(n) => Ok(PromptChars { chars: n, blocks }),
                    None => Ok(PromptChars {
                        chars: ids * 4,
                        blocks,
                    }),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Visitor methods of the counting readers (whose value is a character count) for the
/// scalar values that carry no text: they count 0.
macro_rules! zero_for_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_i64<E>(self, _: i64) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_u64<E>(self, _: u64) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_f64<E>(self, _: f64) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_unit<E>(self) -> Result<u64, E> {
            Ok(0)
        }
    };
}

/// `visit_seq` of a counting reader for which an array carries no text: skipped, 0.
macro_rules! zero_for_seq {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(0)
        }
    };
}

/// `visit_map` of a counting reader for which an object carries no text: skipped, 0.
macro_rules! zero_for_map {
    () => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(0)
        }
    };
}

/// The text of a content part, counted and hashed; any other value is ignored.
struct PartText<'a>(&'a mut BlockHasher);

impl<'de> DeserializeSeed<'de> for PartText<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        struct V<'a>(&'a mut BlockHasher);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
                self.0.push_str(s);
                Ok(chars(s))
            }
            zero_for_scalars!();
            zero_for_seq!();
            zero_for_map!();
        }
        d.deserialize_any(V(self.0))
    }
}

/// One part of a chat content array: the characters of its `text`, 0 for anything else.
struct Part<'a>(&'a mut BlockHasher);

impl<'de> DeserializeSeed<'de> for Part<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        struct V<'a>(&'a mut BlockHasher);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
                let mut n = 0;
                while let Some(key) = map.next_key::<Key>()? {
                    if key.0 == "text" {
                        n += map.next_value_seed(PartText(&mut *self.0))?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(n)
            }
            zero_for_seq!();
            fn visit_str<E>(self, _: &str) -> Result<u64, E> {
                Ok(0)
            }
            zero_for_scalars!();
        }
        d.deserialize_any(V(self.0))
    }
}

/// A map key, when it is one the readers look for (`text`, `content`); empty otherwise. Read
/// without keeping other keys.
struct Key(&'static str);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(Key(match s {
                    "text" => "text",
                    "content" => "content",
                    _ => "",
                }))
            }
        }
        d.deserialize_str(V)
    }
}

/// A chat message's `content`: a string, or an array of `{"type":"text","text":...}` parts
/// (other parts count nothing); `null` is empty. Its characters; its text goes to the hasher.
struct Content<'a>(&'a mut BlockHasher);

impl<'de> DeserializeSeed<'de> for Content<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        struct V<'a>(&'a mut BlockHasher);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`messages[].content` as a string or an array of text parts")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
                self.0.push_str(s);
                Ok(chars(s))
            }
            fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
                Ok(0)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
                let mut n = 0;
                while let Some(p) = seq.next_element_seed(Part(&mut *self.0))? {
                    n += p;
                }
                Ok(n)
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// One chat message: the characters of its `content` (0 without one); other fields ignored.
struct Message<'a>(&'a mut BlockHasher);

impl<'de> DeserializeSeed<'de> for Message<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        struct V<'a>(&'a mut BlockHasher);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
                let mut content = None;
                while let Some(key) = map.next_key::<Key>()? {
                    if key.0 != "content" {
                        map.next_value::<IgnoredAny>()?;
                    } else if content.is_some() {
                        return Err(de::Error::duplicate_field("content"));
                    } else {
                        content = Some(map.next_value_seed(Content(&mut *self.0))?);
                    }
                }
                Ok(content.unwrap_or(0))
            }
        }
        d.deserialize_map(V(self.0))
    }
}

/// A chat's `messages`: how many, their contents' characters, and the block hashes of their
/// contents one after the other (the text the prefix caches see).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Messages {
    pub(crate) count: usize,
    pub(crate) chars: u64,
    pub(crate) blocks: Vec<u64>,
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Messages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`messages` as an array of message objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages, A::Error> {
                let mut hasher = BlockHasher::new();
                let (mut count, mut chars) = (0, 0);
                while let Some(n) = seq.next_element_seed(Message(&mut hasher))? {
                    count += 1;
                    chars += n;
                }
                Ok(Messages {
                    count,
                    chars,
                    blocks: hasher.finish(),
                })
            }
        }
        d.deserialize_seq(V)
    }
}

/// An embeddings `input`: the inputs' texts (token ids as their JSON text, `[1,2,3]`), up to
/// a number kept; past it, inputs are only counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EmbeddingInput {
    /// The first inputs (at most [`EmbeddingInput::KEPT`]).
    pub(crate) inputs: Vec<String>,
    /// How many inputs there are.
    pub(crate) count: usize,
    /// Their estimated tokens.
    pub(crate) tokens: u64,
}

impl EmbeddingInput {
    /// Inputs kept; one more than the server's limit, so going over it can be told.
    pub(crate) const KEPT: usize = super::limits::MAX_EMBEDDING_INPUTS + 1;

    fn push(&mut self, text: String, tokens: u64) {
        if self.inputs.len() < Self::KEPT {
            self.inputs.push(text);
        }
        self.count += 1;
        self.tokens += tokens;
    }
}

const INPUT_SHAPES: &str = "`input` as a string, an array of strings, or token ids (an array of integers or of integer arrays)";

/// One element of an `input` array.
enum InputItem {
    Text(String),
    Id(u64),
    /// An array of token ids: its JSON text and its length.
    Ids(String, u64),
}

/// A token id in an `input`.
struct TokenId(u64);

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TokenId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(INPUT_SHAPES)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<TokenId, E> {
                Ok(TokenId(n))
            }
        }
        d.deserialize_u64(V)
    }
}

/// An array of token ids as its JSON text.
struct IdsText(String, u64);

impl<'de> Deserialize<'de> for IdsText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdsText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of token ids")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdsText, A::Error> {
                let mut text = String::from("[");
                let mut n = 0u64;
                while let Some(TokenId(id)) = seq.next_element::<TokenId>()? {
                    if n > 0 {
                        text.push(',');
                    }
                    let _ = write!(text, "{id}");
                    n += 1;
                }
                text.push(']');
                Ok(IdsText(text, n))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InputItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(INPUT_SHAPES)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<InputItem, E> {
                Ok(InputItem::Text(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<InputItem, E> {
                Ok(InputItem::Text(s))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<InputItem, E> {
                Ok(InputItem::Id(n))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<InputItem, A::Error> {
                let ids = IdsText::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(InputItem::Ids(ids.0, ids.1))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EmbeddingInput;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(INPUT_SHAPES)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<EmbeddingInput, E> {
                let mut out = EmbeddingInput::default();
                out.push(
                    s.to_string(),
                    u64::from(cpbench_core::text::estimate_tokens(s)),
                );
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EmbeddingInput, A::Error> {
                let mut out = EmbeddingInput::default();
                // A flat array of integers is one input of token ids.
                let mut ids: Option<(String, u64)> = None;
                let mut kind = None::<u8>;
                while let Some(item) = seq.next_element::<InputItem>()? {
                    let k = match &item {
                        InputItem::Text(_) => 0,
                        InputItem::Id(_) => 1,
                        InputItem::Ids(..) => 2,
                    };
                    if *kind.get_or_insert(k) != k {
                        return Err(de::Error::custom(format!(
                            "`input` mixes strings, token ids and arrays of token ids; expected {INPUT_SHAPES}"
                        )));
                    }
                    match item {
                        InputItem::Text(s) => {
                            let t = cpbench_core::text::estimate_tokens(&s);
                            out.push(s, u64::from(t));
                        }
                        InputItem::Id(n) => {
                            let (text, count) = ids.get_or_insert_with(|| ("[".into(), 0));
                            if *count > 0 {
                                text.push(',');
                            }
                            let _ = write!(text, "{n}");
                            *count += 1;
                        }
                        InputItem::Ids(text, n) => out.push(text, n),
                    }
                }
                if let Some((mut text, n)) = ids {
                    text.push(']');
                    out.push(text, n);
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, from_str};

    #[test]
    fn prompts_count_characters_or_token_ids() {
        let p = |s: &str| from_str::<PromptChars>(s).map(|p| p.chars);
        assert_eq!(p(r#""abcdé""#).unwrap(), 5);
        assert_eq!(p(r#"["ab", "cd"]"#).unwrap(), 4);
        assert_eq!(p("[1, 2, 3]").unwrap(), 12);
        assert_eq!(p("[]").unwrap(), 0);
        for bad in ["[1, \"a\"]", "[1.5]", "[[1]]", "[-1]", "{}", "3"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prompts_hash_their_text() {
        let b = |s: &str| from_str::<PromptChars>(s).unwrap().blocks;
        let text = "0123456789".repeat(20);
        assert_eq!(b(&format!("{text:?}")), block_hashes(&text));
        assert_eq!(
            b(&format!("[{:?}, {:?}]", &text[..30], &text[30..])),
            block_hashes(&text)
        );
        let ids: Vec<u64> = (0..40).collect();
        assert_eq!(
            b(&serde_json::to_string(&ids).unwrap()),
            block_hashes(&cpbench_core::cluster::prefix::token_ids_text(&ids))
        );
        assert_eq!(b(r#""short""#), Vec::<u64>::new());
    }

    fn messages(s: &str) -> Result<Messages, serde_json::Error> {
        from_str::<Messages>(s)
    }

    #[test]
    fn contents_count_text_parts_only() {
        let c =
            |content: &str| messages(&format!(r#"[{{"content": {content}}}]"#)).map(|m| m.chars);
        assert_eq!(c(r#""hello""#).unwrap(), 5);
        assert_eq!(c("null").unwrap(), 0);
        assert_eq!(
            c(r#"[{"type":"text","text":"ab"},{"type":"image_url","image_url":{"url":"x"}},{"text":"cde"},{"text":7},3,"s",[1]]"#)
                .unwrap(),
            5
        );
        assert!(c("5").is_err());
        assert!(c("{}").is_err());
    }

    #[test]
    fn messages_hash_their_contents_in_order() {
        let long = "x".repeat(100);
        let m = messages(&format!(
            r#"[{{"role": "system", "content": "{long}"}}, {{"role": "user"}},
                {{"content": [{{"type": "text", "text": "yy"}}, {{"type": "image_url"}}, {{"text": "{}"}}], "name": "n"}}]"#,
            "z".repeat(60)
        ))
        .unwrap();
        assert_eq!((m.count, m.chars), (3, 162));
        assert_eq!(
            m.blocks,
            block_hashes(&format!("{long}yy{}", "z".repeat(60)))
        );
        assert_eq!(m.blocks.len(), 2);
        assert_eq!(messages("[]").unwrap(), Messages::default());
        for bad in [
            r#"[{"content": "a", "content": "b"}]"#,
            r#"["a"]"#,
            r#"[3]"#,
            r#"{}"#,
            r#""a""#,
        ] {
            assert!(messages(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inputs_keep_their_texts_in_order() {
        let i = |s: &str| from_str::<EmbeddingInput>(s);
        let v = i(r#""abcd""#).unwrap();
        assert_eq!(
            (v.inputs, v.count, v.tokens),
            (vec!["abcd".to_string()], 1, 1)
        );
        let v = i(r#"["abcd", "efghi"]"#).unwrap();
        assert_eq!(v.inputs, ["abcd", "efghi"]);
        assert_eq!((v.count, v.tokens), (2, 3));
        // Token ids keep the JSON text a JSON value would print.
        let v = i("[1, 2, 3]").unwrap();
        let expected: Value = from_str("[1,2,3]").unwrap();
        assert_eq!(v.inputs, [expected.to_string()]);
        assert_eq!((v.count, v.tokens), (1, 3));
        let v = i("[[1, 2], [3]]").unwrap();
        assert_eq!(v.inputs, ["[1,2]", "[3]"]);
        assert_eq!((v.count, v.tokens), (2, 3));
        let v = i("[]").unwrap();
        assert_eq!(v.count, 0);
        for bad in [
            "[1.5]",
            "[\"a\", 1]",
            "[[1], \"a\"]",
            "[[\"a\"]]",
            "{}",
            "7",
            "null",
        ] {
            let e = i(bad).unwrap_err().to_string();
            assert!(e.contains("`input` as a string"), "{bad}: {e}");
        }
    }

    #[test]
    fn inputs_past_the_kept_number_are_only_counted() {
        let n = EmbeddingInput::KEPT + 10;
        let body = serde_json::to_string(&vec!["ab"; n]).unwrap();
        let v: EmbeddingInput = from_str(&body).unwrap();
        assert_eq!(v.count, n);
        assert_eq!(v.inputs.len(), EmbeddingInput::KEPT);
        assert_eq!(v.tokens, n as u64);
    }
}
