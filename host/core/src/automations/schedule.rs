//! Schedules: 5-field cron (in an IANA time zone, UTC by default), fixed intervals
//! (`every 30m`), and a few English forms translated to cron. Anything else is refused
//! with the reason — a schedule is never guessed.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Shortest interval: the scheduler works in minutes.
const MIN_INTERVAL: Duration = Duration::from_secs(60);
/// Longest interval (a year).
const MAX_INTERVAL: Duration = Duration::from_secs(366 * 86_400);
/// Longest schedule string.
const MAX_LEN: usize = 200;

/// What the forms a schedule may take are, quoted in every refusal.
const FORMS: &str = "use a 5-field cron expression (`0 9 * * 1`), an interval (`every 30m`, `every 2h`, \
     `every 1d`), or one of: `every minute`, `every hour`, `every day at 18:00`, `every weekday at 8:30`, \
     `every weekend at 10am`, `every Monday at 9am`";

/// A parsed, valid schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    tz: Tz,
}

#[derive(Clone, Debug)]
enum Kind {
    /// Fires at the cron pattern's times, in `tz`; `expr` is the 5-field form.
    Cron { cron: Box<Cron>, expr: String },
    /// Fires every `every`, counted from an anchor (the automation's creation).
    Interval { every: Duration },
}

impl Schedule {
    /// Parses `text` in `timezone` (an IANA name; `None` = UTC). The error is the
    /// reason, phrased for the person who wrote the schedule.
    pub fn parse(text: &str, timezone: Option<&str>) -> Result<Schedule, String> {
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| format!("unknown time zone {name:?}; use an IANA name such as `Europe/Paris`"))?,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("the schedule is empty; {FORMS}"));
        }
        if text.len() > MAX_LEN {
            return Err(format!("the schedule is longer than {MAX_LEN} bytes"));
        }
        let lower = text.to_ascii_lowercase();
        let kind = if let Some(rest) = lower.strip_prefix("every ") {
            english(rest.trim())?
        } else if matches!(lower.as_str(), "hourly" | "daily" | "weekly" | "monthly") {
            return Err(format!("{text:?} does not say when; {FORMS}"));
        } else {
            cron(text)?
        };
        let schedule = Schedule { kind, tz };
        if let Kind::Cron { .. } = schedule.kind
            && schedule.next_after(Utc::now(), Utc::now()).is_none()
        {
            return Err(format!("the cron expression {text:?} never fires"));
        }
        Ok(schedule)
    }

    /// The cron expression the schedule runs on (`None` for intervals).
    pub fn cron_expr(&self) -> Option<&str> {
        match &self.kind {
            Kind::Cron { expr, .. } => Some(expr),
            Kind::Interval { .. } => None,
        }
    }

    /// The interval, for interval schedules.
    pub fn interval(&self) -> Option<Duration> {
        match self.kind {
            Kind::Interval { every } => Some(every),
            Kind::Cron { .. } => None,
        }
    }

    /// The first slot strictly after `after`; `anchor` is where intervals count from.
    /// `None` when the schedule never fires again.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Interval { every } => {
                let every = every.as_millis() as i64;
                let (after_ms, anchor_ms) = (after.timestamp_millis(), anchor.timestamp_millis());
                let slot = if after_ms < anchor_ms {
                    anchor_ms + every
                } else {
                    anchor_ms + ((after_ms - anchor_ms) / every + 1) * every
                };
                Utc.timestamp_millis_opt(slot).single()
            }
            Kind::Cron { cron, .. } => {
                let local = after.with_timezone(&self.tz);
                cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

/// A 5-field cron expression (or an `@daily`-style nickname); no seconds, no years.
fn cron(text: &str) -> Result<Kind, String> {
    let fields = text.split_whitespace().count();
    if !text.starts_with('@') && fields != 5 {
        return Err(format!(
            "{text:?} is not a schedule: a cron expression has 5 fields (minute hour day-of-month month \
             day-of-week), this has {fields}; {FORMS}"
        ));
    }
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    let cron = parser.parse(text).map_err(|e| format!("invalid cron expression {text:?}: {e}"))?;
    Ok(Kind::Cron { cron: Box::new(cron), expr: text.split_whitespace().collect::<Vec<_>>().join(" ") })
}

/// The part after `every `: an interval or an English form.
fn english(rest: &str) -> Result<Kind, String> {
    if let Some(every) = interval(rest)? {
        return Ok(Kind::Interval { every });
    }
    let (days, at) = match rest.split_once(" at ") {
        Some((d, t)) => (d.trim(), Some(t.trim())),
        None => (rest, None),
    };
    let expr = match (days, at) {
        ("minute", None) => "* * * * *".to_string(),
        ("hour", None) => "0 * * * *".to_string(),
        (_, None) => {
            return Err(format!("\"every {rest}\" does not say at what time; add one, e.g. `every {rest} at 9am`"));
        }
        (days, Some(at)) => {
            let (h, m) = time_of_day(at)?;
            let dow = days_of_week(days)?;
            format!("{m} {h} * * {dow}")
        }
    };
    cron(&expr)
}

/// `30m`, `2h`, `1d`, `45 minutes`, `2 hours`, `3 days`; `None` when `rest` does not
/// start with a number (it may be an English form).
fn interval(rest: &str) -> Result<Option<Duration>, String> {
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return Ok(None);
    }
    let n: u64 = rest[..digits].parse().map_err(|_| format!("the interval {rest:?} is too large"))?;
    let unit = rest[digits..].trim();
    let secs = match unit {
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "" => return Err(format!("the interval \"every {rest}\" has no unit; use m, h or d (`every {n}m`)")),
        other => return Err(format!("unknown interval unit {other:?}; use m, h or d (`every 30m`, `every 2h`)")),
    };
    let every = Duration::from_secs(n.saturating_mul(secs));
    if every < MIN_INTERVAL || every > MAX_INTERVAL {
        return Err("an interval must be between 1 minute and 366 days".into());
    }
    Ok(Some(every))
}

/// `9am`, `9 am`, `9:30pm`, `18:00`, `noon`, `midnight` → (hour, minute).
fn time_of_day(at: &str) -> Result<(u32, u32), String> {
    let bad = || format!("cannot read the time {at:?}; write it like `9am`, `9:30pm` or `18:00`");
    match at {
        "noon" => return Ok((12, 0)),
        "midnight" => return Ok((0, 0)),
        _ => {}
    }
    let compact: String = at.chars().filter(|c| !c.is_whitespace()).collect();
    let (clock, meridiem) = if let Some(c) = compact.strip_suffix("am") {
        (c, Some(false))
    } else if let Some(c) = compact.strip_suffix("pm") {
        (c, Some(true))
    } else {
        (compact.as_str(), None)
    };
    let (h, m) = match clock.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h, m),
        Some(_) => return Err(bad()),
        None if meridiem.is_some() => (clock, "0"),
        // A bare number ("at 9") could be 9am or 9pm: refuse rather than guess.
        None => return Err(format!("the time {at:?} is ambiguous; write `9am`, `9pm` or `21:00`")),
    };
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 {
        return Err(bad());
    }
    let h = match meridiem {
        None if h <= 23 => h,
        Some(pm) if (1..=12).contains(&h) => (h % 12) + if pm { 12 } else { 0 },
        _ => return Err(bad()),
    };
    Ok((h, m))
}

/// `day`, `weekday`, `weekend`, `monday`, `mondays`, `monday and friday`,
/// `mon, wed, fri` → the cron day-of-week field.
fn days_of_week(days: &str) -> Result<String, String> {
    match days {
        "day" => return Ok("*".into()),
        "weekday" => return Ok("1-5".into()),
        "weekend" => return Ok("0,6".into()),
        _ => {}
    }
    let mut out: Vec<u32> = Vec::new();
    for word in days.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty() && *w != "and") {
        let word = word.strip_suffix('s').filter(|w| w.ends_with("day")).unwrap_or(word);
        let d = match word {
            "sunday" | "sun" => 0,
            "monday" | "mon" => 1,
            "tuesday" | "tue" | "tues" => 2,
            "wednesday" | "wed" => 3,
            "thursday" | "thu" | "thurs" => 4,
            "friday" | "fri" => 5,
            "saturday" | "sat" => 6,
            _ => return Err(format!("cannot read \"every {days}\": {word:?} is not a day; {FORMS}")),
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.is_empty() {
        return Err(format!("cannot read \"every {days}\"; {FORMS}"));
    }
    out.sort_unstable();
    Ok(out.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cron_of(s: &str) -> String {
        Schedule::parse(s, None).unwrap().cron_expr().unwrap().to_string()
    }

    #[test]
    fn english_forms_translate_to_cron() {
        assert_eq!(cron_of("every Monday at 9am"), "0 9 * * 1");
        assert_eq!(cron_of("every day at 18:00"), "0 18 * * *");
        assert_eq!(cron_of("every weekday at 8:30"), "30 8 * * 1-5");
        assert_eq!(cron_of("every weekend at 10 am"), "0 10 * * 0,6");
        assert_eq!(cron_of("every monday and friday at 12:15pm"), "15 12 * * 1,5");
        assert_eq!(cron_of("every tuesdays at midnight"), "0 0 * * 2");
        assert_eq!(cron_of("every day at 12am"), "0 0 * * *");
        assert_eq!(cron_of("every hour"), "0 * * * *");
    }

    #[test]
    fn intervals_count_from_the_anchor() {
        let s = Schedule::parse("every 2h", None).unwrap();
        assert_eq!(s.interval(), Some(Duration::from_secs(7200)));
        let anchor = at("2026-01-01T00:10:00Z");
        assert_eq!(s.next_after(anchor, anchor), Some(at("2026-01-01T02:10:00Z")));
        assert_eq!(s.next_after(at("2026-01-01T02:10:00Z"), anchor), Some(at("2026-01-01T04:10:00Z")));
        assert_eq!(s.next_after(at("2026-01-01T05:00:00Z"), anchor), Some(at("2026-01-01T06:10:00Z")));
        assert_eq!(Schedule::parse("every 45 minutes", None).unwrap().interval(), Some(Duration::from_secs(2700)));
    }

    #[test]
    fn cron_runs_in_its_time_zone() {
        let s = Schedule::parse("0 9 * * *", Some("Europe/Paris")).unwrap();
        // 09:00 in Paris is 08:00 UTC in winter.
        assert_eq!(
            s.next_after(at("2026-01-05T07:00:00Z"), at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-05T08:00:00Z"))
        );
        let utc = Schedule::parse("*/15 * * * *", None).unwrap();
        assert_eq!(
            utc.next_after(at("2026-01-05T07:00:00Z"), at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-05T07:15:00Z"))
        );
    }

    #[test]
    fn unclear_schedules_are_refused_with_a_reason() {
        for (text, why) in [
            ("every day", "at what time"),
            ("daily", "does not say when"),
            ("every day at 9", "ambiguous"),
            ("every fortnight at 9am", "not a day"),
            ("tomorrow at noon", "5 fields"),
            ("every 10s", "unit"),
            ("every 0m", "between 1 minute"),
            ("61 * * * *", "invalid cron"),
            ("0 0 30 2 *", "never fires"),
            ("* * * * * *", "5 fields"),
            ("every day at 25:00", "cannot read the time"),
        ] {
            let err = Schedule::parse(text, None).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!(Schedule::parse("0 9 * * *", Some("Mars/Olympus")).unwrap_err().contains("time zone"));
    }
}
