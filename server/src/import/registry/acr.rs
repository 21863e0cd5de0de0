//! ACR's (American Carbon Registry's) public reports, exported as CSV or
//! XLSX: "Retired Credits", "Cancelled Credits" and "Issuances".
//!
//! Checked against real exports' headers (carbonplan/offsets-db-data's
//! samples). Retirements: `Credit Serial Numbers, Date Issued (GMT),
//! Vintage, Vintage Assignment Period Start Date, Vintage Assignment Period
//! End Date, Quantity of Credits, Account Holder, Status Effective (GMT),
//! Retired on Behalf of, Retirement Reason, Purpose of Retirement, Project
//! ID, Project Name, Project Type, Project Methodology/Protocol, …, Project
//! Site Country, …`. Cancellations: the same kind, with `Status Effective
//! (GMT)` spelt with two spaces, `Cancellation Type` and `Cancellation
//! Details`. Issuances: `Date Issued (GMT), Vintage, …, Total Credits
//! Issued, …, Project ID, Project Name, …`, without serials. Dates
//! `11/3/2025 7:10:41 PM` (M/D/YYYY, 12-hour clock, GMT). Serials
//! `ACR-US-681-2022-3337-1 to 25245` (the core's `acr` scheme).
//!
//! - project_name: `Project Name` (`Project ID` when empty); quantity:
//!   `Quantity of Credits`; vintage: `Vintage`; holder: `Account Holder`
//!   (ACR writes a number there for holders that keep their name private).
//! - Retirements: `Retire`, effective_at `Status Effective (GMT)`,
//!   beneficiary `Retired on Behalf of`; `Retirement Reason` is a category
//!   ("Environmental Benefit", "On Behalf of Third Party"), `Purpose of
//!   Retirement` the retiring party's text: the category becomes `purpose`
//!   when it maps cleanly, else it leads the `reason`, the text following
//!   after "; ".
//! - Cancellations: `Cancel`, reason `Cancellation Type` and `Cancellation
//!   Details` joined by "; ".
//! - Issuances: every row skipped (no serial).

use super::{BlockColumns, Cells, Format, Item, Kind, RowError};

const NAME: &str = "Project Name";
const ID: &str = "Project ID";
const VINTAGE: &str = "Vintage";
const QUANTITY: &str = "Quantity of Credits";
const SERIAL: &str = "Credit Serial Numbers";
const HOLDER: &str = "Account Holder";
const RETIRED_AT: &str = "Status Effective (GMT)";
const CANCELLED_AT: &str = "Status Effective  (GMT)";

pub(super) const KINDS: &[Kind] = &[
    Kind {
        name: "retirements",
        signature: &[SERIAL, QUANTITY, RETIRED_AT, "Retired on Behalf of"],
        required: &[NAME, VINTAGE],
        read: retirement,
    },
    Kind {
        name: "cancellations",
        signature: &[SERIAL, QUANTITY, CANCELLED_AT, "Cancellation Type"],
        required: &[NAME, VINTAGE],
        read: cancellation,
    },
    Kind {
        name: "issuances",
        signature: &["Date Issued (GMT)", "Total Credits Issued", ID],
        required: &[],
        read: |_| Ok(super::issuance_row(Format::Acr)),
    },
];

fn retirement(c: &Cells<'_>) -> Result<Item, RowError> {
    super::apx_retirement(&BLOCK, RETIRED_AT, c)
}

fn cancellation(c: &Cells<'_>) -> Result<Item, RowError> {
    super::cancellation_row(
        &BLOCK,
        CANCELLED_AT,
        &["Cancellation Type", "Cancellation Details"],
        c,
    )
}

/// Where a block row's fields are.
const BLOCK: BlockColumns = BlockColumns {
    format: Format::Acr,
    name: NAME,
    id: ID,
    vintage: VINTAGE,
    quantity: QUANTITY,
    serial: SERIAL,
    holder: HOLDER,
};
