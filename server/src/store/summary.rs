//! `GET /summary` for both backends: credit totals per group over the leaves
//! of every tree (SPEC §6), the query built once with the dialect's
//! placeholders, the rows merged and ordered here.
//!
//! A leaf is a record whose last event is not `SPLIT`: a split block's
//! credits are counted through its children, so the totals add up to the
//! registered quantities. Which event types leave which status is the core's
//! table ([`last_event_types`]); the store groups by the last event's type
//! and asks the core what status that is.
//!
//! Sums are exact. PostgreSQL adds `NUMERIC(18,4)` values itself; SQLite
//! keeps quantities as decimal text, so the query adds the whole credits and
//! the ten-thousandths as two integers (SQLite's integer `sum` fails on
//! overflow rather than rounding: past 9.2 × 10^18 whole credits in one
//! group), and [`Credits`] joins them.
//!
//! The holder is read in SQL as the list filter reads it (the latest sale's
//! buyer, else what a split child's `CREATED` inherited), then stripped here
//! the way the core strips it, and groups that differ only by surrounding
//! whitespace are merged.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use carbon_tracker_core::lifecycle::{last_event_types, EventType, Status};
use carbon_tracker_core::py_strip;
use serde::Serialize;
use utoipa::ToSchema;

use super::list::{Arg, Dialect};
use super::StoreError;

/// A key `GET /summary` groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupKey {
    /// The canonical registry.
    Registry,
    /// The vintage year.
    Vintage,
    /// The status (never `SPLIT`: only leaves are counted).
    Status,
    /// Who holds the credits (SPEC §6); `null` while the registrant does.
    Holder,
}

impl GroupKey {
    /// Every key, in the order the documentation lists them.
    pub const ALL: [Self; 4] = [Self::Registry, Self::Vintage, Self::Status, Self::Holder];

    /// The name in `group_by`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Vintage => "vintage",
            Self::Status => "status",
            Self::Holder => "holder",
        }
    }

    /// Parses a name of [`GroupKey::ALL`] (exactly, lowercase).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An exact count of credits, in ten-thousandths (a sum of quantities, which
/// may pass a single quantity's limit of 10^14).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Credits(u128);

impl Credits {
    /// Whole credits and ten-thousandths, as SQLite's two sums give them.
    pub(crate) fn from_parts(whole: i64, ten_thousandths: i64) -> Result<Self, StoreError> {
        let whole = u128::try_from(whole).map_err(|e| corrupt("sum of whole credits", e))?;
        let fraction =
            u128::try_from(ten_thousandths).map_err(|e| corrupt("sum of fractions", e))?;
        whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(fraction))
            .map(Self)
            .ok_or_else(|| corrupt("sum", "too large"))
    }

    /// Decimal text such as PostgreSQL's `numeric` (`"300.5000"`, `"12"`):
    /// digits, optionally a point and up to 4 more digits.
    pub(crate) fn from_decimal(text: &str) -> Result<Self, StoreError> {
        let bad = || corrupt("sum", format!("{text:?} is not a decimal of 4 places"));
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let fraction_ok = fraction.is_none_or(|f| digits(f) && f.len() <= 4);
        let fraction = fraction.unwrap_or_default();
        if !digits(whole) || !fraction_ok {
            return Err(bad());
        }
        let whole: u128 = whole.parse().map_err(|_| bad())?;
        let fraction: u128 = format!("{fraction:0<4}").parse().map_err(|_| bad())?;
        whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(fraction))
            .map(Self)
            .ok_or_else(bad)
    }

    /// The sum of two counts (saturating: no store holds 10^34 credits).
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

/// The SPEC's quantity form: exactly 4 decimals (`"100.0000"`).
impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}", self.0 / 10_000, self.0 % 10_000)
    }
}

fn corrupt(what: &str, source: impl fmt::Display) -> StoreError {
    StoreError::corrupt(None, what, source.to_string())
}

/// The values of one group's keys; `None` for a key not grouped by.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Group {
    /// The registry.
    pub registry: Option<String>,
    /// The vintage.
    pub vintage: Option<u16>,
    /// The status.
    pub status: Option<Status>,
    /// The holder: `Some(None)` for the registrant.
    pub holder: Option<Option<String>>,
}

impl Group {
    /// Compares two groups key by key in the order of `keys`: registries and
    /// holders by code point (no holder first), vintages by year, statuses
    /// in lifecycle order (ACTIVE, SOLD, RETIRED, CANCELLED).
    fn cmp_by(&self, other: &Self, keys: &[GroupKey]) -> Ordering {
        keys.iter()
            .map(|key| match key {
                GroupKey::Registry => self.registry.cmp(&other.registry),
                GroupKey::Vintage => self.vintage.cmp(&other.vintage),
                GroupKey::Status => self.status.cmp(&other.status),
                GroupKey::Holder => self.holder.cmp(&other.holder),
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// How many leaves a group has and their credits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The number of leaf records.
    pub records: u64,
    /// Their quantities added up.
    pub credits: Credits,
}

impl Tally {
    fn add(&mut self, other: Self) {
        self.records = self.records.saturating_add(other.records);
        self.credits = self.credits.plus(other.credits);
    }
}

/// One row of the query, read by the backend: the key columns in the order
/// of the query's keys, as stored.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawRow {
    /// The registry column.
    pub(crate) registry: Option<String>,
    /// The vintage column.
    pub(crate) vintage: Option<i64>,
    /// The type of the last event.
    pub(crate) last_type: Option<String>,
    /// The holder as stored (not yet stripped), `None` for no holder.
    pub(crate) holder: Option<Option<String>>,
    /// The group's count and credits.
    pub(crate) tally: Tally,
}

/// The SQL of `keys`' summary, and its arguments in placeholder order.
///
/// Columns: one per key in the order of `keys` (registry text, vintage
/// bigint, last event type text, holder text or null), then `count(*)`,
/// then the dialect's `sums` over the column `t.quantity`. Without keys, one
/// row (count 0 and null sums when there is no leaf).
pub(crate) fn query(keys: &[GroupKey], d: &Dialect, sums: &str) -> (String, Vec<Arg>) {
    let mut args = Vec::new();
    let mut bind = |arg: Arg| {
        let placeholder = match arg {
            Arg::Int(_) => d.int,
            Arg::Text(_) => d.text,
        };
        args.push(arg);
        placeholder(args.len())
    };
    let mut inner = "SELECT r.registry AS registry, CAST(r.vintage AS BIGINT) AS vintage, \
         r.quantity AS quantity, \
         (SELECT e.event_type FROM events e WHERE e.record_id = r.id \
          ORDER BY e.seq DESC LIMIT 1) AS last_type"
        .to_owned();
    if keys.contains(&GroupKey::Holder) {
        // The holder as the core reads it from a history (SPEC §6): the
        // latest sale's buyer, else what a split child's CREATED inherited.
        let sold = bind(Arg::Text(EventType::Sold.as_str().to_owned()));
        inner.push_str(&format!(
            ", COALESCE(\
             (SELECT {} FROM events e WHERE e.record_id = r.id AND e.event_type = {sold} \
              ORDER BY e.seq DESC LIMIT 1), \
             (SELECT {} FROM events e WHERE e.record_id = r.id AND e.seq = 1)) AS holder",
            (d.json_text)("e.payload", "buyer"),
            (d.json_text)("e.payload", "holder"),
        ));
    }
    inner.push_str(" FROM records r");
    let split: Vec<String> = last_event_types(Status::Split)
        .iter()
        .map(|t| bind(Arg::Text(t.as_str().to_owned())))
        .collect();
    let columns: Vec<&str> = keys
        .iter()
        .map(|k| match k {
            GroupKey::Registry => "t.registry",
            GroupKey::Vintage => "t.vintage",
            GroupKey::Status => "t.last_type",
            GroupKey::Holder => "t.holder",
        })
        .collect();
    let mut select: Vec<&str> = columns.clone();
    select.push("count(*)");
    select.push(sums);
    let mut sql = format!(
        "SELECT {} FROM ({inner}) t WHERE t.last_type NOT IN ({})",
        select.join(", "),
        split.join(", ")
    );
    if !columns.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", columns.join(", ")));
    }
    (sql, args)
}

/// The groups of the rows the query returned: keys decoded (the status
/// from the core's table, the holder stripped as the core strips it),
/// groups that then coincide merged, in the order of [`Group::cmp_by`].
pub(crate) fn groups(
    keys: &[GroupKey],
    rows: Vec<RawRow>,
) -> Result<Vec<(Group, Tally)>, StoreError> {
    let mut merged: BTreeMap<GroupOrder, Tally> = BTreeMap::new();
    for row in rows {
        let mut group = Group::default();
        for key in keys {
            match key {
                GroupKey::Registry => {
                    group.registry = Some(row.registry.clone().ok_or_else(|| {
                        corrupt("registry", "the summary's registry column is null")
                    })?);
                }
                GroupKey::Vintage => {
                    let vintage = row.vintage.ok_or_else(|| {
                        corrupt("vintage", "the summary's vintage column is null")
                    })?;
                    group.vintage =
                        Some(u16::try_from(vintage).map_err(|e| corrupt("vintage", e))?);
                }
                GroupKey::Status => group.status = Some(status_after(row.last_type.as_deref())?),
                GroupKey::Holder => {
                    group.holder = Some(
                        row.holder
                            .clone()
                            .flatten()
                            .map(|h| py_strip(&h).to_owned()),
                    );
                }
            }
        }
        merged
            .entry(GroupOrder {
                group,
                keys: keys.to_vec(),
            })
            .or_default()
            .add(row.tally);
    }
    Ok(merged.into_iter().map(|(k, t)| (k.group, t)).collect())
}

/// A group ordered by the query's keys.
#[derive(PartialEq, Eq)]
struct GroupOrder {
    group: Group,
    keys: Vec<GroupKey>,
}

impl Ord for GroupOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        self.group.cmp_by(&other.group, &self.keys)
    }
}

impl PartialOrd for GroupOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The status a record whose last event has this type is in.
fn status_after(last_type: Option<&str>) -> Result<Status, StoreError> {
    let event_type = last_type.and_then(EventType::parse).ok_or_else(|| {
        corrupt(
            "event type",
            format!("a record's last event has the type {last_type:?}"),
        )
    })?;
    Status::ALL
        .into_iter()
        .find(|s| last_event_types(*s).contains(&event_type))
        .ok_or_else(|| corrupt("event type", format!("no status follows {event_type}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQLITE: Dialect = Dialect {
        int: |n| format!("?{n}"),
        text: |n| format!("?{n}"),
        record_columns: "r.pos",
        json_text: |c, k| format!("{c}.{k}"),
        position: &["r.pos"],
    };

    #[test]
    fn the_query_groups_by_the_keys_asked_in_their_order() {
        let (sql, args) = query(&[GroupKey::Status, GroupKey::Registry], &SQLITE, "S");
        assert_eq!(
            sql,
            "SELECT t.last_type, t.registry, count(*), S FROM (SELECT r.registry AS registry, \
             CAST(r.vintage AS BIGINT) AS vintage, r.quantity AS quantity, (SELECT e.event_type \
             FROM events e WHERE e.record_id = r.id ORDER BY e.seq DESC LIMIT 1) AS last_type \
             FROM records r) t WHERE t.last_type NOT IN (?1) GROUP BY t.last_type, t.registry"
        );
        assert_eq!(args, [Arg::Text("SPLIT".to_owned())]);
        let (sql, args) = query(&[], &SQLITE, "S");
        assert!(sql.starts_with("SELECT count(*), S FROM"), "{sql}");
        assert!(!sql.contains("GROUP BY"), "{sql}");
        assert_eq!(args.len(), 1);
        let (sql, args) = query(&[GroupKey::Holder], &SQLITE, "S");
        assert!(sql.contains("e.payload.buyer"), "{sql}");
        assert!(sql.contains("GROUP BY t.holder"), "{sql}");
        assert_eq!(
            args,
            [Arg::Text("SOLD".to_owned()), Arg::Text("SPLIT".to_owned())]
        );
    }

    #[test]
    fn credits_are_exact() {
        let max = Credits::from_decimal("99999999999999.9999").unwrap_or_default();
        assert_eq!(max.to_string(), "99999999999999.9999");
        assert_eq!(max.plus(max).plus(max).to_string(), "299999999999999.9997");
        assert_eq!(
            Credits::from_decimal("12").map(|c| c.to_string()).ok(),
            Some("12.0000".to_owned())
        );
        assert_eq!(
            Credits::from_decimal("0.5").map(|c| c.to_string()).ok(),
            Some("0.5000".to_owned())
        );
        for bad in ["", ".5", "1.", "1.23456", "-1", "1e3", "1.2.3"] {
            assert!(Credits::from_decimal(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Credits::from_parts(i64::MAX, 9_999)
                .map(|c| c.to_string())
                .ok(),
            Some("9223372036854775807.9999".to_owned())
        );
        assert_eq!(
            Credits::from_parts(3, 25_000).map(|c| c.to_string()).ok(),
            Some("5.5000".to_owned())
        );
        assert!(Credits::from_parts(-1, 0).is_err());
    }

    #[test]
    fn groups_are_merged_and_ordered() {
        let row =
            |registry: &str, last: &str, holder: Option<&str>, records: u64, q: &str| RawRow {
                registry: Some(registry.to_owned()),
                vintage: Some(2020),
                last_type: Some(last.to_owned()),
                holder: Some(holder.map(str::to_owned)),
                tally: Tally {
                    records,
                    credits: Credits::from_decimal(q).unwrap_or_default(),
                },
            };
        let keys = [GroupKey::Status, GroupKey::Holder];
        let rows = vec![
            row("b", "RETIRED", Some("acme"), 1, "1"),
            row("a", "SOLD", Some(" acme\u{1f}"), 1, "2.5"),
            row("a", "SOLD", Some("acme"), 2, "3"),
            row("a", "CREATED", None, 1, "10"),
            row("a", "SOLD", Some("Zeta"), 1, "1"),
        ];
        let out = groups(&keys, rows).unwrap_or_default();
        let shown: Vec<_> = out
            .into_iter()
            .map(|(g, t)| (g.status, g.holder, t.records, t.credits.to_string()))
            .collect();
        assert_eq!(
            shown,
            [
                (Some(Status::Active), Some(None), 1, "10.0000".to_owned()),
                (
                    Some(Status::Sold),
                    Some(Some("Zeta".to_owned())),
                    1,
                    "1.0000".to_owned()
                ),
                (
                    Some(Status::Sold),
                    Some(Some("acme".to_owned())),
                    3,
                    "5.5000".to_owned()
                ),
                (
                    Some(Status::Retired),
                    Some(Some("acme".to_owned())),
                    1,
                    "1.0000".to_owned()
                ),
            ]
        );
        let bad = RawRow {
            last_type: Some("SPLIT?".to_owned()),
            ..RawRow::default()
        };
        assert!(groups(&[GroupKey::Status], vec![bad]).is_err());
    }
}
