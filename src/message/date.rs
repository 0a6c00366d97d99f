//! The RFC 5322 §3.3 date-time, written for a `Date:` field.
//!
//! [`format()`] writes `Thu, 26 Nov 2026 19:33:47 +0000` for a time in
//! seconds since the Unix epoch and an offset from UTC in minutes;
//! [`now`] is the current time in UTC.
//!
//! Why UTC and not the local zone: the standard library has no time zone
//! API, and finding the local offset soundly means reading the TZif file
//! behind `TZ` or `/etc/localtime` and evaluating its POSIX rule string
//! (crates that call `localtime_r` instead are not safe in multi-threaded
//! programs on every libc). RFC 5322 §3.3 allows any zone; `+0000` states
//! that the time is in UTC (unlike `-0000`, which says the zone is
//! unknown), so the date is exact and every reader converts it to its own
//! local time.

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

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
}

/// The current date-time in UTC (`+0000`; module docs say why).
pub fn now() -> String {
    format(unix_now(), 0)
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
    fn now_is_plausible() {
        let s = now();
        assert!(s.ends_with(" +0000"), "{s}");
        assert!(unix_now() > 1_600_000_000);
    }
}
