//! CAR's (Climate Action Reserve's) public reports, exported as CSV or
//! XLSX: "Retired Offset Credits", "Cancelled Offset Credits" and "Issued
//! Offset Credits".
//!
//! Checked against real exports' headers (carbonplan/offsets-db-data's
//! samples). Retirements: `Vintage, Offset Credit Serial Numbers, Quantity of
//! Offset Credits, Status Effective, Project ID, Project Name, Project Type,
//! Reduction/Removal, …, Project Site Country, …, Account Holder, Retirement
//! Reason, Retirement Reason Details`. Cancellations: `Vintage, Offset Credit
//! Serial Numbers, Quantity of Offset Credits, Status Effective, Project ID,
//! Project Name, …, Cancellation Reason, Export Notes` (no account holder in
//! the sample; read when present). Issuances: `Date Issued, Project ID, …,
//! Project Name, …, Vintage, Total Offset Credits Issued, …`, without
//! serials. Dates `03/19/2026` (M/D/YYYY). Serials
//! `CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000` (the core's `car` scheme).
//!
//! - project_name: `Project Name` (`Project ID` when empty); quantity:
//!   `Quantity of Offset Credits`; vintage: `Vintage`; holder: `Account
//!   Holder`.
//! - Retirements: `Retire`, effective_at `Status Effective`, no
//!   beneficiary column; `Retirement Reason` (a category) becomes `purpose`
//!   when it maps cleanly, else it leads the `reason`, `Retirement Reason
//!   Details` following after "; ".
//! - Cancellations: `Cancel`, reason `Cancellation Reason`.
//! - Issuances: every row skipped (no serial).

use carbon_tracker_core::Action;

use super::values::Dates;
use super::{BlockColumns, Cells, Format, Item, Kind, Payload, RowError};

const NAME: &str = "Project Name";
const ID: &str = "Project ID";
const VINTAGE: &str = "Vintage";
const QUANTITY: &str = "Quantity of Offset Credits";
const SERIAL: &str = "Offset Credit Serial Numbers";
const HOLDER: &str = "Account Holder";
const DATE: &str = "Status Effective";

pub(super) const KINDS: &[Kind] = &[
    Kind {
        name: "retirements",
        signature: &[SERIAL, QUANTITY, "Retirement Reason"],
        required: &[NAME, VINTAGE, DATE],
        read: retirement,
    },
    Kind {
        name: "cancellations",
        signature: &[SERIAL, QUANTITY, "Cancellation Reason"],
        required: &[NAME, VINTAGE, DATE],
        read: cancellation,
    },
    Kind {
        name: "issuances",
        signature: &["Date Issued", "Total Offset Credits Issued", ID],
        required: &[],
        read: |_| Ok(super::issuance_row(Format::Car)),
    },
];

fn retirement(c: &Cells<'_>) -> Result<Item, RowError> {
    BLOCK.read(c, |c| {
        let mut payload = Payload::at(c.date(DATE, Dates::MonthFirst)?);
        let (purpose, reason) =
            c.purpose_and_reason("Retirement Reason", &["Retirement Reason Details"])?;
        payload.put("purpose", purpose);
        payload.put("reason", reason);
        Ok(payload.end(Action::Retire))
    })
}

fn cancellation(c: &Cells<'_>) -> Result<Item, RowError> {
    super::cancellation_row(&BLOCK, DATE, &["Cancellation Reason"], c)
}

/// Where a block row's fields are.
const BLOCK: BlockColumns = BlockColumns {
    format: Format::Car,
    name: NAME,
    id: ID,
    vintage: VINTAGE,
    quantity: QUANTITY,
    serial: SERIAL,
    holder: HOLDER,
};
