//! Gold Standard's registry exports (Impact Registry, "Issuances" and
//! "Retirements" tables exported as CSV).
//!
//! Checked against real exports' headers (carbonplan/offsets-db-data's
//! samples): issuances `Vintage, Credit Status, Quantity, GSID, Project Name,
//! Project Developer, Country, Project Type, Methodology, Programme of
//! Activities, POA GSID, Product Type, Issuance Date, Monitoring Period
//! Start, Monitoring Period End, Serial Number, Label, Article Six
//! Authorization`; retirements the same (in another order) plus `Retirement
//! Date, Note, Aeroplane Operator Name, Use Case, Using Entity`, with
//! `Credit Status` `Retired` or `Canceled`. Dates ISO, some with a time and
//! microseconds and no zone (`2026-04-13T12:35:58.842275`, read as UTC);
//! `Note` may hold line breaks; `Product Type` `CER` rows carry CDM serials
//! (`RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014`, the core's `cdm`
//! scheme). In the sample, `Canceled` rows have no `Retirement Date`: their
//! payload then has no `effective_at`.
//!
//! - project_name: `Project Name` (`GSID` when empty); quantity: `Quantity`;
//!   vintage: `Vintage`.
//! - `Credit Status` `Issued` (or empty): a held block; `Retired`: `Retire`
//!   with effective_at `Retirement Date`, beneficiary `Using Entity` (else
//!   `Aeroplane Operator Name`), purpose from `Use Case` when it maps
//!   cleanly, reason the unmapped `Use Case` and `Note` joined by "; ";
//!   `Canceled`/`Cancelled`: `Cancel` with reason `Note`; another status
//!   rejects the row (`unknown_status`).

use carbon_tracker_core::{Action, MAX_NAME_CHARS};

use super::values::Dates;
use super::{Block, Cells, Format, Item, Kind, Payload, RowError};

const NAME: &str = "Project Name";
const GSID: &str = "GSID";
const VINTAGE: &str = "Vintage";
const QUANTITY: &str = "Quantity";
const SERIAL: &str = "Serial Number";
const STATUS: &str = "Credit Status";
const PRODUCT: &str = "Product Type";
const DATE: &str = "Retirement Date";
const NOTE: &str = "Note";
const USING_ENTITY: &str = "Using Entity";
const OPERATOR: &str = "Aeroplane Operator Name";
const USE_CASE: &str = "Use Case";

pub(super) const KINDS: &[Kind] = &[
    Kind {
        name: "retirements",
        signature: &[STATUS, GSID, PRODUCT, DATE],
        required: &[NAME, VINTAGE, QUANTITY, SERIAL],
        read,
    },
    Kind {
        name: "issuances",
        signature: &[STATUS, GSID, PRODUCT],
        required: &[NAME, VINTAGE, QUANTITY, SERIAL],
        read,
    },
];

fn read(c: &Cells<'_>) -> Result<Item, RowError> {
    let project = c.required(NAME, Some(GSID))?;
    let vintage = c.vintage(VINTAGE)?;
    let quantity = c.quantity(QUANTITY)?;
    let Some(serial) = c.serial(SERIAL, QUANTITY, quantity)? else {
        return Ok(super::no_serial(c, SERIAL));
    };
    let status = c.get(STATUS).map(str::to_lowercase);
    let end = match status.as_deref() {
        None | Some("issued") => None,
        Some("retired") => {
            let mut payload = Payload::at(c.date(DATE, Dates::Iso)?);
            let beneficiary = match c.text(USING_ENTITY, MAX_NAME_CHARS)? {
                Some(entity) => Some(entity),
                None => c.text(OPERATOR, MAX_NAME_CHARS)?,
            };
            payload.put("beneficiary", beneficiary);
            let (purpose, reason) = c.purpose_and_reason(USE_CASE, &[NOTE])?;
            payload.put("purpose", purpose);
            payload.put("reason", reason);
            payload.end(Action::Retire)
        }
        Some("canceled" | "cancelled") => {
            let mut payload = Payload::at(c.date(DATE, Dates::Iso)?);
            payload.put("reason", c.joined(&[NOTE])?);
            payload.end(Action::Cancel)
        }
        Some(_) => {
            return Err(c.error(
                STATUS,
                "unknown_status",
                format!(
                    "{} {:?} is none of Issued, Retired, Canceled",
                    c.column(STATUS),
                    c.get(STATUS).unwrap_or_default()
                ),
            ))
        }
    };
    Ok(Block {
        format: Format::GoldStandard,
        project,
        vintage,
        quantity,
        serial,
        holder: None,
        end,
    }
    .item())
}
