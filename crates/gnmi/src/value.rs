//! Typed leaf values: the Rust side of gNMI `TypedValue`.
//!
//! RFC 7951 loses type information (a uint64 arrives as the string
//! `"12345"`, a decimal64 as `"1.50"`), and targets differ in whether they
//! send scalars typed or as JSON. Comparing observed and intended values must
//! therefore not depend on which form arrived: [`Value::semantic_eq`] does
//! that comparison, while `==` stays structural.

use std::fmt;
use std::str::FromStr;

/// Errors from building or converting values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("decimal64 {0:?} is not a decimal number")]
    BadDecimal(String),
    #[error("decimal64 {0:?} does not fit in 64 bits")]
    DecimalOverflow(String),
    #[error("decimal64 precision {0} is out of range (0..=18)")]
    BadPrecision(u32),
    #[error("TypedValue has no value set (unknown or missing oneof field)")]
    Missing,
    #[error("leaf-list element is not a scalar: {0}")]
    NonScalarLeafListElement(String),
    #[error("JSON value is not UTF-8: {0}")]
    JsonNotUtf8(String),
    #[error("deprecated gnmi.Value with unknown encoding {0}")]
    UnknownEncoding(i32),
}

/// A YANG decimal64: `digits / 10^precision`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Decimal64 {
    pub digits: i64,
    /// Fraction digits, 0..=18 (YANG's range).
    pub precision: u32,
}

impl Decimal64 {
    /// Checks the precision range.
    pub fn new(digits: i64, precision: u32) -> Result<Self, ValueError> {
        if precision > 18 {
            return Err(ValueError::BadPrecision(precision));
        }
        Ok(Decimal64 { digits, precision })
    }

    /// Same number with trailing zero fraction digits removed, so `1.50` and
    /// `1.5` compare equal.
    pub fn normalized(self) -> Self {
        let mut d = self;
        while d.precision > 0 && d.digits % 10 == 0 {
            d.digits /= 10;
            d.precision -= 1;
        }
        d
    }

    /// Nearest f64 (lossy beyond 2^53).
    pub fn to_f64(self) -> f64 {
        self.digits as f64 / 10f64.powi(self.precision as i32)
    }
}

impl fmt::Display for Decimal64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.precision == 0 {
            return write!(f, "{}", self.digits);
        }
        let neg = self.digits < 0;
        // unsigned_abs handles i64::MIN without overflow.
        let abs = self.digits.unsigned_abs().to_string();
        let p = self.precision as usize;
        let padded = if abs.len() <= p {
            format!("{}{}", "0".repeat(p + 1 - abs.len()), abs)
        } else {
            abs
        };
        let (int, frac) = padded.split_at(padded.len() - p);
        write!(f, "{}{}.{}", if neg { "-" } else { "" }, int, frac)
    }
}

impl FromStr for Decimal64 {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ValueError::BadDecimal(s.to_string());
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let precision = u32::try_from(frac.len()).map_err(|_| bad())?;
        if precision > 18 {
            return Err(ValueError::BadPrecision(precision));
        }
        // i128 so that i64::MIN's magnitude fits before the sign is applied.
        let mut acc: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            acc = acc * 10 + i128::from(b - b'0');
            if acc > i128::from(i64::MAX) + 1 {
                return Err(ValueError::DecimalOverflow(s.to_string()));
            }
        }
        let signed = if neg { -acc } else { acc };
        let digits =
            i64::try_from(signed).map_err(|_| ValueError::DecimalOverflow(s.to_string()))?;
        Ok(Decimal64 { digits, precision })
    }
}

/// Value encodings of gNMI (spec 2.3). `Unknown` keeps a number a newer
/// target sent so it can be reported instead of silently mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Json,
    Bytes,
    Proto,
    Ascii,
    JsonIetf,
    Unknown(i32),
}

impl Encoding {
    /// The protobuf enum number.
    pub fn as_i32(self) -> i32 {
        match self {
            Encoding::Json => 0,
            Encoding::Bytes => 1,
            Encoding::Proto => 2,
            Encoding::Ascii => 3,
            Encoding::JsonIetf => 4,
            Encoding::Unknown(n) => n,
        }
    }

    /// From the protobuf enum number.
    pub fn from_i32(n: i32) -> Self {
        match n {
            0 => Encoding::Json,
            1 => Encoding::Bytes,
            2 => Encoding::Proto,
            3 => Encoding::Ascii,
            4 => Encoding::JsonIetf,
            n => Encoding::Unknown(n),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encoding::Json => f.write_str("JSON"),
            Encoding::Bytes => f.write_str("BYTES"),
            Encoding::Proto => f.write_str("PROTO"),
            Encoding::Ascii => f.write_str("ASCII"),
            Encoding::JsonIetf => f.write_str("JSON_IETF"),
            Encoding::Unknown(n) => write!(f, "UNKNOWN({n})"),
        }
    }
}

/// A leaf value. One variant per `TypedValue` field, plus `Empty` for the
/// YANG `empty` type (`[null]` in RFC 7951).
///
/// Serde form (for reports and resources, not the wire): externally tagged,
/// `{"uint": 9214}`, `{"string": "up"}`, `"empty"`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    String(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// `double_val`; the deprecated `float_val` decodes into this too.
    Double(f64),
    /// The deprecated `decimal_val`; also what callers use for YANG decimal64.
    Decimal(Decimal64),
    LeafList(Vec<Value>),
    /// Raw JSON text (`json_val`), not parsed.
    Json(String),
    /// Raw RFC 7951 JSON text (`json_ietf_val`), not parsed.
    JsonIetf(String),
    Ascii(String),
    /// `google.protobuf.Any`.
    Any {
        type_url: String,
        value: Vec<u8>,
    },
    /// `proto_bytes`.
    ProtoBytes(Vec<u8>),
    /// YANG `empty` (present / absent leaf).
    Empty,
}

impl Value {
    /// Short type name for messages and metrics labels (bounded set).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Bool(_) => "bool",
            Value::Bytes(_) => "bytes",
            Value::Double(_) => "double",
            Value::Decimal(_) => "decimal64",
            Value::LeafList(_) => "leaf-list",
            Value::Json(_) => "json",
            Value::JsonIetf(_) => "json_ietf",
            Value::Ascii(_) => "ascii",
            Value::Any { .. } => "any",
            Value::ProtoBytes(_) => "proto_bytes",
            Value::Empty => "empty",
        }
    }

    /// True for values that fit in a leaf (everything but JSON blobs, Any
    /// and proto bytes, which carry subtrees).
    pub fn is_scalar(&self) -> bool {
        !matches!(
            self,
            Value::LeafList(_)
                | Value::Json(_)
                | Value::JsonIetf(_)
                | Value::Any { .. }
                | Value::ProtoBytes(_)
        )
    }

    /// The value as a string if it is textual.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Ascii(s) => Some(s),
            _ => None,
        }
    }

    /// Compares the meaning of two values across the forms RFC 7951 and
    /// targets produce: `Int(5)`, `Uint(5)` and `String("5")` are equal;
    /// `Decimal(1.50)`, `String("1.5")` and `Double(1.5)` are equal;
    /// `Ascii` equals `String`; leaf-lists compare element-wise in order.
    /// Caveat: a string leaf whose text happens to be a number equals that
    /// number, which is the price of comparing without a schema.
    pub fn semantic_eq(&self, other: &Value) -> bool {
        if self == other {
            return true;
        }
        match (self, other) {
            (Value::LeafList(a), Value::LeafList(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.semantic_eq(y))
            }
            (Value::LeafList(_), _) | (_, Value::LeafList(_)) => false,
            _ => match (self.canonical(), other.canonical()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// A string that is equal for two values exactly when
    /// [`Value::semantic_eq`] says they are equal: use it to hash or
    /// fingerprint observed values (`Uint(5)` and `String("5")` give the
    /// same key). Not meant for display.
    pub fn canonical_key(&self) -> String {
        if let Value::LeafList(items) = self {
            let keys: Vec<String> = items.iter().map(Value::canonical_key).collect();
            // A JSON array of strings cannot be confused with a scalar key.
            return format!("l:{}", serde_json::Value::from(keys));
        }
        match self.canonical() {
            Some(Canon::Num(d)) => format!("n:{d}"),
            Some(Canon::BigUint(u)) => format!("n:{u}"),
            Some(Canon::Text(t)) => format!("s:{t}"),
            Some(Canon::Bool(b)) => format!("b:{b}"),
            Some(Canon::Empty) => "e:".to_string(),
            Some(Canon::Bytes(b)) => format!("x:{}", hex(&b)),
            None => match self {
                Value::Json(s) => format!("j:{s}"),
                Value::JsonIetf(s) => format!("i:{s}"),
                Value::Any { type_url, value } => format!("a:{}:{type_url}", hex(value)),
                Value::ProtoBytes(b) => format!("p:{}", hex(b)),
                // Every other variant has a canonical form above.
                other => format!("?:{other:?}"),
            },
        }
    }

    /// A canonical scalar form used by [`Value::semantic_eq`].
    fn canonical(&self) -> Option<Canon> {
        Some(match self {
            Value::Int(i) => Canon::Num(Decimal64 {
                digits: *i,
                precision: 0,
            }),
            Value::Uint(u) => match i64::try_from(*u) {
                Ok(i) => Canon::Num(Decimal64 {
                    digits: i,
                    precision: 0,
                }),
                Err(_) => Canon::BigUint(*u),
            },
            Value::Decimal(d) => Canon::Num(d.normalized()),
            Value::Double(f) => match decimal_from_f64(*f) {
                Some(d) => Canon::Num(d),
                None => Canon::Text(f.to_string()),
            },
            Value::String(s) | Value::Ascii(s) => match s.parse::<Decimal64>() {
                Ok(d) => Canon::Num(d.normalized()),
                Err(_) => match s.parse::<u64>() {
                    Ok(u) => Canon::BigUint(u),
                    Err(_) => Canon::Text(s.clone()),
                },
            },
            Value::Bool(b) => Canon::Bool(*b),
            Value::Empty => Canon::Empty,
            Value::Bytes(b) => Canon::Bytes(b.clone()),
            _ => return None,
        })
    }
}

#[derive(PartialEq)]
enum Canon {
    Num(Decimal64),
    BigUint(u64),
    Text(String),
    Bool(bool),
    Empty,
    Bytes(Vec<u8>),
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Exact decimal form of an f64 when it has a short one (`1.5` → 15/10).
fn decimal_from_f64(f: f64) -> Option<Decimal64> {
    if !f.is_finite() {
        return None;
    }
    // `{}` prints the shortest string that round-trips, e.g. "1.5" or "1e21";
    // exponent forms fail to parse and fall back to text comparison.
    f.to_string()
        .parse::<Decimal64>()
        .ok()
        .map(Decimal64::normalized)
}

impl fmt::Display for Value {
    /// Human-readable form for diffs and logs (not a wire encoding).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) | Value::Ascii(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Bytes(b) | Value::ProtoBytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::Double(d) => write!(f, "{d}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::LeafList(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Json(s) | Value::JsonIetf(s) => f.write_str(s),
            Value::Any { type_url, value } => write!(f, "<any {type_url}, {} bytes>", value.len()),
            Value::Empty => f.write_str("[null]"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::Uint(u)
    }
}
impl From<u32> for Value {
    fn from(u: u32) -> Self {
        Value::Uint(u64::from(u))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}
impl From<Decimal64> for Value {
    fn from(d: Decimal64) -> Self {
        Value::Decimal(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_display_and_parse() {
        let d: Decimal64 = "-0.05".parse().unwrap_or(Decimal64 {
            digits: 0,
            precision: 0,
        });
        assert_eq!(
            d,
            Decimal64 {
                digits: -5,
                precision: 2
            }
        );
        assert_eq!(d.to_string(), "-0.05");
        assert_eq!(
            Decimal64 {
                digits: 12345,
                precision: 2
            }
            .to_string(),
            "123.45"
        );
        assert_eq!(
            Decimal64 {
                digits: i64::MIN,
                precision: 18
            }
            .to_string(),
            "-9.223372036854775808"
        );
        assert!("1.2.3".parse::<Decimal64>().is_err());
        assert!("".parse::<Decimal64>().is_err());
        assert!("99999999999999999999".parse::<Decimal64>().is_err());
        assert!(Decimal64::new(1, 19).is_err());
    }

    #[test]
    fn semantic_equality_across_forms() {
        assert!(Value::Int(9214).semantic_eq(&Value::Uint(9214)));
        assert!(Value::String("9214".into()).semantic_eq(&Value::Uint(9214)));
        assert!(Value::String("18446744073709551615".into()).semantic_eq(&Value::Uint(u64::MAX)));
        assert!(
            Value::Decimal(Decimal64 {
                digits: 150,
                precision: 2
            })
            .semantic_eq(&Value::Double(1.5))
        );
        assert!(
            Value::String("1.5".into()).semantic_eq(&Value::Decimal(Decimal64 {
                digits: 15,
                precision: 1
            }))
        );
        assert!(!Value::Int(1).semantic_eq(&Value::Int(2)));
        assert!(!Value::String("up".into()).semantic_eq(&Value::String("down".into())));
        assert!(!Value::Bool(true).semantic_eq(&Value::String("true".into())));
        assert!(
            Value::LeafList(vec![Value::Uint(10), Value::Uint(20)]).semantic_eq(&Value::LeafList(
                vec![Value::String("10".into()), Value::Int(20)]
            ))
        );
    }

    #[test]
    fn serde_form_is_tagged_and_round_trips() {
        let v = Value::LeafList(vec![
            Value::Uint(10),
            Value::String("a".into()),
            Value::Empty,
        ]);
        let json = serde_json::to_string(&v).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"leaf_list":[{"uint":10},{"string":"a"},"empty"]}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&json).ok(), Some(v));
    }

    #[test]
    fn encoding_numbers_round_trip() {
        for n in -1..7 {
            assert_eq!(Encoding::from_i32(n).as_i32(), n);
        }
        assert_eq!(Encoding::from_i32(9), Encoding::Unknown(9));
    }

    fn arb_mixed() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            (0u64..20).prop_map(Value::Uint),
            (-20i64..20).prop_map(Value::Int),
            (0u64..20).prop_map(|u| Value::String(u.to_string())),
            (-20i64..20, 0u32..3)
                .prop_map(|(digits, precision)| Value::Decimal(Decimal64 { digits, precision })),
            prop_oneof![Just(0.5f64), Just(1.0), Just(2.5), Just(-1.5)].prop_map(Value::Double),
            prop_oneof![Just("1.50"), Just("up"), Just("true"), Just("0.5")]
                .prop_map(|s| Value::String(s.into())),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Empty),
            prop_oneof![Just("{}"), Just("[1]")].prop_map(|s| Value::JsonIetf(s.into())),
        ];
        prop_oneof![
            4 => scalar.clone(),
            1 => prop::collection::vec(scalar, 0..3).prop_map(Value::LeafList),
        ]
    }

    proptest! {
        // canonical_key is a faithful key for semantic_eq, over values chosen
        // to collide often (numbers in several forms, numeric strings).
        #[test]
        fn canonical_key_agrees_with_semantic_eq(a in arb_mixed(), b in arb_mixed()) {
            prop_assert_eq!(a.semantic_eq(&b), a.canonical_key() == b.canonical_key(), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn decimal_round_trip(digits in any::<i64>(), precision in 0u32..=18) {
            let d = Decimal64 { digits, precision };
            let back: Decimal64 = d.to_string().parse().map_err(|e: ValueError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, d);
        }
    }
}
