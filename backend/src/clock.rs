//! The time every part of the server reads: unix milliseconds, with an offset the end-to-end suite
//! can move (to see a hold period end without waiting a month).

/// How far this process's clock runs ahead of the wall clock. Zero in production; the end-to-end
/// suite moves it (through `/_test/clock`, only mounted with `REKOMI_TEST_HOOKS=1`) to see a hold
/// period end without waiting a month.
static CLOCK_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Moves this process's clock ahead by `ms` (tests only; see [`CLOCK_OFFSET_MS`]).
pub fn advance_clock(ms: i64) -> i64 {
    CLOCK_OFFSET_MS.fetch_add(ms, std::sync::atomic::Ordering::Relaxed) + ms
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis())
        .unwrap_or(i64::MAX)
        .saturating_add(CLOCK_OFFSET_MS.load(std::sync::atomic::Ordering::Relaxed))
}
