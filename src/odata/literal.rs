//! The unquoted literal forms of the OData ABNF that auditEvent needs: DateTimeOffset,
//! Date, Guid and numbers. Only shape and range are checked here; which literal fits
//! which property is the binder's business.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::domain::Ticks;

const TICKS_PER_SECOND: i64 = 10_000_000;
/// Graph keeps 7 fractional digits; the ABNF allows up to 12.
const TICK_DIGITS: usize = 7;
const MAX_FRACTION_DIGITS: usize = 12;
/// .NET's DateTimeOffset range, which ODL enforces.
const MAX_OFFSET_MINUTES: u32 = 14 * 60;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.9999999Z.
const MIN_TICKS: i64 = -62_135_596_800 * TICKS_PER_SECOND;
const MAX_TICKS: i64 = 253_402_300_800 * TICKS_PER_SECOND - 1;

/// A DateTimeOffset literal in UTC ticks. `sub_tick` is set when the text had
/// non-zero digits below 100 ns: the exact instant then lies strictly between
/// `ticks` and `ticks + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTimeLiteral {
    pub ticks: Ticks,
    pub sub_tick: bool,
}

/// `yyyy-mm-ddThh:mm[:ss[.f{1,12}]](Z|±hh:mm)`, normalised to UTC.
pub(crate) fn parse_date_time_offset(text: &str) -> Option<DateTimeLiteral> {
    let mut c = Cursor::new(text);
    let date = c.date()?;
    if !(c.eat(b'T') || c.eat(b't')) {
        return None;
    }
    let hour = c.number(2).filter(|&h| h < 24)?;
    c.expect(b':')?;
    let minute = c.number(2).filter(|&m| m < 60)?;
    let mut second = 0;
    let mut fraction = "";
    if c.eat(b':') {
        second = c.number(2).filter(|&s| s < 60)?;
        if c.eat(b'.') {
            fraction = c.digit_run();
            if fraction.is_empty() || fraction.len() > MAX_FRACTION_DIGITS {
                return None;
            }
        }
    }
    let offset_minutes: i64 = if c.eat(b'Z') || c.eat(b'z') {
        0
    } else {
        let sign = if c.eat(b'+') {
            1
        } else if c.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = c.number(2)?;
        c.expect(b':')?;
        let minutes = c.number(2).filter(|&m| m < 60)?;
        let total = hours * 60 + minutes;
        if total > MAX_OFFSET_MINUTES {
            return None;
        }
        sign * i64::from(total)
    };
    if !c.at_end() {
        return None;
    }

    let local = date.and_hms_opt(hour, minute, second)?.and_utc().timestamp();
    let seconds = local.checked_sub(offset_minutes * 60)?;
    let (head, tail) = fraction.split_at(fraction.len().min(TICK_DIGITS));
    let fraction_ticks = format!("{head:0<TICK_DIGITS$}").parse::<i64>().ok()?;
    let ticks = seconds.checked_mul(TICKS_PER_SECOND)?.checked_add(fraction_ticks)?;
    // Like .NET, refuse an offset that moves the instant out of years 1–9999 (UTC).
    if !(MIN_TICKS..=MAX_TICKS).contains(&ticks) {
        return None;
    }
    Some(DateTimeLiteral { ticks: Ticks(ticks), sub_tick: tail.bytes().any(|b| b != b'0') })
}

/// `yyyy-mm-dd`, promoted to midnight UTC as Graph does against DateTimeOffset.
pub(crate) fn parse_date(text: &str) -> Option<Ticks> {
    let mut c = Cursor::new(text);
    let date = c.date()?;
    if !c.at_end() {
        return None;
    }
    let seconds = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(Ticks(seconds.checked_mul(TICKS_PER_SECOND)?))
}

/// True when `text` starts like a date (`dddd-dd-dd`), so a malformed value is
/// reported as a bad DateTimeOffset rather than as a syntax error.
pub(crate) fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// A GUID in the 8-4-4-4-12 hyphenated form, the only form OData allows unquoted.
pub(crate) fn parse_guid(text: &str) -> Option<Uuid> {
    let b = text.as_bytes();
    let shaped = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if shaped { Uuid::parse_str(text).ok() } else { None }
}

/// `-?digits(.digits)?([eE][+-]?digits)?`, the numeric literals without type suffixes.
pub(crate) fn is_number(text: &str) -> bool {
    let mut c = Cursor::new(text);
    c.eat(b'-');
    if c.digit_run().is_empty() {
        return false;
    }
    if c.eat(b'.') && c.digit_run().is_empty() {
        return false;
    }
    if c.eat(b'e') || c.eat(b'E') {
        if !c.eat(b'+') {
            c.eat(b'-');
        }
        if c.digit_run().is_empty() {
            return false;
        }
    }
    c.at_end()
}

/// The Edm type ODL infers for a numeric literal, quoted in type errors.
pub(crate) fn number_edm_type(text: &str) -> &'static str {
    if text.contains(['e', 'E']) {
        "Edm.Double"
    } else if text.contains('.') {
        "Edm.Decimal"
    } else if text.parse::<i32>().is_ok() {
        "Edm.Int32"
    } else if text.parse::<i64>().is_ok() {
        "Edm.Int64"
    } else {
        "Edm.Decimal"
    }
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, at: 0 }
    }

    fn at_end(&self) -> bool {
        self.at == self.text.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.text.as_bytes().get(self.at) == Some(&byte);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn digit_run(&mut self) -> &'a str {
        let start = self.at;
        while self.text.as_bytes().get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    /// Exactly `width` digits.
    fn number(&mut self, width: usize) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + width)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.at += width;
        digits.parse().ok()
    }

    fn date(&mut self) -> Option<NaiveDate> {
        let year = self.number(4).filter(|&y| y >= 1)?;
        self.expect(b'-')?;
        let month = self.number(2)?;
        self.expect(b'-')?;
        let day = self.number(2)?;
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn ticks_of(rfc3339: &str) -> Ticks {
        Ticks::from_datetime(DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc))
    }

    fn dto(text: &str) -> Option<(Ticks, bool)> {
        parse_date_time_offset(text).map(|d| (d.ticks, d.sub_tick))
    }

    #[test]
    fn date_time_offset_forms() {
        let midnight = ticks_of("2024-01-01T00:00:00Z");
        assert_eq!(dto("2024-01-01T00:00:00Z"), Some((midnight, false)));
        assert_eq!(dto("2024-01-01t00:00:00z"), Some((midnight, false)));
        assert_eq!(dto("2024-01-01T00:00Z"), Some((midnight, false)), "seconds are optional");
        assert_eq!(dto("2024-01-01T02:00:00+02:00"), Some((midnight, false)));
        assert_eq!(dto("2023-12-31T19:00:00-05:00"), Some((midnight, false)));
        assert_eq!(dto("2024-01-01T00:00:00.5Z"), Some((Ticks(midnight.0 + 5_000_000), false)));
        assert_eq!(
            dto("2025-03-24T15:14:04.218565Z"),
            Some((ticks_of("2025-03-24T15:14:04.218565Z"), false))
        );
        assert_eq!(dto("2024-01-01T00:00:00.1234567Z"), Some((Ticks(midnight.0 + 1_234_567), false)));
        assert_eq!(dto("2024-01-01T00:00:00.123456700000Z"), Some((Ticks(midnight.0 + 1_234_567), false)));
        assert_eq!(dto("2024-01-01T00:00:00.123456789012Z"), Some((Ticks(midnight.0 + 1_234_567), true)));
        assert_eq!(dto("2024-01-01T00:00:00.00000001Z"), Some((midnight, true)));
        assert_eq!(dto("0001-01-01T00:00:00Z"), Some((ticks_of("0001-01-01T00:00:00Z"), false)));
        assert_eq!(
            dto("9999-12-31T23:59:59.9999999Z"),
            Some((ticks_of("9999-12-31T23:59:59.9999999Z"), false))
        );
    }

    #[test]
    fn malformed_date_time_offsets() {
        for bad in [
            "2026-07-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890123Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00+15:00",
            "2024-01-01T00:00:00+02",
            "2024-01-01T00:00:00Zx",
            "0000-01-01T00:00:00Z",
            "2024-1-01T00:00:00Z",
            "2024-01-01",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:00:00-05:00",
        ] {
            assert_eq!(parse_date_time_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_guids_and_numbers() {
        assert_eq!(parse_date("2022-08-22"), Some(ticks_of("2022-08-22T00:00:00Z")));
        assert_eq!(parse_date("2022-13-01"), None);
        assert!(looks_like_date("2022-13-45T"));
        assert!(!looks_like_date("2022"));
        assert!(parse_guid("52effe71-fe71-52ef-71fe-ef5271feef52").is_some());
        assert!(parse_guid("52EFFE71-FE71-52EF-71FE-EF5271FEEF52").is_some());
        assert!(parse_guid("52effe71fe7152ef71feef5271feef52").is_none());
        for n in ["42", "-1", "1.5", "1e3", "1E-3", "2.5e+10"] {
            assert!(is_number(n), "{n}");
        }
        for n in ["", "-", "1.", ".5", "1e", "12abc", "1.2.3"] {
            assert!(!is_number(n), "{n}");
        }
        assert_eq!(number_edm_type("42"), "Edm.Int32");
        assert_eq!(number_edm_type("4294967296"), "Edm.Int64");
        assert_eq!(number_edm_type("1.5"), "Edm.Decimal");
        assert_eq!(number_edm_type("1e3"), "Edm.Double");
    }
}
