//! The RFC 5322 §3.3 date-time, written for a `Date:` field.
//!
//! [`format()`] writes `Thu, 26 Nov 2026 20:33:47 +0100` for a time in
//! seconds since the Unix epoch and an offset from UTC in minutes;
//! [`now`] is the current time in the local zone; [`parse`] reads a
//! date-time (the obsolete forms of §4.3 too) and [`normalize`] rewrites one
//! in the form [`format()`] writes.
//!
//! The local zone's offset comes from jiff, which reads the TZif data behind
//! `TZ` or `/etc/localtime` and evaluates its rules itself: the standard
//! library has no time zone API, and `localtime_r` is not sound to call in a
//! multi-threaded program on every libc. Without usable zone data the
//! offset is `+0000`, which RFC 5322 §3.3 allows (the time stays exact).
//! The calendar (days of months, weekdays, seconds since the epoch) is
//! jiff's too, so dates are those of years 1900 to 9999 (jiff's range ends
//! there).

use jiff::Timestamp;

/// The day names RFC 5322 §3.3 allows before the date.
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats `secs` (since 1970-01-01 00:00:00 UTC) as an RFC 5322 §3.3
/// date-time in the zone `offset_min` minutes east of UTC.
///
/// The local time is `secs` shifted by the offset, written by jiff as if it
/// were UTC, and the offset is written here: RFC 5322 allows zones up to
/// `±9959`, beyond jiff's `Offset` (±25:59:59). A time beyond jiff's range
/// (years -9999 to 9999) is written as its nearest end.
pub fn format(secs: i64, offset_min: i32) -> String {
    let local = secs.saturating_add(i64::from(offset_min) * 60);
    let t = Timestamp::from_second(local).unwrap_or(if local < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.unsigned_abs();
    format!(
        "{} {sign}{:02}{:02}",
        t.strftime("%a, %-d %b %Y %H:%M:%S"),
        off / 60,
        off % 60
    )
}

/// A date-time read by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01 00:00:00 UTC (a leap second `:60` counts
    /// as the next second).
    pub secs: i64,
    /// Minutes east of UTC; `None` for `-0000` and the zones RFC 5322
    /// §4.3 says to read as it ("no information about the local zone").
    pub offset: Option<i32>,
}

/// The obsolete zone names of RFC 5322 §4.3 with their offsets in hours.
const ZONES: [(&str, i32); 10] = [
    ("ut", 0),
    ("gmt", 0),
    ("est", -5),
    ("edt", -4),
    ("cst", -6),
    ("cdt", -5),
    ("mst", -7),
    ("mdt", -6),
    ("pst", -8),
    ("pdt", -7),
];

/// Comments (nested, with `\` quoting) replaced by a space: CFWS may
/// stand between all tokens (RFC 5322 §3.3, §4.3). `None` when a comment
/// is not closed or a `)` stands alone.
fn strip_comments(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        if depth > 0 {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                out.push(' ');
            }
            continue;
        }
        match c {
            '(' => depth = 1,
            ')' => return None,
            _ => out.push(c),
        }
    }
    (depth == 0).then_some(out)
}

fn number(token: &str, digits: std::ops::RangeInclusive<usize>) -> Option<i64> {
    (digits.contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit()))
        .then(|| token.parse().ok())
        .flatten()
}

/// Reads an RFC 5322 §3.3 `date-time`: `[day-of-week ","] day month year
/// hour ":" minute [":" second] zone`, names in any case, with the
/// obsolete forms of §4.3: comments and white space between all tokens,
/// two- and three-digit years (`97` is 1997, `03` is 2003, `103` is 2003),
/// zone names (`GMT`, `EST`, …; military letters and unknown names read as
/// `-0000`). A day of the week that does not match the date is accepted
/// (the date decides). `None` when it is not a date-time.
pub fn parse(value: &str) -> Option<DateTime> {
    let text = strip_comments(value)?;
    let spaced = text.replace(',', " , ").replace(':', " : ");
    let mut t: Vec<&str> = spaced.split_whitespace().collect();
    if t.get(1) == Some(&",") {
        if !DAYS.iter().any(|d| d.eq_ignore_ascii_case(t[0])) {
            return None;
        }
        t.drain(..2);
    }
    let [day, month, year, hour, ":", minute, rest @ ..] = &t[..] else {
        return None;
    };
    let (second, zone) = match rest {
        [":", second, zone] => (number(second, 2..=2)?, *zone),
        [zone] => (0, *zone),
        _ => return None,
    };
    let day = number(day, 1..=2)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? + 1;
    let year = match number(year, 2..=9)? {
        y if year.len() == 2 && y < 50 => y + 2000,
        y if year.len() <= 3 => y + 1900,
        y if y >= 1900 => y,
        _ => return None,
    };
    let (hour, minute) = (number(hour, 2..=2)?, number(minute, 2..=2)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // jiff checks the day against the month (and refuses years after 9999).
    let date = jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    let midnight = jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    let offset = match zone.as_bytes() {
        [sign @ (b'+' | b'-'), digits @ ..] if digits.len() == 4 => {
            let n = number(&zone[1..], 4..=4)? as i32;
            if n % 100 > 59 {
                return None;
            }
            let minutes = n / 100 * 60 + n % 100;
            match (sign, minutes) {
                (b'-', 0) => None,
                (b'-', m) => Some(-m),
                (_, m) => Some(m),
            }
        }
        z if !z.is_empty() && z.iter().all(u8::is_ascii_alphabetic) => ZONES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(zone))
            .map(|&(_, h)| h * 60),
        _ => return None,
    };
    let local = midnight.as_second() + hour * 3600 + minute * 60 + second;
    Some(DateTime {
        secs: local - i64::from(offset.unwrap_or(0)) * 60,
        offset,
    })
}

/// A date-time read by [`parse`], written again as [`format()`] writes it
/// (`-0000` kept for an unknown zone).
pub fn normalize(value: &str) -> Option<String> {
    let d = parse(value)?;
    let s = format(d.secs, d.offset.unwrap_or(0));
    Some(match d.offset {
        Some(_) => s,
        None => format!("{}-0000", &s[..s.len() - 5]),
    })
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    Timestamp::now().as_second().max(0)
}

/// The current date-time in the local zone (see the module docs).
pub fn now() -> String {
    let secs = unix_now();
    format(secs, local_offset(secs))
}

/// The local zone's offset from UTC, in minutes, at `secs` (0 when the zone
/// is unknown).
pub fn local_offset(secs: i64) -> i32 {
    let zone = jiff::tz::TimeZone::try_system();
    match (zone, jiff::Timestamp::from_second(secs)) {
        (Ok(zone), Ok(at)) => zone.to_offset(at).seconds() / 60,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let cases: &[(i64, i32, &str)] = &[
            (0, 0, "Thu, 1 Jan 1970 00:00:00 +0000"),
            // RFC 5322 Appendix A.1.1: Fri, 21 Nov 1997 09:55:06 -0600.
            (880_127_706, -360, "Fri, 21 Nov 1997 09:55:06 -0600"),
            (951_782_400, 0, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_700_000_000, 0, "Tue, 14 Nov 2023 22:13:20 +0000"),
            (1_700_000_000, 330, "Wed, 15 Nov 2023 03:43:20 +0530"),
            (-1, 0, "Wed, 31 Dec 1969 23:59:59 +0000"),
            (4_107_542_400, 0, "Mon, 1 Mar 2100 00:00:00 +0000"),
        ];
        for &(secs, off, want) in cases {
            assert_eq!(format(secs, off), want, "{secs}");
        }
    }

    #[test]
    fn bug_structured_values_dates_are_parsed() {
        // (input, normalized) — RFC 5322 Appendix A.1.1, A.5, A.6.2, §4.3.
        let good: &[(&str, &str)] = &[
            (
                "Fri, 21 Nov 1997 09:55:06 -0600",
                "Fri, 21 Nov 1997 09:55:06 -0600",
            ),
            // A.5: comments and folding white space everywhere.
            (
                "Thu,\n      13\n        Feb\n          1969\n      23:32\n               -0330 (Newfoundland Time)",
                "Thu, 13 Feb 1969 23:32:00 -0330",
            ),
            // A.6.2: obsolete year and zone.
            ("21 Nov 97 09:55:06 GMT", "Fri, 21 Nov 1997 09:55:06 +0000"),
            ("Mon, 1 Jan 03 00:00 EST", "Wed, 1 Jan 2003 00:00:00 -0500"),
            ("1 jan 103 00:00 +0000", "Wed, 1 Jan 2003 00:00:00 +0000"),
            // Military zones and -0000: no zone information.
            ("29 Feb 2000 12:00:00 Z", "Tue, 29 Feb 2000 12:00:00 -0000"),
            (
                "29 Feb 2000 12:00:00 -0000",
                "Tue, 29 Feb 2000 12:00:00 -0000",
            ),
            // A wrong day name: the date decides.
            (
                "Mon, 21 Nov 1997 09:55:06 +0100",
                "Fri, 21 Nov 1997 09:55:06 +0100",
            ),
            (
                "Fri , 21 Nov 1997 09 : 55 : 60 +0000",
                "Fri, 21 Nov 1997 09:56:00 +0000",
            ),
        ];
        for &(input, want) in good {
            assert_eq!(normalize(input).as_deref(), Some(want), "{input:?}");
        }
        for bad in [
            "yesterday",
            "",
            "21 Nov 1997",
            "Fri, 21 Nov 1997 09:55:06",
            "Fri, 31 Nov 1997 09:55:06 +0000",
            "29 Feb 1900 00:00 +0000",
            "21 Nov 1997 24:00 +0000",
            "21 Nov 1997 9:55 +0000",
            "21 Nov 1997 09:55 +0060",
            "21 Nov 1997 09:55 +100",
            "21 Nov 1897 09:55 +0000",
            "21 Nov 1997 09:55 +0000 extra",
            "Frd, 21 Nov 1997 09:55 +0000",
            "21 Nov 1997 09:55 +0000 (open",
            "21 Novembre 1997 09:55 +0000",
            "21 Nov 1997 09:55 +٠٠٠٠",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // Formatting and parsing are inverse over the years a date can
        // have (1900 to 9999).
        // (jiff's last whole day is 9999-12-30, so that every zone has it.)
        for days in [-25_567, -1, 0, 59, 10_956, 2_932_894] {
            let secs = days * 86_400 + 86_399;
            assert_eq!(parse(&format(secs, 0)).map(|d| d.secs), Some(secs));
        }
        assert_eq!(
            format(2_932_894 * 86_400, 0),
            "Wed, 29 Dec 9999 00:00:00 +0000"
        );
    }

    #[test]
    fn now_is_plausible() {
        let s = now();
        assert!(s.ends_with(" +0000"), "{s}");
        assert!(unix_now() > 1_600_000_000);
    }
}
