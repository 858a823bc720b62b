//! Maintenance windows: when `auto` may act. A window opens at each time its five-field cron
//! schedule names (in its time zone) and stays open for its duration. Pure: the time is passed in,
//! so the tests drive a clock of their own.

use std::{fmt, str::FromStr};

use fabric_drift::policy::MaintenanceWindow;
use jiff::{Timestamp, ToSpan, Zoned, civil, tz::TimeZone};

/// A parsed five-field cron expression: minute, hour, day of month, month, day of week
/// (0 or 7 is Sunday). Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a
/// comma-separated list of those. As in cron, when both day fields are restricted a day matches
/// if either does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WindowError(String);

impl FromStr for Cron {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(WindowError(format!(
                "schedule {text:?}: expected five fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )));
        };
        let field = |name: &str, spec: &str, min: u32, max: u32| {
            parse_field(spec, min, max).map_err(|why| {
                WindowError(format!("schedule {text:?}: {name} field {spec:?}: {why}"))
            })
        };
        let mut weekdays = field("day-of-week", weekday, 0, 7)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Cron {
            minutes: field("minute", minute, 0, 59)?,
            hours: field("hour", hour, 0, 23)? as u32,
            days: field("day-of-month", day, 1, 31)? as u32,
            months: field("month", month, 1, 12)? as u16,
            weekdays: (weekdays & 0x7f) as u8,
            days_restricted: day != "*",
            weekdays_restricted: weekday != "*",
        })
    }
}

/// The set of values a field names, as bits.
fn parse_field(spec: &str, min: u32, max: u32) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("step {step:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let number = |s: &str| -> Result<u32, String> {
            let n: u32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
            if n < min || n > max {
                return Err(format!("{n} is outside {min}-{max}"));
            }
            Ok(n)
        };
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(r)?, max),
                None => {
                    let n = number(r)?;
                    (n, n)
                }
            },
        };
        if from > to {
            return Err(format!("range {from}-{to} is empty"));
        }
        for v in (from..=to).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

impl Cron {
    fn day_matches(&self, date: civil::Date) -> bool {
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }

    fn matches(&self, t: civil::DateTime) -> bool {
        self.months & (1 << t.month()) != 0
            && self.day_matches(t.date())
            && self.hours & (1 << t.hour()) != 0
            && self.minutes & (1 << t.minute()) != 0
    }

    /// The latest start at or before `now` that is no older than `within`, if any.
    fn last_start(&self, now: &Zoned, within: std::time::Duration) -> Option<Zoned> {
        let earliest = now.timestamp() - jiff::SignedDuration::try_from(within).ok()?;
        let mut t = now
            .datetime()
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        loop {
            let zoned = t.to_zoned(now.time_zone().clone()).ok()?;
            if zoned.timestamp() < earliest {
                return None;
            }
            if self.matches(t) {
                return Some(zoned);
            }
            t = t.checked_sub(1.minute()).ok()?;
        }
    }

    /// The first start strictly after `now`, looking at most a little over four years ahead
    /// (February 29th schedules).
    fn next_start(&self, now: &Zoned) -> Option<Zoned> {
        let start = now
            .datetime()
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        let mut t = start.checked_add(1.minute()).ok()?;
        let limit = start.checked_add(1500.days()).ok()?;
        while t < limit {
            if self.months & (1 << t.month()) == 0 || !self.day_matches(t.date()) {
                t = t
                    .date()
                    .tomorrow()
                    .ok()?
                    .to_datetime(civil::Time::midnight());
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << t.minute()) != 0 {
                let zoned = t.to_zoned(now.time_zone().clone()).ok()?;
                if zoned.timestamp() > now.timestamp() {
                    return Some(zoned);
                }
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }
}

/// One window, parsed.
#[derive(Debug, Clone)]
struct Window {
    cron: Cron,
    duration: std::time::Duration,
    zone: TimeZone,
}

/// The maintenance windows of a policy, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Windows(Vec<Window>);

/// Whether auto remediation may run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowState {
    /// No windows configured, or one is open (until this time, when windows are configured).
    Open { until: Option<Timestamp> },
    /// Every window is closed; the next one opens then (None: never within four years).
    Closed { opens: Option<Timestamp> },
}

impl fmt::Display for WindowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowState::Open { until: None } => {
                write!(f, "no maintenance window restricts remediation")
            }
            WindowState::Open { until: Some(t) } => write!(f, "maintenance window open until {t}"),
            WindowState::Closed { opens: Some(t) } => {
                write!(f, "outside the maintenance windows; the next opens at {t}")
            }
            WindowState::Closed { opens: None } => {
                write!(
                    f,
                    "outside the maintenance windows; none opens in the next four years"
                )
            }
        }
    }
}

impl Windows {
    /// Parses a policy's windows; the error names the window and what is wrong.
    pub fn parse(windows: &[MaintenanceWindow]) -> Result<Windows, WindowError> {
        windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let zone = match &w.time_zone {
                    None => TimeZone::UTC,
                    Some(name) => TimeZone::get(name).map_err(|e| {
                        WindowError(format!("maintenanceWindows[{i}]: time zone {name:?}: {e}"))
                    })?,
                };
                let cron = w.schedule.parse().map_err(|WindowError(e)| {
                    WindowError(format!("maintenanceWindows[{i}]: {e}"))
                })?;
                Ok(Window {
                    cron,
                    duration: w.duration.as_std(),
                    zone,
                })
            })
            .collect::<Result<_, _>>()
            .map(Windows)
    }

    pub fn state(&self, now: Timestamp) -> WindowState {
        if self.0.is_empty() {
            return WindowState::Open { until: None };
        }
        let mut open_until: Option<Timestamp> = None;
        let mut next: Option<Timestamp> = None;
        for w in &self.0 {
            let local = now.to_zoned(w.zone.clone());
            if let Some(start) = w.cron.last_start(&local, w.duration) {
                let end = start.timestamp()
                    + jiff::SignedDuration::try_from(w.duration).unwrap_or_default();
                if end > now {
                    open_until = Some(open_until.map_or(end, |u| u.max(end)));
                }
            }
            if let Some(start) = w.cron.next_start(&local) {
                let start = start.timestamp();
                next = Some(next.map_or(start, |n| n.min(start)));
            }
        }
        match open_until {
            Some(until) => WindowState::Open { until: Some(until) },
            None => WindowState::Closed { opens: next },
        }
    }
}

#[cfg(test)]
mod tests {
    use fabric_drift::Duration;

    use super::*;

    fn window(schedule: &str, minutes: u64, zone: Option<&str>) -> MaintenanceWindow {
        MaintenanceWindow {
            schedule: schedule.into(),
            duration: Duration::from_secs(minutes * 60),
            time_zone: zone.map(Into::into),
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn no_windows_means_always_open() {
        let w = Windows::parse(&[]).unwrap();
        assert_eq!(
            w.state(ts("2026-11-21T12:00:00Z")),
            WindowState::Open { until: None }
        );
    }

    #[test]
    fn a_weekday_night_window_in_utc() {
        // 02:00 for two hours, Monday to Friday. 2026-11-23 is a Monday.
        let w = Windows::parse(&[window("0 2 * * 1-5", 120, None)]).unwrap();
        assert_eq!(
            w.state(ts("2026-11-23T02:30:00Z")),
            WindowState::Open {
                until: Some(ts("2026-11-23T04:00:00Z"))
            }
        );
        assert_eq!(
            w.state(ts("2026-11-23T04:00:00Z")),
            WindowState::Closed {
                opens: Some(ts("2026-11-24T02:00:00Z"))
            },
            "the end is exclusive"
        );
        // Saturday: the next window is Monday's.
        assert_eq!(
            w.state(ts("2026-11-21T12:00:00Z")),
            WindowState::Closed {
                opens: Some(ts("2026-11-23T02:00:00Z"))
            }
        );
    }

    #[test]
    fn a_window_in_another_time_zone_follows_its_clock() {
        // 22:00 in Paris is 21:00 UTC in winter (CET, +01:00).
        let w = Windows::parse(&[window("0 22 * * *", 60, Some("Europe/Paris"))]).unwrap();
        assert_eq!(
            w.state(ts("2026-11-21T21:15:00Z")),
            WindowState::Open {
                until: Some(ts("2026-11-21T22:00:00Z"))
            }
        );
        assert_eq!(
            w.state(ts("2026-11-21T20:59:00Z")),
            WindowState::Closed {
                opens: Some(ts("2026-11-21T21:00:00Z"))
            }
        );
    }

    #[test]
    fn overlapping_windows_open_until_the_later_end() {
        let w = Windows::parse(&[
            window("0 * * * *", 30, None),
            window("15 3 * * *", 60, None),
        ])
        .unwrap();
        assert_eq!(
            w.state(ts("2026-11-21T03:20:00Z")),
            WindowState::Open {
                until: Some(ts("2026-11-21T04:15:00Z"))
            }
        );
    }

    #[test]
    fn steps_lists_and_sunday_as_seven() {
        let c: Cron = "*/15 8-17/3 1,15 * 7".parse().unwrap();
        assert_eq!(c.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(c.hours, 1 << 8 | 1 << 11 | 1 << 14 | 1 << 17);
        assert_eq!(c.weekdays, 1);
        // Both day fields restricted: the 1st, the 15th, or any Sunday (2026-11-22).
        let w = Windows::parse(&[window("0 8 1,15 * 0", 10, None)]).unwrap();
        assert!(matches!(
            w.state(ts("2026-11-22T08:05:00Z")),
            WindowState::Open { .. }
        ));
        assert!(matches!(
            w.state(ts("2026-12-01T08:05:00Z")),
            WindowState::Open { .. }
        ));
        assert!(matches!(
            w.state(ts("2026-12-02T08:05:00Z")),
            WindowState::Closed { .. }
        ));
    }

    #[test]
    fn a_leap_day_schedule_finds_the_next_leap_year() {
        let w = Windows::parse(&[window("0 0 29 2 *", 60, None)]).unwrap();
        assert_eq!(
            w.state(ts("2026-11-21T00:00:00Z")),
            WindowState::Closed {
                opens: Some(ts("2028-02-29T00:00:00Z"))
            }
        );
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        let err = |w: MaintenanceWindow| Windows::parse(&[w]).unwrap_err().to_string();
        assert_eq!(
            err(window("0 2 * *", 60, None)),
            "maintenanceWindows[0]: schedule \"0 2 * *\": expected five fields (minute hour day-of-month month day-of-week), found 4"
        );
        assert_eq!(
            err(window("0 25 * * *", 60, None)),
            "maintenanceWindows[0]: schedule \"0 25 * * *\": hour field \"25\": 25 is outside 0-23"
        );
        assert_eq!(
            err(window("*/0 2 * * *", 60, None)),
            "maintenanceWindows[0]: schedule \"*/0 2 * * *\": minute field \"*/0\": a step of 0"
        );
        assert!(
            err(window("0 2 * * *", 60, Some("Mars/Olympus")))
                .starts_with("maintenanceWindows[0]: time zone \"Mars/Olympus\"")
        );
    }
}
