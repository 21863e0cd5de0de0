//! `GET /records` for both backends: the query, built once with the
//! dialect's placeholders, and the page cut.
//!
//! The query asks for one row more than the page holds, to know whether a
//! next page exists. The status filter matches a record's last event against
//! the types the core says leave that status
//! ([`last_event_types`](carbon_tracker_core::lifecycle::last_event_types)):
//! the store asks, it does not know the lifecycle.

use std::collections::HashMap;

use carbon_tracker_core::lifecycle::{last_event_types, Event, EventType};
use carbon_tracker_core::{RecordId, PY_WHITESPACE};

use super::rows::RecordRow;
use super::{ListQuery, Page, StoreError};

/// An argument of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
}

/// What differs between the SQL of the backends.
pub(crate) struct Dialect {
    /// The placeholder of the n-th argument (from 1) when it is an integer.
    pub(crate) int: fn(usize) -> String,
    /// The placeholder of the n-th argument when it is text.
    pub(crate) text: fn(usize) -> String,
    /// The columns of a [`RecordRow`], in the order the backend reads them.
    pub(crate) record_columns: &'static str,
    /// The text of a key of a JSON payload column, as SQL: `(column, key)`.
    pub(crate) json_text: fn(&str, &str) -> String,
    /// The columns of a position, in order: `r.pos`, or `r.tx` then `r.pos`
    /// (the last one, `pos`, is always there).
    pub(crate) position: &'static [&'static str],
}

/// The SQL of one page of `q`, and its arguments in placeholder order.
pub(crate) fn query(q: &ListQuery, d: &Dialect) -> (String, Vec<Arg>) {
    let mut args = Vec::new();
    let mut bind = |arg: Arg| {
        let placeholder = match arg {
            Arg::Int(_) => d.int,
            Arg::Text(_) => d.text,
        };
        args.push(arg);
        placeholder(args.len())
    };
    let after = q.after.unwrap_or_default();
    let values = [after.tx, after.pos];
    let skip = values.len().saturating_sub(d.position.len());
    let placeholders: Vec<String> = values
        .iter()
        .skip(skip)
        .map(|&v| bind(Arg::Int(v)))
        .collect();
    let mut sql = if let ([column], [value]) = (d.position, placeholders.as_slice()) {
        format!(
            "SELECT {} FROM records r WHERE {column} > {value}",
            d.record_columns
        )
    } else {
        format!(
            "SELECT {} FROM records r WHERE ({}) > ({})",
            d.record_columns,
            d.position.join(", "),
            placeholders.join(", ")
        )
    };
    // No stored registry or holder holds a control character (SPEC §2.1 and
    // §6 refuse them when written), and PostgreSQL takes no NUL in a text
    // parameter (such a filter was a 503): a filter with one matches
    // nothing, and its text is not sent.
    let unmatchable = q
        .registry
        .iter()
        .chain(&q.holder)
        .any(|text| text.chars().any(char::is_control));
    if unmatchable {
        sql.push_str(" AND 1 = 0");
    }
    if let Some(registry) = q.registry.as_ref().filter(|_| !unmatchable) {
        sql.push_str(&format!(
            " AND r.registry = {}",
            bind(Arg::Text(registry.clone()))
        ));
    }
    if let Some(vintage) = q.vintage {
        sql.push_str(&format!(
            " AND r.vintage = {}",
            bind(Arg::Int(i64::from(vintage)))
        ));
    }
    if let Some(status) = q.status {
        let types: Vec<String> = last_event_types(status)
            .iter()
            .map(|t| bind(Arg::Text(t.as_str().to_owned())))
            .collect();
        sql.push_str(&format!(
            " AND (SELECT e.event_type FROM events e WHERE e.record_id = r.id \
             ORDER BY e.seq DESC LIMIT 1) IN ({})",
            types.join(", ")
        ));
    }
    if let Some(holder) = q.holder.as_ref().filter(|_| !unmatchable) {
        // The holder as the core reads it from a history (SPEC §6): the
        // latest sale's buyer, else what a split child's CREATED inherited.
        let sold = bind(Arg::Text(EventType::Sold.as_str().to_owned()));
        // Stripped as the core strips it: SQL's trim() alone takes spaces
        // only, so a buyer ending in a tab or a no-break space was not found.
        let holder = bind(Arg::Text(holder.clone()));
        let whitespace = bind(Arg::Text(PY_WHITESPACE.to_owned()));
        sql.push_str(&format!(
            " AND trim(COALESCE(\
             (SELECT {} FROM events e WHERE e.record_id = r.id AND e.event_type = {sold} \
              ORDER BY e.seq DESC LIMIT 1), \
             (SELECT {} FROM events e WHERE e.record_id = r.id AND e.seq = 1)), {whitespace}) = {holder}",
            (d.json_text)("e.payload", "buyer"),
            (d.json_text)("e.payload", "holder"),
        ));
    }
    let limit = bind(Arg::Int(i64::from(q.limit) + 1));
    sql.push_str(&format!(
        " ORDER BY {} LIMIT {limit}",
        d.position.join(", ")
    ));
    (sql, args)
}

/// The rows of one page, and whether more follow.
pub(crate) struct Cut {
    /// At most `limit` rows.
    pub(crate) rows: Vec<RecordRow>,
    /// The query found a row past the page.
    pub(crate) more: bool,
}

impl Cut {
    /// Keeps the first `limit` of the rows [`query`] returned.
    pub(crate) fn new(mut rows: Vec<RecordRow>, limit: u32) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, more }
    }

    /// The ids whose events the page needs.
    pub(crate) fn ids(&self) -> Vec<&str> {
        self.rows.iter().map(|r| r.id.as_str()).collect()
    }

    /// The page, each record with its events from `events`.
    pub(crate) fn page(
        self,
        mut events: HashMap<RecordId, Vec<Event>>,
    ) -> Result<Page, StoreError> {
        let mut items = Vec::with_capacity(self.rows.len());
        let mut last = None;
        for row in self.rows {
            let id = super::rows::record_id(&row.id)?;
            let (position, record) = row.decode(events.remove(&id).unwrap_or_default())?;
            last = Some(position);
            items.push(record);
        }
        Ok(Page {
            items,
            next: if self.more { last } else { None },
        })
    }
}

#[cfg(test)]
mod tests {
    use carbon_tracker_core::lifecycle::Status;

    use super::*;
    use crate::store::Position;

    #[test]
    fn one_query_two_dialects() {
        let q = ListQuery {
            registry: Some("vcs".to_owned()),
            vintage: Some(2023),
            status: Some(Status::Sold),
            holder: None,
            after: Some(Position { tx: 7, pos: 9 }),
            limit: 50,
        };
        let sqlite = Dialect {
            int: |n| format!("?{n}"),
            text: |n| format!("?{n}"),
            record_columns: "r.pos",
            json_text: |c, k| format!("{c}.{k}"),
            position: &["r.pos"],
        };
        let (sql, args) = query(&q, &sqlite);
        assert_eq!(
            sql,
            "SELECT r.pos FROM records r WHERE r.pos > ?1 AND r.registry = ?2 AND r.vintage = ?3 \
             AND (SELECT e.event_type FROM events e WHERE e.record_id = r.id ORDER BY e.seq DESC LIMIT 1) IN (?4) \
             ORDER BY r.pos LIMIT ?5"
        );
        assert_eq!(
            args,
            [
                Arg::Int(9),
                Arg::Text("vcs".to_owned()),
                Arg::Int(2023),
                Arg::Text("SOLD".to_owned()),
                Arg::Int(51)
            ]
        );
        let postgres = Dialect {
            int: |n| format!("${n}::bigint"),
            text: |n| format!("${n}"),
            record_columns: "r.tx, r.pos",
            json_text: |c, k| format!("{c}.{k}"),
            position: &["r.tx", "r.pos"],
        };
        let (sql, args) = query(
            &ListQuery {
                limit: 5,
                ..ListQuery::default()
            },
            &postgres,
        );
        assert_eq!(
            sql,
            "SELECT r.tx, r.pos FROM records r WHERE (r.tx, r.pos) > ($1::bigint, $2::bigint) \
             ORDER BY r.tx, r.pos LIMIT $3::bigint"
        );
        assert_eq!(args, [Arg::Int(0), Arg::Int(0), Arg::Int(6)]);
    }
}
