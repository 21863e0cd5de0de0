//! ART TREES' (Architecture for REDD+ Transactions) registry reports,
//! exported as CSV or XLSX: "Retirements" and "Cancellations".
//!
//! Checked against real exports' headers (carbonplan/offsets-db-data's
//! samples). Retirements: `Vintage, Credit Serial Numbers, Quantity of
//! Credits, Status Effective, …, Program ID, Program Name, Program Type,
//! Crediting Program and Standard, Standard Version, Program
//! Jurisdiction(s), Program  Country` (two spaces) `, Date Approved, Account
//! Holder, Retired on Behalf of, Retirement Reason, Purpose of Retirement`.
//! Cancellations: the same kind, ending `Account Holder, Cancellation
//! Reason, Cancellation Details`. Dates `04/08/2026` (M/D/YYYY). Serials
//! `ART-GY-102-2016-9-1401 to 1408` or `FCPF-CI-130-2023-20-1 to 46404` (the
//! core's `art-trees` scheme).
//!
//! - project_name: `Program Name` (the export has one; `Program ID` when it
//!   is empty); quantity: `Quantity of Credits`; vintage: `Vintage`; holder:
//!   `Account Holder`.
//! - Retirements: `Retire`, effective_at `Status Effective`, beneficiary
//!   `Retired on Behalf of`; `Retirement Reason` is a category
//!   ("Contribution Towards Corporate Climate Pledge" is the core's
//!   `corporate_target`; "… AND Host Country NDC" maps to no one purpose and
//!   leads the `reason`), `Purpose of Retirement` the retiring party's text,
//!   which follows in `reason` after "; ".
//! - Cancellations: `Cancel`, reason `Cancellation Reason` and
//!   `Cancellation Details` joined by "; ".

use super::{BlockColumns, Cells, Format, Item, Kind, RowError};

const NAME: &str = "Program Name";
const ID: &str = "Program ID";
const VINTAGE: &str = "Vintage";
const QUANTITY: &str = "Quantity of Credits";
const SERIAL: &str = "Credit Serial Numbers";
const HOLDER: &str = "Account Holder";
const DATE: &str = "Status Effective";
const COUNTRY: &str = "Program  Country";

pub(super) const KINDS: &[Kind] = &[
    Kind {
        name: "retirements",
        signature: &[SERIAL, QUANTITY, ID, COUNTRY, "Retired on Behalf of"],
        required: &[NAME, VINTAGE, DATE],
        read: retirement,
    },
    Kind {
        name: "cancellations",
        signature: &[SERIAL, QUANTITY, ID, COUNTRY, "Cancellation Reason"],
        required: &[NAME, VINTAGE, DATE],
        read: cancellation,
    },
];

fn retirement(c: &Cells<'_>) -> Result<Item, RowError> {
    super::apx_retirement(&BLOCK, DATE, c)
}

fn cancellation(c: &Cells<'_>) -> Result<Item, RowError> {
    super::cancellation_row(
        &BLOCK,
        DATE,
        &["Cancellation Reason", "Cancellation Details"],
        c,
    )
}

/// Where a block row's fields are.
const BLOCK: BlockColumns = BlockColumns {
    format: Format::ArtTrees,
    name: NAME,
    id: ID,
    vintage: VINTAGE,
    quantity: QUANTITY,
    serial: SERIAL,
    holder: HOLDER,
};
