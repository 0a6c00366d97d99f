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

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Civil date (year, month 1-12, day 1-31) of a day count since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`, exact for all i64 days
/// a date can reach).
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as usize, day)
}

/// Formats `secs` (since 1970-01-01 00:00:00 UTC) as an RFC 5322 §3.3
/// date-time in the zone `offset_min` minutes east of UTC.
pub fn format(secs: i64, offset_min: i32) -> String {
    let local = secs + i64::from(offset_min) * 60;
    let days = local.div_euclid(86_400);
    let tod = local.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.unsigned_abs();
    format!(
        "{}, {d} {} {y:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[m - 1],
        tod / 3600,
        tod / 60 % 60,
        tod % 60,
        off / 60,
        off % 60
    )
}

/// Day count since 1970-01-01 of a civil date (the inverse of `civil`).
fn days_from_civil(y: i64, m: usize, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: usize) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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
    if day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
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
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
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
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
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

/// A time broken down in UTC: what [`utc`] gives, for formats other than
/// RFC 5322's (the mbox From_ line's asctime, certificate dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// The year (proleptic Gregorian).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub min: u32,
    /// 0 to 59.
    pub sec: u32,
    /// The English three-letter name of the weekday, `Sun` to `Sat`.
    pub weekday_name: &'static str,
    /// The English three-letter name of the month, `Jan` to `Dec`.
    pub month_name: &'static str,
}

/// `secs` (since 1970-01-01 00:00:00 UTC) broken down in UTC.
pub fn utc(secs: i64) -> Utc {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil(days);
    Utc {
        year,
        month: month as u32,
        day: day as u32,
        hour: tod / 3600,
        min: tod / 60 % 60,
        sec: tod % 60,
        // DAYS starts on Thursday, the weekday of 1970-01-01.
        weekday_name: DAYS[days.rem_euclid(7) as usize],
        month_name: MONTHS[month - 1],
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
        // The inverse of `civil`.
        for days in [-800_000, -1, 0, 59, 10_956, 2_932_896] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn now_is_plausible() {
        let s = now();
        assert!(s.ends_with(" +0000"), "{s}");
        assert!(unix_now() > 1_600_000_000);
    }
}
