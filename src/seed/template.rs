//! The catalogue's small value language, and the random draws it consumes.
//!
//! A template such as `"Device limit - {w:dept}"` or `"{id}_{tag}"` is parsed once, when
//! the catalogue loads, into [`Piece`]s; rendering then only appends to a `String`.
//! Placeholders:
//!
//! | placeholder | renders |
//! |---|---|
//! | `{id}` `{name}` `{tag}` | the resource's id, display name and variant tag |
//! | `{now}` | the event time (new side) or an earlier time (old side), in US culture |
//! | `{version}` | the resource version after (new side) or before (old side) the change |
//! | `{guid}` | a fresh lower-case GUID |
//! | `{w:LIST}` | an entry of the word list `LIST` (itself a template) |
//! | `{num:LO:HI}` | an integer in `LO..=HI` |
//! | `{hex:N}` | `N` upper-case hex digits |
//!
//! `{{` and `}}` stand for literal braces.
//!
//! Randomness comes through [`Draw`], whose integer methods are written out here rather
//! than taken from `rand`'s distributions: the generator promises byte-identical output
//! for the same seed on every platform and every future build, so no draw may depend on a
//! library's choice of sampling algorithm or on floating point.

use std::fmt::Write as _;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::RngCore;
use uuid::Uuid;

use crate::domain::Ticks;

/// A source of uniformly distributed `u64`s and the few derived draws the generator needs.
pub(super) trait Draw {
    fn next_u64(&mut self) -> u64;

    /// Uniform in `0..n` (`n > 0`) by Lemire's multiply-shift. Its bias is below
    /// `n / 2^64`, far under anything observable, and it costs one draw.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add(self.below(span) as i64)
    }

    /// A random (version 4) GUID made from two draws.
    fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl Draw for ChaCha8Rng {
    fn next_u64(&mut self) -> u64 {
        RngCore::next_u64(self)
    }
}

/// SplitMix64: a tiny generator for attributes that must be a pure function of a
/// resource's identity (its variant, its name), so they come out the same in every event
/// that touches the resource without the generator remembering anything.
pub(super) struct SplitMix(pub u64);

impl Draw for SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalize(self.0)
    }
}

/// Mixes two words into one well-scrambled word (SplitMix64's finalizer over a
/// combination that does not commute).
pub(super) fn mix(a: u64, b: u64) -> u64 {
    finalize(a ^ finalize(b.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, to turn catalogue names into salts that do not move when entries are reordered.
pub(super) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Id,
    Name,
    Tag,
    Now,
    Version,
    Guid,
    Word(usize),
    Number(i64, i64),
    Hex(u8),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    pieces: Vec<Piece>,
}

/// Which side of a change a value is rendered for: `{now}` and `{version}` differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Old,
    New,
}

/// What a template may refer to while rendering.
pub(super) struct Context<'a> {
    pub words: &'a [Vec<Template>],
    pub id: &'a str,
    pub name: &'a str,
    pub tag: &'a str,
    /// The event time, in ticks; `{now}` on the new side.
    pub now: i64,
    /// `{now}` on the old side: when the resource was last changed before this event.
    pub earlier: i64,
    /// `{version}` on the new side; the old side is one less.
    pub version: u32,
}

impl Template {
    /// Parses `source`, resolving word-list names through `word_index`.
    pub fn parse(source: &str, word_index: &dyn Fn(&str) -> Option<usize>) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if c == '{' {
                let end = rest.find('}').ok_or_else(|| format!("unclosed placeholder in {source:?}"))?;
                let piece =
                    Self::placeholder(&rest[1..end], word_index).map_err(|e| format!("{e} in {source:?}"))?;
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                rest = &rest[end + 1..];
            } else if c == '}' {
                return Err(format!("unmatched '}}' in {source:?}"));
            } else {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    fn placeholder(spec: &str, word_index: &dyn Fn(&str) -> Option<usize>) -> Result<Piece, String> {
        let mut parts = spec.split(':');
        let head = parts.next().unwrap_or_default();
        let args: Vec<&str> = parts.collect();
        let int = |s: &str| s.parse::<i64>().map_err(|_| format!("bad number {s:?}"));
        match (head, args.as_slice()) {
            ("id", []) => Ok(Piece::Id),
            ("name", []) => Ok(Piece::Name),
            ("tag", []) => Ok(Piece::Tag),
            ("now", []) => Ok(Piece::Now),
            ("version", []) => Ok(Piece::Version),
            ("guid", []) => Ok(Piece::Guid),
            ("w", [list]) => {
                word_index(list).map(Piece::Word).ok_or_else(|| format!("unknown word list {list:?}"))
            }
            ("num", [lo, hi]) => {
                let (lo, hi) = (int(lo)?, int(hi)?);
                if lo > hi {
                    return Err(format!("empty range {lo}..={hi}"));
                }
                Ok(Piece::Number(lo, hi))
            }
            ("hex", [n]) => match n.parse::<u8>() {
                Ok(n @ 1..=64) => Ok(Piece::Hex(n)),
                _ => Err(format!("bad hex width {n:?}")),
            },
            _ => Err(format!("unknown placeholder {{{spec}}}")),
        }
    }

    /// Whether two renderings can differ: only such properties are worth patching.
    pub fn is_variable(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Literal(_) | Piece::Id | Piece::Name | Piece::Tag))
    }

    /// The word lists this template refers to (for the catalogue's cycle check).
    pub fn word_refs(&self) -> impl Iterator<Item = usize> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Word(w) => Some(*w),
            _ => None,
        })
    }

    /// Appends one rendering to `out`.
    pub fn render_into(&self, cx: &Context<'_>, side: Side, rng: &mut impl Draw, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Id => out.push_str(cx.id),
                Piece::Name => out.push_str(cx.name),
                Piece::Tag => out.push_str(cx.tag),
                Piece::Now => {
                    let at = if side == Side::New { cx.now } else { cx.earlier };
                    write_us_datetime(out, at);
                }
                Piece::Version => {
                    let v = if side == Side::New { cx.version } else { cx.version.saturating_sub(1) };
                    let _ = write!(out, "{v}");
                }
                Piece::Guid => {
                    out.push_str(rng.uuid().hyphenated().encode_lower(&mut Uuid::encode_buffer()));
                }
                Piece::Word(list) => {
                    let entries = &cx.words[*list];
                    let entry = &entries[rng.below(entries.len() as u64) as usize];
                    entry.render_into(cx, side, rng, out);
                }
                Piece::Number(lo, hi) => {
                    let _ = write!(out, "{}", rng.between(*lo, *hi));
                }
                Piece::Hex(width) => {
                    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
                    let mut bits = 0u64;
                    for i in 0..*width {
                        if i % 16 == 0 {
                            bits = rng.next_u64();
                        }
                        out.push(DIGITS[(bits & 0xF) as usize] as char);
                        bits >>= 4;
                    }
                }
            }
        }
    }

    pub fn render(&self, cx: &Context<'_>, side: Side, rng: &mut impl Draw) -> String {
        // Most values (names, dates, enum members) fit, so one allocation usually suffices.
        let mut out = String::with_capacity(40);
        self.render_into(cx, side, rng, &mut out);
        out
    }
}

/// Writes `ticks` the way .NET's `DateTime.ToString()` does under en-US, which is what
/// Intune puts in modifiedProperties: `8/9/2024 6:29:00 PM` (no leading zeros on month,
/// day and hour; 12-hour clock).
pub(super) fn write_us_datetime(out: &mut String, ticks: i64) {
    use chrono::{Datelike as _, Timelike as _};
    let at = Ticks(ticks).to_datetime();
    let (pm, hour) = at.hour12();
    let _ = write!(
        out,
        "{}/{}/{} {}:{:02}:{:02} {}",
        at.month(),
        at.day(),
        at.year(),
        hour,
        at.minute(),
        at.second(),
        if pm { "PM" } else { "AM" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(name: &str) -> Option<usize> {
        (name == "dept").then_some(0)
    }

    fn context<'a>(words: &'a [Vec<Template>]) -> Context<'a> {
        Context { words, id: "ID", name: "NAME", tag: "TAG", now: 0, earlier: 0, version: 3 }
    }

    #[test]
    fn parses_and_renders_every_placeholder() {
        let dept = vec![vec![Template::parse("Sales", &words).unwrap()]];
        let t =
            Template::parse("{{{id}}}_{tag} {name} {w:dept} v{version} {num:7:7} {hex:4}", &words).unwrap();
        let mut rng = SplitMix(1);
        let new = t.render(&context(&dept), Side::New, &mut rng);
        assert!(new.starts_with("{ID}_TAG NAME Sales v3 7 "), "{new}");
        assert_eq!(new.len(), "{ID}_TAG NAME Sales v3 7 ".len() + 4);
        let old = Template::parse("{version}", &words).unwrap().render(&context(&dept), Side::Old, &mut rng);
        assert_eq!(old, "2");
        assert!(t.is_variable());
        assert!(!Template::parse("{id}_{tag}", &words).unwrap().is_variable());
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in ["{nope}", "{w:missing}", "{num:5:1}", "{hex:0}", "open {id", "close }"] {
            assert!(Template::parse(bad, &words).is_err(), "{bad}");
        }
    }

    #[test]
    fn us_culture_dates_match_intune() {
        let at = chrono::DateTime::parse_from_rfc3339("2024-08-09T18:29:00.7023255Z").unwrap();
        let mut out = String::new();
        write_us_datetime(&mut out, Ticks::from_datetime(at.to_utc()).0);
        assert_eq!(out, "8/9/2024 6:29:00 PM");
        out.clear();
        write_us_datetime(&mut out, 0);
        assert_eq!(out, "1/1/1970 12:00:00 AM");
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = SplitMix(7);
        for _ in 0..1000 {
            assert!(rng.below(3) < 3);
            assert!((-2..=2).contains(&rng.between(-2, 2)));
        }
        // The full range must not overflow.
        let _ = rng.between(i64::MIN, i64::MAX);
    }
}
