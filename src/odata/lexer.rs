//! Tokenizer for `$filter`, `$orderby` and `$select` text (already percent-decoded).
//!
//! OData lexing is context-sensitive in one place: an unquoted GUID may begin with a
//! letter and a DateTimeOffset contains `:`, `+` and `-`. So anything that starts
//! with a digit (or `-digit`) is read as one "literal word" over `[0-9A-Za-z.:+-]`
//! and classified afterwards, and a 36-character GUID shape wins over an identifier.
//!
//! A lexical error ends the stream as an [`TokenKind::Invalid`] token, which the
//! parser raises only when it reaches it: an earlier syntax error is reported first,
//! as ODL (which lexes lazily) does.
//!
//! Positions are zero-based character offsets, the unit of ODL's messages.

use uuid::Uuid;

use super::error::ODataError;
use super::literal::{self, DateTimeLiteral};
use crate::domain::{Ticks, refuse_nul};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    OpenParen,
    CloseParen,
    Comma,
    Colon,
    Slash,
    Star,
    /// Names and keywords alike (`category`, `and`, `null`, `any`, `$it`): which one
    /// it is depends on where the parser finds it.
    Identifier(String),
    /// A quoted string, with `''` already unescaped.
    String(String),
    DateTime(DateTimeLiteral),
    Date(Ticks),
    Guid(Uuid),
    Number(String),
    End,
    Invalid(ODataError),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Splits `text` into tokens. The last token is `End`, or `Invalid` at the first
/// lexical error.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    loop {
        while chars.get(at).is_some_and(|c| c.is_whitespace()) {
            at += 1;
        }
        let start = at;
        let Some(&c) = chars.get(at) else {
            tokens.push(Token { kind: TokenKind::End, start, end: start });
            return tokens;
        };
        let (kind, end) = match c {
            '(' => (TokenKind::OpenParen, at + 1),
            ')' => (TokenKind::CloseParen, at + 1),
            ',' => (TokenKind::Comma, at + 1),
            ':' => (TokenKind::Colon, at + 1),
            '/' => (TokenKind::Slash, at + 1),
            '*' => (TokenKind::Star, at + 1),
            '\'' => string(&chars, at, text),
            _ => {
                if let Some(guid) = guid_at(&chars, at) {
                    (TokenKind::Guid(guid), at + 36)
                } else if c.is_ascii_digit()
                    || (c == '-' && chars.get(at + 1).is_some_and(char::is_ascii_digit))
                {
                    literal_word(&chars, at, text)
                } else if c.is_alphabetic() || c == '_' || c == '$' {
                    let end = scan(&chars, at + 1, |c| c.is_alphanumeric() || c == '_');
                    (TokenKind::Identifier(chars[at..end].iter().collect()), end)
                } else {
                    let message =
                        format!("Syntax error: character '{c}' is not valid at position {at} in '{text}'.");
                    (TokenKind::Invalid(ODataError::bad_request(message)), at + 1)
                }
            }
        };
        let invalid = matches!(kind, TokenKind::Invalid(_));
        tokens.push(Token { kind, start, end });
        if invalid {
            return tokens;
        }
        at = end;
    }
}

fn scan(chars: &[char], from: usize, keep: impl Fn(char) -> bool) -> usize {
    let mut at = from;
    while chars.get(at).is_some_and(|&c| keep(c)) {
        at += 1;
    }
    at
}

/// A `'…'` string with `''` standing for one quote.
fn string(chars: &[char], open: usize, text: &str) -> (TokenKind, usize) {
    let mut value = String::new();
    let mut at = open + 1;
    loop {
        match chars.get(at) {
            None => {
                let message = format!(
                    "There is an unterminated string literal at position {} in '{text}'.",
                    chars.len()
                );
                return (TokenKind::Invalid(ODataError::bad_request(message)), chars.len());
            }
            Some('\'') if chars.get(at + 1) == Some(&'\'') => {
                value.push('\'');
                at += 2;
            }
            Some('\'') => {
                let literal = || format!("The string literal at position {open} in '{text}'");
                return match refuse_nul(&value, literal) {
                    Ok(()) => (TokenKind::String(value), at + 1),
                    Err(message) => (TokenKind::Invalid(ODataError::bad_request(message)), at + 1),
                };
            }
            Some(&c) => {
                value.push(c);
                at += 1;
            }
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
}

fn guid_at(chars: &[char], at: usize) -> Option<Uuid> {
    let candidate: String = chars.get(at..at + 36)?.iter().collect();
    let guid = literal::parse_guid(&candidate)?;
    let ends_cleanly = chars.get(at + 36).is_none_or(|&c| !(is_word_char(c) || c == '_'));
    ends_cleanly.then_some(guid)
}

fn literal_word(chars: &[char], at: usize, text: &str) -> (TokenKind, usize) {
    let end = scan(chars, at + 1, is_word_char);
    let word: String = chars[at..end].iter().collect();
    let kind = if let Some(ticks) = literal::parse_date(&word) {
        TokenKind::Date(ticks)
    } else if literal::looks_like_date(&word) {
        match literal::parse_date_time_offset(&word) {
            Some(dto) => TokenKind::DateTime(dto),
            None => TokenKind::Invalid(date_time_offset_format(&word)),
        }
    } else if literal::is_number(&word) {
        TokenKind::Number(word)
    } else {
        TokenKind::Invalid(ODataError::syntax(end, text))
    };
    (kind, end)
}

/// Graph's message for a DateTimeOffset it cannot read, e.g. one whose `+hh:mm`
/// offset arrived as a space.
pub(crate) fn date_time_offset_format(word: &str) -> ODataError {
    ODataError::bad_request(format!(
        "The DateTimeOffset text '{word}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).into_iter().map(|t| t.kind).collect()
    }

    fn ident(s: &str) -> TokenKind {
        TokenKind::Identifier(s.to_owned())
    }

    #[test]
    fn punctuation_names_and_strings() {
        assert_eq!(
            kinds(" resources/any(r: r/x eq 'O''Neil') ,*"),
            vec![
                ident("resources"),
                TokenKind::Slash,
                ident("any"),
                TokenKind::OpenParen,
                ident("r"),
                TokenKind::Colon,
                ident("r"),
                TokenKind::Slash,
                ident("x"),
                ident("eq"),
                TokenKind::String("O'Neil".into()),
                TokenKind::CloseParen,
                TokenKind::Comma,
                TokenKind::Star,
                TokenKind::End,
            ]
        );
        assert_eq!(kinds("''"), vec![TokenKind::String(String::new()), TokenKind::End]);
        assert_eq!(kinds("$it"), vec![ident("$it"), TokenKind::End]);
    }

    #[test]
    fn positions_are_character_offsets() {
        let tokens = tokenize("é eq 'ü'");
        assert_eq!((tokens[1].start, tokens[1].end), (2, 4));
        assert_eq!((tokens[2].start, tokens[2].end), (5, 8));
        assert_eq!((tokens[3].start, tokens[3].end), (8, 8));
    }

    #[test]
    fn unquoted_literals() {
        let guid = Uuid::parse_str("df07f17c-2d58-42d9-8491-31d1a6c2a0b5").unwrap();
        assert_eq!(
            kinds("df07f17c-2d58-42d9-8491-31d1a6c2a0b5)")[..2],
            [TokenKind::Guid(guid), TokenKind::CloseParen]
        );
        assert!(matches!(kinds("2024-01-01T00:00:00+02:00)")[0], TokenKind::DateTime(_)));
        assert!(matches!(kinds("2022-08-22")[0], TokenKind::Date(_)));
        assert_eq!(kinds("-1.5e3")[0], TokenKind::Number("-1.5e3".into()));
        // A GUID shape glued to more word characters is not a GUID.
        assert!(matches!(kinds("df07f17c-2d58-42d9-8491-31d1a6c2a0b5x")[0], TokenKind::Identifier(_)));
    }

    #[test]
    fn lexical_errors_become_invalid_tokens() {
        let err = |text: &str| match tokenize(text).pop().map(|t| t.kind) {
            Some(TokenKind::Invalid(e)) => e.message,
            other => panic!("expected an invalid token, got {other:?}"),
        };
        assert_eq!(err("x eq 'abc"), "There is an unterminated string literal at position 9 in 'x eq 'abc'.");
        assert_eq!(
            err("x eq \"a\""),
            "Syntax error: character '\"' is not valid at position 5 in 'x eq \"a\"'."
        );
        assert_eq!(err("x eq 12abc"), "Syntax error at position 10 in 'x eq 12abc'.");
        assert_eq!(
            err("x ge 2023-09-28T21:14:43.4437014 05:30"),
            "The DateTimeOffset text '2023-09-28T21:14:43.4437014' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
        );
    }
}
