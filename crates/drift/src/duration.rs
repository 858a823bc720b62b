//! Durations written the way Kubernetes users write them: `30s`, `5m`, `1h30m`, `250ms`.

use std::{fmt, str::FromStr, time};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pattern every written duration matches; the CRD schema enforces it and [`Duration::from_str`]
/// accepts exactly these strings.
pub const PATTERN: &str = "^([0-9]{1,9}(ms|s|m|h))+$";

/// A non-negative duration with a human string form (a subset of Go's `time.ParseDuration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub time::Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: write a number and a unit (ms, s, m, h), e.g. 30s, 5m or 1h30m"
)]
pub struct ParseDurationError {
    input: String,
}

impl Duration {
    pub const ZERO: Duration = Duration(time::Duration::ZERO);

    pub fn from_secs(secs: u64) -> Self {
        Duration(time::Duration::from_secs(secs))
    }

    pub fn from_millis(millis: u64) -> Self {
        Duration(time::Duration::from_millis(millis))
    }

    pub fn as_std(self) -> time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || ParseDurationError {
            input: input.to_owned(),
        };
        if input.is_empty() {
            return Err(err());
        }
        let mut total = time::Duration::ZERO;
        let mut rest = input;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
            if digits == 0 || digits > 9 {
                return Err(err());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let (unit, len) = if rest.starts_with("ms") {
                (time::Duration::from_millis(1), 2)
            } else if rest.starts_with('s') {
                (time::Duration::from_secs(1), 1)
            } else if rest.starts_with('m') {
                (time::Duration::from_secs(60), 1)
            } else if rest.starts_with('h') {
                (time::Duration::from_secs(3600), 1)
            } else {
                return Err(err());
            };
            rest = &rest[len..];
            let part = unit.checked_mul(u32::try_from(number).map_err(|_| err())?);
            total = part.and_then(|p| total.checked_add(p)).ok_or_else(err)?;
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// The shortest canonical form: `1h30m`, `45s`, `1s500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis == 0 {
            return f.write_str("0s");
        }
        let (h, m, s, ms) = (
            millis / 3_600_000,
            millis / 60_000 % 60,
            millis / 1000 % 60,
            millis % 1000,
        );
        for (n, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": PATTERN,
            "maxLength": 64,
            "description": "A duration such as 30s, 5m or 1h30m (units ms, s, m, h).",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_users_write() {
        let cases = [
            ("0s", 0),
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("90s", 90_000),
        ];
        for (text, millis) in cases {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.0.as_millis(), millis, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in ["", "30", "s", "5 m", "1d", "-5s", "1.5s", "1234567890s"] {
            let err = text.parse::<Duration>().unwrap_err();
            assert!(err.to_string().contains("e.g. 30s"), "{text}: {err}");
        }
    }

    #[test]
    fn prints_canonically_and_round_trips() {
        for (text, canonical) in [
            ("90s", "1m30s"),
            ("1h", "1h"),
            ("1500ms", "1s500ms"),
            ("0ms", "0s"),
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string(), canonical);
            assert_eq!(canonical.parse::<Duration>().unwrap(), d);
        }
    }
}
