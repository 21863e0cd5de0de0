//! The fixtures in tests/fixtures/registries/, read through `read_sheet`,
//! `detect` and `read_rows`, against values written out by hand from the
//! files (never from this code's output).

use std::path::PathBuf;

use carbon_tracker_core::{Action, Scheme};
use serde_json::{json, Value};

use super::sheet::SheetRow;
use super::*;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/registries")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn sheet(name: &str) -> Sheet {
    read_sheet(name, &bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The file's rows, after checking that it is detected as `format`.
fn rows(name: &str, format: Format) -> Vec<(usize, Item)> {
    let sheet = sheet(name);
    assert_eq!(detect(&sheet).unwrap(), format, "{name}");
    read_rows(format, &sheet)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .map(|r| (r.row, r.item))
        .collect()
}

fn block(
    project: &str,
    registry: &str,
    vintage: i64,
    quantity: &str,
    serial: &str,
    holder: Option<&str>,
    end: Option<(Action, Value)>,
) -> Item {
    let record = json!({
        "project_name": project,
        "registry": registry,
        "vintage": vintage,
        "quantity": quantity,
        "serial_number": serial,
    });
    Item::Block(Entry {
        record: record.as_object().cloned().unwrap(),
        holder: holder.map(str::to_owned),
        end: end.map(|(action, payload)| End {
            action,
            payload: payload.as_object().cloned().unwrap(),
        }),
    })
}

fn skipped(reason: &str) -> Item {
    Item::Skipped(reason.to_owned())
}

fn rejected(item: &Item) -> &RowError {
    match item {
        Item::Rejected(e) => e,
        other => panic!("not rejected: {other:?}"),
    }
}

fn verra_rows() -> Vec<(usize, Item)> {
    let v = "Verra";
    vec![
        (
            2,
            block(
                "Bale Mountains Eco-region REDD+ project",
                v,
                2020,
                "425",
                "19385-941467007-941467431-VCS-VCU-1507-VER-ET-14-1340-01012020-31122020-1",
                None,
                None,
            ),
        ),
        (
            3,
            block(
                "Tongxu Biogas Recovery and Utilization Project",
                v,
                2022,
                "187",
                "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
                None,
                Some((
                    Action::Retire,
                    json!({
                        "effective_at": "2026-04-09T00:00:00Z",
                        "beneficiary": "Acme GmbH",
                        "reason": "Environmental Benefit; Retired on behalf of Acme GmbH for its 2025 emissions",
                    }),
                )),
            ),
        ),
        (
            // Vintage 01/07/2021 to 30/06/2022, dates DD/MM/YYYY, quantity "1,250".
            4,
            block(
                "Pacajai REDD+ Project",
                v,
                2022,
                "1250",
                "12345-100001-101250-VCS-VCU-997-VER-BR-14-1234-01072021-30062022-0",
                None,
                Some((
                    Action::Retire,
                    json!({
                        "effective_at": "2026-04-03T00:00:00Z",
                        "reason": "Environmental Benefit",
                    }),
                )),
            ),
        ),
        (5, skipped("empty row")),
        (
            6,
            block(
                "Bundled Wind Power Project",
                v,
                2019,
                "500",
                "9876-1-500-VCU-1-VER-IN-1-4321-01012019-31122019-0",
                None,
                None,
            ),
        ),
    ]
}

#[test]
fn verra() {
    assert_eq!(rows("verra.csv", Format::Verra), verra_rows());
}

#[test]
fn verra_xlsx_reads_as_its_csv() {
    let xlsx = sheet("verra.xlsx");
    assert_eq!(xlsx.headers, sheet("verra.csv").headers);
    assert_eq!(rows("verra.xlsx", Format::Verra), verra_rows());
    // Read by content: the same bytes under another name are still XLSX.
    let renamed = read_sheet("export.csv", &bytes("verra.xlsx")).unwrap();
    assert_eq!(renamed, xlsx);
}

#[test]
fn verra_partial_tiles_one_block() {
    let retired = |date: &str| {
        Some((
            Action::Retire,
            json!({
                "effective_at": date,
                "beneficiary": "Example Ltd",
                "reason": "Environmental Benefit",
            }),
        ))
    };
    let part = |start: u32, end: u32, quantity: &str, ended| {
        block(
            "Kasigau Corridor REDD+ Project",
            "Verra",
            2019,
            quantity,
            &format!("14001-{start}-{end}-VCS-VCU-263-VER-KE-14-612-01012019-31122019-0"),
            None,
            ended,
        )
    };
    assert_eq!(
        rows("verra-partial.csv", Format::Verra),
        vec![
            (2, part(1101, 1250, "150", retired("2026-02-10T00:00:00Z"))),
            (3, part(1401, 2000, "600", None)),
            (4, part(1001, 1100, "100", retired("2026-01-15T00:00:00Z"))),
            (5, part(1251, 1400, "150", retired("2026-03-01T00:00:00Z"))),
        ]
    );
}

#[test]
fn gold_standard_issuances() {
    let gs = "Gold Standard";
    let rows = rows("gold-standard-issuances.csv", Format::GoldStandard);
    let cdm = "RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014";
    assert_eq!(
        rows,
        vec![
            (
                2,
                block(
                    "BioLite Improved Cook stoves Programme - CPA 028",
                    gs,
                    2024,
                    "19149",
                    "GS1-1-UG-GS11236-16-2024-30307-1-19149",
                    None,
                    None
                )
            ),
            (
                3,
                block(
                    "RDIS Carbon Emission Reduction for Self-Sustainable Environmental Care",
                    gs,
                    2019,
                    "3657",
                    cdm,
                    None,
                    None
                )
            ),
        ]
    );
    let canonical = canonical_text(cdm);
    assert_eq!(parse_serial(&canonical).unwrap().scheme, Scheme::Cdm);
}

#[test]
fn gold_standard_retirements() {
    let gs = "Gold Standard";
    assert_eq!(
        rows("gold-standard-retirements.csv", Format::GoldStandard),
        vec![
            (
                // The Note has a line break inside quotes: still one row.
                2,
                block(
                    "GS10789 VPA8: Efficient and Clean Cooking for households in Kenya",
                    gs,
                    2025,
                    "5354",
                    "GS1-1-KE-GS11603-16-2025-30256-110-5463",
                    None,
                    Some((
                        Action::Retire,
                        json!({
                            "effective_at": "2026-04-10T09:15:02.125Z",
                            "beneficiary": "Hilti Corporation",
                            "reason": "Voluntary; Retirement on behalf of Hilti Corporation\nfor the compensation of Scope 1, 2 and business travel emissions of the year 2025.",
                        })
                    ))
                )
            ),
            (
                3,
                block(
                    "Southern Africa Clean Cookstove Initiative (SACCI) PoA: VPA01 in Zimbabwe",
                    gs,
                    2024,
                    "41158",
                    "GS1-1-ZW-GS12875-16-2024-29978-1-41158",
                    None,
                    Some((
                        Action::Cancel,
                        json!({
                            "effective_at": "2026-01-20T00:00:00Z",
                            "reason": "Issued in error",
                        })
                    ))
                )
            ),
            (
                4,
                block(
                    "Wind Power in Tamil Nadu",
                    gs,
                    2021,
                    "1000",
                    "GS1-1-IN-GS2345-4-2021-20001-501-1500",
                    None,
                    Some((
                        Action::Retire,
                        json!({
                            "effective_at": "2026-02-01T00:00:00Z",
                            "beneficiary": "Example Airways",
                            "purpose": "regulatory_compliance",
                        })
                    ))
                )
            ),
        ]
    );
}

#[test]
fn acr() {
    let retire = |at: &str, beneficiary: &str, reason: &str| {
        Some((
            Action::Retire,
            json!({"effective_at": at, "beneficiary": beneficiary, "reason": reason}),
        ))
    };
    assert_eq!(
        rows("acr-retirements.csv", Format::Acr),
        vec![
            (
                2,
                block(
                    "Tradewater - Middle East 1",
                    "ACR",
                    2025,
                    "4212",
                    "ACR-FR-1129-2025-2917-30932 to 35143",
                    Some("1423"),
                    retire(
                        "2026-04-13T19:17:56Z",
                        "AWS",
                        "Environmental Benefit; Retirement for 2025 emissions associated with customer usage; AWS"
                    )
                )
            ),
            (
                3,
                block(
                    "Anew - Sylvania Forestry Project",
                    "ACR",
                    2022,
                    "25245",
                    "ACR-US-681-2022-3337-1 to 25245",
                    Some("Anew Environmental, LLC"),
                    retire(
                        "2026-04-10T02:57:50Z",
                        "Plansee Holding AG",
                        "On Behalf of Third Party; Retirement to compensate scope 1 and 2 emissions of Plansee Holding AG"
                    )
                )
            ),
            (
                4,
                block(
                    "A-Gas V12",
                    "ACR",
                    2022,
                    "200",
                    "ACR-US-869-2022-2145-1052027 to 1052226",
                    Some("Bonneville Environmental Foundation"),
                    retire(
                        "2026-04-09T12:12:29Z",
                        "MidFirst Bank",
                        "Environmental Benefit; MidFirst Bank for 2022 jet fuel emissions"
                    )
                )
            ),
        ]
    );
    // "Status Effective  (GMT)" with two spaces.
    assert_eq!(
        rows("acr-cancellations.csv", Format::Acr),
        vec![
            (
                2,
                block(
                    "A-Gas 1-2025",
                    "ACR",
                    2025,
                    "85847",
                    "ACR-US-1185-2025-3078-1 to 85847",
                    Some("A-Gas US Inc."),
                    Some((
                        Action::Cancel,
                        json!({"effective_at": "2026-01-22T19:12:08Z", "reason": "Convert to Ecology offset credits"})
                    ))
                )
            ),
            (
                3,
                block(
                    "Green Diamond Resource Company Thompson River IFM",
                    "ACR",
                    2025,
                    "60257",
                    "ACR-US-741-2025-3014-1 to 60257",
                    Some("277"),
                    Some((
                        Action::Cancel,
                        json!({"effective_at": "2025-10-06T21:12:44Z", "reason": "Removal of credits from the registry; Premature issuance"})
                    ))
                )
            ),
        ]
    );
    let none = "no serial number: issuance rows of ACR exports carry none; the import does not guess ranges";
    assert_eq!(
        rows("acr-issuances.csv", Format::Acr),
        vec![(2, skipped(none)), (3, skipped(none))]
    );
}

#[test]
fn car() {
    assert_eq!(
        rows("car-retirements.csv", Format::Car),
        vec![
            (
                2,
                block(
                    "Coffeyville NAP2",
                    "CAR",
                    2025,
                    "5000",
                    "CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000",
                    Some("ClimeCo Corp MCK NAP2, LLC."),
                    Some((
                        Action::Retire,
                        json!({"effective_at": "2025-10-27T00:00:00Z", "reason": "On Behalf of Third Party; Retired on behalf of Kinaxis Inc. F2024 period"})
                    ))
                )
            ),
            (
                3,
                block(
                    "Coffeyville NAP2",
                    "CAR",
                    2025,
                    "7275",
                    "CAR-1-US-1335-31-983-KS-2025-9659-1 to 7275",
                    Some("Maple Leaf Foods"),
                    Some((
                        Action::Retire,
                        json!({"effective_at": "2026-03-25T00:00:00Z", "reason": "Environmental Benefit; Maintain 2026 Carbon Neutrality for Canada Packers"})
                    ))
                )
            ),
        ]
    );
    assert_eq!(
        rows("car-cancellations.csv", Format::Car),
        vec![
            (
                2,
                block(
                    "American Eagle Mine Methane Incineration Project",
                    "CAR",
                    2025,
                    "260294",
                    "CAR-ROC-US-2056-129-2283-WV-2025-8969-1 to 260294",
                    None,
                    Some((
                        Action::Cancel,
                        json!({"effective_at": "2025-08-20T00:00:00Z", "reason": "ARB"})
                    ))
                )
            ),
            (
                3,
                block(
                    "Lakeview Farms Dairy",
                    "CAR",
                    2025,
                    "25411",
                    "CAR-ROC-US-1316-105-276-CA-2025-9388-2 to 25412",
                    None,
                    Some((
                        Action::Cancel,
                        json!({"effective_at": "2026-02-18T00:00:00Z", "reason": "ARB"})
                    ))
                )
            ),
        ]
    );
    let none = "no serial number: issuance rows of CAR exports carry none; the import does not guess ranges";
    assert_eq!(
        rows("car-issuances.csv", Format::Car),
        vec![(2, skipped(none)), (3, skipped(none))]
    );
}

#[test]
fn art_trees() {
    let art = "ART TREES";
    assert_eq!(
        rows("art-trees-retirements.csv", Format::ArtTrees),
        vec![
            (
                2,
                block(
                    "Guyana",
                    art,
                    2016,
                    "8",
                    "ART-GY-102-2016-9-1401 to 1408",
                    Some("Hess Climate Initiative LLC"),
                    Some((
                        Action::Retire,
                        json!({"effective_at": "2023-07-12T00:00:00Z", "reason": "Contribution Towards Corporate Climate Pledge AND Host Country NDC; 1408 for employee travel 2022"})
                    ))
                )
            ),
            (
                3,
                block(
                    "Guyana",
                    art,
                    2019,
                    "100000",
                    "ART-GY-102-2019-3-2500001 to 2600000",
                    Some("Apple"),
                    Some((
                        Action::Retire,
                        json!({"effective_at": "2025-03-14T00:00:00Z", "purpose": "corporate_target", "reason": "FY24"})
                    ))
                )
            ),
            (
                4,
                block(
                    "Cote d'Ivoire Tai National Park Area Emission Reductions Program",
                    art,
                    2023,
                    "46404",
                    "FCPF-CI-130-2023-20-1 to 46404",
                    Some("Emergent Forest Finance Accelerator"),
                    Some((
                        Action::Retire,
                        json!({
                            "effective_at": "2026-04-08T00:00:00Z",
                            "beneficiary": "Emergent retiring on behalf of Chanel",
                            "reason": "Contribution Towards Corporate Climate Pledge AND Host Country NDC; Emergent retiring for Chanel as contribution towards the host country's NDC",
                        })
                    ))
                )
            ),
        ]
    );
    assert_eq!(
        rows("art-trees-cancellations.csv", Format::ArtTrees),
        vec![
            (
                2,
                block(
                    "Guyana",
                    art,
                    2021,
                    "1000",
                    "ART-GY-102-2021-11-2759599 to 2760598",
                    Some("Mercuria Energy Trading SA"),
                    Some((
                        Action::Cancel,
                        json!({"effective_at": "2025-02-28T00:00:00Z", "reason": "CORSIA Compliance; ALL NIPPON AIRWAYS CO., LTD, PHASE 1"})
                    ))
                )
            ),
            (
                3,
                block(
                    "Guyana",
                    art,
                    2021,
                    "100",
                    "ART-GY-102-2021-11-2750301 to 2750400",
                    Some("CBL Markets (USA) LLC"),
                    Some((
                        Action::Cancel,
                        json!({"effective_at": "2025-05-13T00:00:00Z", "reason": "CORSIA Compliance; Japan Airlines, Co. LTD First Compliance Period"})
                    ))
                )
            ),
        ]
    );
}

#[test]
fn every_fixture_is_detected() {
    for (name, format) in [
        ("verra.csv", Format::Verra),
        ("verra.xlsx", Format::Verra),
        ("verra-partial.csv", Format::Verra),
        ("gold-standard-issuances.csv", Format::GoldStandard),
        ("gold-standard-retirements.csv", Format::GoldStandard),
        ("acr-retirements.csv", Format::Acr),
        ("acr-cancellations.csv", Format::Acr),
        ("acr-issuances.csv", Format::Acr),
        ("car-retirements.csv", Format::Car),
        ("car-cancellations.csv", Format::Car),
        ("car-issuances.csv", Format::Car),
        ("art-trees-retirements.csv", Format::ArtTrees),
        ("art-trees-cancellations.csv", Format::ArtTrees),
        ("broken/verra-bom-crlf.csv", Format::Verra),
        ("broken/verra-missing-column.csv", Format::Verra),
    ] {
        assert_eq!(detect(&sheet(name)).unwrap(), format, "{name}");
    }
}

#[test]
fn unknown_and_ambiguous_headers() {
    let unknown = Sheet {
        headers: vec!["project_name".into(), "Serial".into()],
        rows: Vec::new(),
    };
    let error = detect(&unknown).unwrap_err().to_string();
    assert!(
        error.contains("\"project_name\", \"Serial\"") && error.contains("ACR retirements"),
        "{error}"
    );
    let mut both = sheet("verra.csv");
    both.headers.extend(
        [
            "Offset Credit Serial Numbers",
            "Quantity of Offset Credits",
            "Retirement Reason ",
        ]
        .map(String::from),
    );
    let error = detect(&both).unwrap_err();
    assert!(
        matches!(&error, RegistryError::Ambiguous { formats, .. } if formats == &[Format::Verra, Format::Car]),
        "{error}"
    );
    assert!(error.to_string().contains("verra or car"), "{error}");
}

#[test]
fn headers_with_one_space_for_two_in_any_case_and_order() {
    let mut art = sheet("art-trees-retirements.csv");
    for h in &mut art.headers {
        if h == "Program  Country" {
            *h = "program country".into();
        }
    }
    art.headers.reverse();
    for row in &mut art.rows {
        row.cells.reverse();
    }
    assert_eq!(detect(&art).unwrap(), Format::ArtTrees);
    let read = read_rows(Format::ArtTrees, &art).unwrap();
    assert_eq!(read.len(), 3);
    assert!(read.iter().all(|r| matches!(r.item, Item::Block(_))));
    let mut acr = sheet("acr-cancellations.csv");
    for h in &mut acr.headers {
        if h == "Status Effective  (GMT)" {
            *h = "STATUS EFFECTIVE (GMT)".into();
        }
    }
    let read = read_rows(Format::Acr, &acr).unwrap();
    let Item::Block(entry) = &read[1].item else {
        panic!("{read:?}");
    };
    assert_eq!(
        entry.end.as_ref().unwrap().payload["effective_at"],
        "2025-10-06T21:12:44Z"
    );
}

#[test]
fn wrong_format_says_what_it_looks_like() {
    let acr = sheet("acr-retirements.csv");
    let error = read_rows(Format::Verra, &acr).unwrap_err();
    let RegistryError::MissingColumns {
        looks_like,
        missing,
        ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(looks_like.as_deref(), Some("an ACR retirements"));
    assert!(
        missing.iter().any(|m| m == "Quantity Issued"),
        "{missing:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("this looks like an ACR retirements export, not verra: "),
        "{message}"
    );
    let error = read_rows(Format::Car, &sheet("verra.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("this looks like a Verra VCUs export, not car"),
        "{error}"
    );
}

#[test]
fn broken_missing_column() {
    let error = read_rows(Format::Verra, &sheet("broken/verra-missing-column.csv")).unwrap_err();
    let RegistryError::MissingColumns {
        missing,
        looks_like,
        ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(missing, &["Serial Number"]);
    assert_eq!(looks_like, &None);
    let message = error.to_string();
    assert!(
        message.starts_with("the header has no column \"Serial Number\" of a Verra VCUs export"),
        "{message}"
    );
}

#[test]
fn broken_serial_mismatch() {
    let rows = rows("broken/verra-serial-mismatch.csv", Format::Verra);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, 2);
    assert!(matches!(rows[0].1, Item::Block(_)));
    assert_eq!(rows[1].0, 3);
    let error = rejected(&rows[1].1);
    assert_eq!(
        (error.column.as_str(), error.code),
        ("Serial Number", "serial_mismatch")
    );
    assert!(
        error.message.contains("names 425 credits")
            && error.message.contains("Quantity Issued is 424"),
        "{}",
        error.message
    );
}

#[test]
fn broken_bad_date() {
    let rows = rows("broken/verra-bad-date.csv", Format::Verra);
    assert!(matches!(rows[0], (2, Item::Block(_))));
    assert_eq!(rows[1].0, 3);
    let error = rejected(&rows[1].1);
    assert_eq!(
        (error.column.as_str(), error.code),
        ("Retirement/Cancellation Date", "invalid_date")
    );
    assert!(
        error.message.contains("\"April 9, 2026\"") && error.message.contains("DD/MM/YYYY"),
        "{}",
        error.message
    );
}

#[test]
fn broken_empty_files() {
    for name in ["broken/empty.csv", "broken/empty.xlsx"] {
        let error = read_sheet(name, &bytes(name)).unwrap_err();
        assert!(matches!(error, RegistryError::Empty { .. }), "{error}");
        assert!(error.to_string().starts_with(name), "{error}");
    }
}

#[test]
fn a_cell_at_the_end_of_the_sheet_is_refused_before_the_range_is_made() {
    let name = "broken/far-cell.xlsx";
    let error = read_sheet(name, &bytes(name)).unwrap_err();
    assert!(
        matches!(
            error,
            RegistryError::TooLarge {
                rows: 1_048_576,
                columns: 16_384,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("to its cell XFD1048576"),
        "{error}"
    );
}

#[test]
fn broken_bom_crlf_reads_fine() {
    let sheet = sheet("broken/verra-bom-crlf.csv");
    assert_eq!(
        sheet.headers.first().map(String::as_str),
        Some("Issuance Date")
    );
    let rows = rows("broken/verra-bom-crlf.csv", Format::Verra);
    assert_eq!(rows, verra_rows()[..2].to_vec());
}

#[test]
fn rejected_rows_name_their_column() {
    let mut car = sheet("car-retirements.csv");
    car.rows[0].cells[2] = "12.5".into();
    car.rows[1].cells[2] = "0".into();
    car.rows.push(SheetRow {
        row: 4,
        cells: car.rows[0]
            .cells
            .iter()
            .cloned()
            .chain(["spilled".to_owned()])
            .collect(),
    });
    let read = read_rows(Format::Car, &car).unwrap();
    for r in &read[..2] {
        let e = rejected(&r.item);
        assert_eq!(
            (e.column.as_str(), e.code),
            ("Quantity of Offset Credits", "invalid_quantity")
        );
    }
    let e = rejected(&read[2].item);
    assert_eq!((e.column.as_str(), e.code), ("", "extra_cells"));

    let mut acr = sheet("acr-retirements.csv");
    acr.rows[0].cells[8] = "x".repeat(MAX_NAME + 1);
    acr.rows[1].cells[0] = "ACR-US-681-2022-3337".into();
    acr.rows[2].cells[2] = "22".into();
    let read = read_rows(Format::Acr, &acr).unwrap();
    let codes: Vec<(&str, &str)> = read
        .iter()
        .map(|r| {
            let e = rejected(&r.item);
            (e.column.as_str(), e.code)
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("Retired on Behalf of", "too_long"),
            ("Credit Serial Numbers", "invalid_serial"),
            ("Vintage", "invalid_vintage"),
        ]
    );

    let mut gs = sheet("gold-standard-retirements.csv");
    gs.rows[0].cells[1] = "Pending".into();
    gs.rows[1].cells[4] = String::new();
    gs.rows[1].cells[3] = String::new();
    let read = read_rows(Format::GoldStandard, &gs).unwrap();
    let e = rejected(&read[0].item);
    assert_eq!(
        (e.column.as_str(), e.code),
        ("Credit Status", "unknown_status")
    );
    let e = rejected(&read[1].item);
    assert_eq!(
        (e.column.as_str(), e.code),
        ("Project Name", "missing_value")
    );

    // A serial cell left empty: skipped, not guessed.
    let mut verra = sheet("verra.csv");
    verra.rows[0].cells[11] = String::new();
    let read = read_rows(Format::Verra, &verra).unwrap();
    assert_eq!(
        read[0].item,
        skipped(
            "no serial number: the Serial Number cell is empty; the import does not guess ranges"
        )
    );
}

const MAX_NAME: usize = 256;

#[test]
fn format_names() {
    for format in Format::ALL {
        assert_eq!(Format::parse(format.name()), Some(format));
        assert_eq!(
            Format::parse(&format!(" {} ", format.name().to_uppercase())),
            Some(format)
        );
    }
    let names: Vec<(&str, &str)> = Format::ALL.map(|f| (f.name(), f.registry())).to_vec();
    assert_eq!(
        names,
        [
            ("verra", "Verra"),
            ("gold-standard", "Gold Standard"),
            ("acr", "ACR"),
            ("car", "CAR"),
            ("art-trees", "ART TREES"),
        ]
    );
    assert_eq!(Format::parse("gold standard"), None);
}
