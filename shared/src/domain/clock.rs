//! Timestamps are unix milliseconds (UTC) everywhere; this formats them without a date library in wasm.

/// "2026-11-24 05:12 UTC" for a unix-milliseconds timestamp.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// "2026-11-24 05:12:09 UTC": with seconds, for logs of calls seconds apart.
pub fn format_utc_seconds(ms: i64) -> String {
    let minutes = format_utc(ms);
    let secs = ms.div_euclid(1000).rem_euclid(60);
    minutes.replace(" UTC", &format!(":{secs:02} UTC"))
}

/// The start (00:00 UTC) of a day written "YYYY-MM-DD", in unix milliseconds; `None` for anything
/// else or a day that doesn't exist.
pub fn parse_day(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let mut parts = raw.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // A day past the month's end (2026-02-30) comes back as another date.
    (civil_from_days(days) == (y, m, d)).then_some(days * 86_400_000)
}

/// Howard Hinnant's (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days → (year, month, day) for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::{format_utc, format_utc_seconds, parse_day};

    #[test]
    fn parses_days() {
        assert_eq!(parse_day("2026-11-24"), Some(1_795_478_400_000));
        assert_eq!(parse_day("2000-02-29").map(format_utc).as_deref(), Some("2000-02-29 00:00 UTC"));
        assert_eq!(parse_day("1970-01-01"), Some(0));
        for bad in ["2026-02-30", "2026-13-01", "2026-1-01", "24/11/2026", "", "2026-11-24-1"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_795_500_000_000), "2026-11-24 06:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc_seconds(1_795_500_009_999), "2026-11-24 06:00:09 UTC");
    }
}
