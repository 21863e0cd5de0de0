//! Verra's VCU export (the registry's "VCUs" search, exported as CSV or
//! XLSX): one file, one row per block, no type column.
//!
//! Checked against a real export's header (the sample of Verra transactions
//! kept by carbonplan/offsets-db-data): `Issuance Date, Sustainable
//! Development Goals, Vintage Start, Vintage End, ID, Name, Country/Area,
//! Project Type, Methodology, Total Vintage Quantity, Quantity Issued, Serial
//! Number, Additional Certifications, Retirement/Cancellation Date,
//! Retirement Beneficiary, Retirement Reason, Retirement Details`; dates ISO
//! (`2026-04-03`), older exports `DD/MM/YYYY`; `Total Vintage Quantity` with
//! thousands separators.
//!
//! - A row with a `Retirement/Cancellation Date` is a retired block: the
//!   file cannot tell a cancellation from a retirement, so every one is read
//!   as `Retire`. A row without is a held block.
//! - project_name: `Name` (`ID` when `Name` is empty); quantity: `Quantity
//!   Issued`; vintage: the year of `Vintage End` (a vintage may span two
//!   years: `2021-07-01` to `2022-06-30` is 2022, as the core's Verra serial
//!   reading has it).
//! - beneficiary: `Retirement Beneficiary`; reason: `Retirement Reason` and
//!   `Retirement Details` joined by "; " (the reason holds 1000 characters,
//!   the public note only 256, so the details go with the reason); no
//!   purpose (Verra's reasons, "Environmental Benefit" and the like, name
//!   none of the core's).

use carbon_tracker_core::{Action, MAX_NAME_CHARS};

use super::values::Dates;
use super::{Block, Cells, Format, Item, Kind, Payload, RowError};

const NAME: &str = "Name";
const ID: &str = "ID";
const VINTAGE_END: &str = "Vintage End";
const QUANTITY: &str = "Quantity Issued";
const SERIAL: &str = "Serial Number";
const DATE: &str = "Retirement/Cancellation Date";
const BENEFICIARY: &str = "Retirement Beneficiary";
const REASON: &str = "Retirement Reason";
const DETAILS: &str = "Retirement Details";

pub(super) const KINDS: &[Kind] = &[Kind {
    name: "VCUs",
    signature: &[QUANTITY, VINTAGE_END, DATE],
    required: &[NAME, SERIAL],
    read,
}];

fn read(c: &Cells<'_>) -> Result<Item, RowError> {
    let project = c.required(NAME, Some(ID))?;
    let vintage = match c.date(VINTAGE_END, Dates::DayFirst)? {
        Some(end) => i64::from(end.year),
        None => {
            return Err(c.error(
                VINTAGE_END,
                "missing_value",
                format!("{} is empty", c.column(VINTAGE_END)),
            ))
        }
    };
    let quantity = c.quantity(QUANTITY)?;
    let Some(serial) = c.serial(SERIAL, QUANTITY, quantity)? else {
        return Ok(super::no_serial(c, SERIAL));
    };
    let end = match c.date(DATE, Dates::DayFirst)? {
        None => None,
        Some(at) => {
            let mut payload = Payload::at(Some(at));
            payload.put("beneficiary", c.text(BENEFICIARY, MAX_NAME_CHARS)?);
            payload.put("reason", c.joined(&[REASON, DETAILS])?);
            payload.end(Action::Retire)
        }
    };
    Ok(Block {
        format: Format::Verra,
        project,
        vintage,
        quantity,
        serial,
        holder: None,
        end,
    }
    .item())
}
