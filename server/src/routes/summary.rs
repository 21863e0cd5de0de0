//! `GET /summary`: the portfolio at a glance — credits and records per
//! registry, vintage, status and holder, over the leaves of every tree.

use axum::extract::State;
use axum::Json;
use carbon_tracker_core::lifecycle::Status;
use carbon_tracker_core::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{bad_param, AppState, Params};
use crate::problem::Problem;
use crate::store::summary::{Group, GroupKey, Tally};

/// The grouping of `GET /summary`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SummaryParams {
    /// The keys to group by, separated by commas, each at most once, in any
    /// order: `registry`, `vintage`, `status`, `holder`. Absent: one grand
    /// total; an empty name (`group_by=`, `group_by=registry,`) is a 422.
    /// Groups are ordered by these keys in this order.
    #[param(value_type = Option<Vec<GroupKey>>, style = Form, explode = false, max_items = 4)]
    pub group_by: Option<String>,
}

/// One group: the values of its keys (only the keys grouped by are
/// present), how many leaf records it has and their credits.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryGroup {
    /// The canonical registry (when grouped by `registry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The vintage year (when grouped by `vintage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vintage: Option<u16>,
    /// The status (when grouped by `status`): never `SPLIT`, a split
    /// block's credits are counted through its children.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Who holds the credits (when grouped by `holder`): the latest
    /// buyer, inherited by a split's children; `null` while the registrant
    /// holds them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub holder: Option<Option<String>>,
    /// The number of leaf records in the group.
    pub records: u64,
    /// Their quantities added up, exactly, with 4 decimals (`"187.0000"`).
    #[schema(example = "187.0000")]
    pub quantity: String,
}

/// The total over every group.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryTotal {
    /// The number of leaf records.
    pub records: u64,
    /// Their quantities added up, exactly, with 4 decimals: the sum of the
    /// registered quantities.
    #[schema(example = "187.0000")]
    pub quantity: String,
}

/// Credit totals per group.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryBody {
    /// The keys grouped by, in the order asked.
    pub group_by: Vec<GroupKey>,
    /// One per combination of the keys' values that has a leaf, ordered by
    /// the keys in the order of `group_by`: registries and holders by code
    /// point (no holder first), vintages by year, statuses in lifecycle
    /// order (ACTIVE, SOLD, RETIRED, CANCELLED). Without keys, exactly one
    /// group, the grand total (0 records and `"0.0000"` on an empty store).
    pub groups: Vec<SummaryGroup>,
    /// Every group added up.
    pub total: SummaryTotal,
}

/// Reads `group_by`: names separated by commas (spaces around them and case
/// ignored); an empty, unknown or repeated name is a 422 listing the names
/// allowed. (No `group_by` is one grand total.)
pub(crate) fn parse_group_by(raw: Option<&str>) -> Result<Vec<GroupKey>, Problem> {
    let allowed = GroupKey::ALL.map(GroupKey::as_str).join(", ");
    let mut keys = Vec::new();
    let Some(raw) = raw else {
        return Ok(keys);
    };
    for name in raw.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(bad_param(
                "group_by",
                ErrorCode::NotAllowed,
                format!("group_by names an empty key ({raw:?}); it takes {allowed}, separated by commas, or leave it out for one grand total"),
            ));
        }
        let key = GroupKey::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
            bad_param(
                "group_by",
                ErrorCode::NotAllowed,
                format!("group_by takes {allowed} (any of them, separated by commas); {name:?} is not one of them"),
            )
        })?;
        if keys.contains(&key) {
            return Err(bad_param(
                "group_by",
                ErrorCode::NotAllowed,
                format!("group_by names {name:?} twice; it takes each of {allowed} at most once"),
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Credits and records per registry, vintage, status and holder.
///
/// Only the leaves of every tree are counted (records whose status is not
/// `SPLIT`): a split block's credits are counted through its children, so
/// the totals add up to the quantities registered. Quantities are added
/// exactly, on both backends.
#[utoipa::path(
    get, path = "/summary", tag = "records",
    params(SummaryParams),
    responses(
        (status = 200, description = "The totals per group", body = SummaryBody),
        (status = 422, description = "`group_by` names an unknown key or one twice", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn summary(
    State(app): State<AppState>,
    Params(p): Params<SummaryParams>,
) -> Result<Json<SummaryBody>, Problem> {
    let keys = parse_group_by(p.group_by.as_deref())?;
    let mut groups = app.store.summary(keys.clone()).await?;
    if keys.is_empty() && groups.is_empty() {
        groups.push((Group::default(), Tally::default()));
    }
    let mut total = Tally::default();
    let groups = groups
        .into_iter()
        .map(|(group, tally)| {
            total.records = total.records.saturating_add(tally.records);
            total.credits = total.credits.plus(tally.credits);
            SummaryGroup {
                registry: group.registry,
                vintage: group.vintage,
                status: group.status,
                holder: group.holder,
                records: tally.records,
                quantity: tally.credits.to_string(),
            }
        })
        .collect();
    Ok(Json(SummaryBody {
        group_by: keys,
        groups,
        total: SummaryTotal {
            records: total.records,
            quantity: total.credits.to_string(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_names() {
        assert_eq!(parse_group_by(None).ok(), Some(vec![]));
        assert!(parse_group_by(Some("")).is_err_and(|p| p.detail.contains("empty")));
        assert!(parse_group_by(Some(",")).is_err_and(|p| p.detail.contains("empty")));
        assert!(parse_group_by(Some("vintage,,registry")).is_err());
        assert_eq!(
            parse_group_by(Some(" Holder, vintage ,registry,status")).ok(),
            Some(vec![
                GroupKey::Holder,
                GroupKey::Vintage,
                GroupKey::Registry,
                GroupKey::Status
            ])
        );
        let unknown = parse_group_by(Some("registry,project")).err();
        assert!(
            unknown.is_some_and(|p| p.errors.first().is_some_and(|e| e.field == "group_by")
                && p.detail.contains("registry, vintage, status, holder"))
        );
        assert!(parse_group_by(Some("vintage,VINTAGE")).is_err());
    }
}
