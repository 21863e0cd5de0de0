//! Registry serials as numbered blocks of credits (SPEC §6).
//!
//! A registry serial names a range of credits: `…-941382555-941382741-…` is
//! the 187 credits from 941382555 to 941382741. [`parse_serial`] finds the
//! range in a canonical serial (SPEC §2: stripped, lowercased, NFKC) of every
//! scheme SPEC §6 lists, and [`Block::render`] writes the serial of a
//! sub-range in the scheme's own notation, so that a child block is the same
//! record (the same v1 id) as the block a registry export lists for it.
//!
//! Numbers are `u64`. A serial whose numbers do not fit, whose start is after
//! its end, or whose shape matches no scheme is not a block (`None`): it
//! stays a plain record. Nothing here panics on any input.

use serde::{Serialize, Serializer};

/// The notation a serial is written in (SPEC §6's table).
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// `{issuance}-{start}-{end}-[VCS-]VCU-{n}-{VER|APX|MER}-{ISO2}-{scope}-{project}-{DDMMYYYY}-{DDMMYYYY}-{0|1}`.
    Verra,
    /// `GS1-1-{ISO2}-GS{project}-{type}-{vintage}-{batch}-{start}-{end}`.
    GoldStandard,
    /// `ACR-{ISO2}-{project}-{vintage}-{batch}-{start} to {end}` (or `-{end}`).
    Acr,
    /// `CAR-{1|ROC}-{ISO2}-{project}-{type}-{developer}-{state}-{vintage}-{batch}-{start} to {end}`.
    Car,
    /// `{ART|FCPF}-{ISO2}-{program}-{vintage}-{batch}-{start} to {end}`.
    ArtTrees,
    /// `PURO_PR_{credit type}_{ISO2}_{facility}_{vintage}_{issuance uuid}_{start}-{end}`.
    Puro,
    /// `{credit id}-{ISO2}-{ISO2}-{project}-{start}-{end}-{vintage}`.
    Undp,
    /// Two unit serials joined by ` - `, equal but for the unit number.
    Cdm,
    /// The tracker's own notation for other registries: `…:{start}-{end}`.
    Generic,
}

/// A numbered block of credits: `end − start + 1` credits, `start..=end`.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block {
    /// The notation.
    pub scheme: Scheme,
    /// The serial's text before the range: the issuance, which children keep.
    pub prefix: String,
    /// The first credit's number (decimal text in JSON, as it may exceed 2^53).
    #[serde(serialize_with = "decimal_text")]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub start: u64,
    /// The last credit's number (decimal text in JSON).
    #[serde(serialize_with = "decimal_text")]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub end: u64,
    /// The serial's text after the range, which children keep.
    pub suffix: String,
    /// The project, where the scheme names it.
    pub project: Option<String>,
    /// The vintage year, where the scheme names it (Verra: the year the
    /// vintage ends).
    pub vintage: Option<u16>,
    /// The ISO 3166-1 alpha-2 country (lowercase, as canonical text is),
    /// where the scheme names it.
    pub country: Option<String>,
    /// How the range is written: what stands between the two numbers, and
    /// the widths the numbers keep when they were written with leading zeros.
    #[serde(skip)]
    notation: Notation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Notation {
    separator: String,
    start_width: usize,
    end_width: usize,
}

fn decimal_text<S: Serializer>(n: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(n)
}

impl Block {
    /// How many credits the block holds: `end − start + 1`.
    pub const fn credits(&self) -> u64 {
        // `parse_serial` only makes blocks whose count fits.
        (self.end - self.start).saturating_add(1)
    }

    /// The serial of the sub-range `start..=end` in the block's notation:
    /// only the two numbers change, each zero-padded to its original width
    /// when it was written with leading zeros.
    pub fn render(&self, start: u64, end: u64) -> String {
        let Notation {
            separator,
            start_width,
            end_width,
        } = &self.notation;
        format!(
            "{}{start:0start_width$}{separator}{end:0end_width$}{}",
            self.prefix, self.suffix
        )
    }
}

/// The pieces of a serial that matched a scheme's shape, before its numbers
/// are checked.
struct Shape<'a> {
    scheme: Scheme,
    prefix: String,
    start: &'a str,
    separator: String,
    end: &'a str,
    suffix: String,
    project: Option<&'a str>,
    vintage: Option<&'a str>,
    country: Option<&'a str>,
}

/// The block a canonical serial names, or `None` when it is not a block.
///
/// The first scheme whose shape the serial has decides, in the order of
/// SPEC §6's table; a serial of that shape whose numbers are out of range
/// (start after end, beyond `u64`) is not a block.
pub fn parse_serial(canonical: &str) -> Option<Block> {
    let shape = verra(canonical)
        .or_else(|| gold_standard(canonical))
        .or_else(|| acr(canonical))
        .or_else(|| car(canonical))
        .or_else(|| art_trees(canonical))
        .or_else(|| puro(canonical))
        .or_else(|| undp(canonical))
        .or_else(|| cdm(canonical))
        .or_else(|| generic(canonical))?;
    let start: u64 = shape.start.parse().ok()?;
    let end: u64 = shape.end.parse().ok()?;
    if start > end || (end - start).checked_add(1).is_none() {
        return None;
    }
    let width = |text: &str| {
        if text.len() > 1 && text.starts_with('0') {
            text.len()
        } else {
            0
        }
    };
    Some(Block {
        scheme: shape.scheme,
        start,
        end,
        project: shape.project.map(str::to_owned),
        vintage: shape.vintage.and_then(|v| v.parse().ok()),
        country: shape.country.map(str::to_owned),
        notation: Notation {
            separator: shape.separator,
            start_width: width(shape.start),
            end_width: width(shape.end),
        },
        prefix: shape.prefix,
        suffix: shape.suffix,
    })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn year(s: &str) -> bool {
    s.len() == 4 && digits(s)
}

fn country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// Every field of `fields` matches its check, in order, and there are as
/// many fields as checks.
fn fields_are(fields: &[&str], checks: &[fn(&str) -> bool]) -> bool {
    fields.len() == checks.len() && fields.iter().zip(checks).all(|(f, check)| check(f))
}

/// `{fields}-{start} to {end}` (or, when `dash`, `{fields}-{start}-{end}`)
/// split into its fields, start, separator and end.
fn range_at_end(text: &str, dash: bool) -> Option<(&str, &str, &'static str, &str)> {
    if let Some((left, end)) = text.rsplit_once(" to ") {
        let (fields, start) = left.rsplit_once('-')?;
        return Some((fields, start, " to ", end));
    }
    if !dash {
        return None;
    }
    let (left, end) = text.rsplit_once('-')?;
    let (fields, start) = left.rsplit_once('-')?;
    Some((fields, start, "-", end))
}

/// `whole` without its last `tail_len` bytes.
fn before(whole: &str, tail_len: usize) -> Option<&str> {
    whole.get(..whole.len().checked_sub(tail_len)?)
}

fn verra(c: &str) -> Option<Shape<'_>> {
    let parts: Vec<&str> = c.split('-').collect();
    let (issuance, start, end, tail) = match parts.as_slice() {
        [i, s, e, "vcs", "vcu", tail @ ..] | [i, s, e, "vcu", tail @ ..] => (*i, *s, *e, tail),
        _ => return None,
    };
    let [n, methodology, cc, scope, project, from, to, flag] = tail else {
        return None;
    };
    let date = |s: &str| s.len() == 8 && digits(s);
    let shaped = digits(issuance)
        && digits(start)
        && digits(end)
        && digits(n)
        && matches!(*methodology, "ver" | "apx" | "mer")
        && country(cc)
        && digits(scope)
        && digits(project)
        && date(from)
        && date(to)
        && matches!(*flag, "0" | "1");
    if !shaped {
        return None;
    }
    let head = issuance.len() + start.len() + end.len() + 2;
    Some(Shape {
        scheme: Scheme::Verra,
        prefix: format!("{issuance}-"),
        start,
        separator: "-".to_owned(),
        end,
        suffix: c.get(head..)?.to_owned(),
        project: Some(project),
        vintage: to.get(4..),
        country: Some(cc),
    })
}

fn gold_standard(c: &str) -> Option<Shape<'_>> {
    let rest = c.strip_prefix("gs1-1-")?;
    let parts: Vec<&str> = rest.split('-').collect();
    let [cc, project, kind, vintage, batch, start, end] = parts.as_slice() else {
        return None;
    };
    let project = project.strip_prefix("gs").filter(|p| digits(p))?;
    if !(country(cc)
        && digits(kind)
        && year(vintage)
        && digits(batch)
        && digits(start)
        && digits(end))
    {
        return None;
    }
    Some(Shape {
        scheme: Scheme::GoldStandard,
        prefix: before(c, start.len() + end.len() + 1)?.to_owned(),
        start,
        separator: "-".to_owned(),
        end,
        suffix: String::new(),
        project: Some(project),
        vintage: Some(vintage),
        country: Some(cc),
    })
}

/// ACR, CAR and ART TREES: `{word}-{fields…}-{start} to {end}`.
fn registry_with_to<'a>(
    c: &'a str,
    scheme: Scheme,
    words: &[&str],
    checks: &[fn(&str) -> bool],
    dash: bool,
    named: (usize, usize, usize),
) -> Option<Shape<'a>> {
    let (word, rest) = c.split_once('-')?;
    if !words.contains(&word) {
        return None;
    }
    let (fields, start, separator, end) = range_at_end(rest, dash)?;
    let parts: Vec<&str> = fields.split('-').collect();
    if !fields_are(&parts, checks) || !digits(start) || !digits(end) {
        return None;
    }
    let (country_at, project_at, vintage_at) = named;
    Some(Shape {
        scheme,
        prefix: format!("{word}-{fields}-"),
        start,
        separator: separator.to_owned(),
        end,
        suffix: String::new(),
        project: parts.get(project_at).copied(),
        vintage: parts.get(vintage_at).copied(),
        country: parts.get(country_at).copied(),
    })
}

fn acr(c: &str) -> Option<Shape<'_>> {
    registry_with_to(
        c,
        Scheme::Acr,
        &["acr"],
        &[country, digits, year, digits],
        true,
        (0, 1, 2),
    )
}

fn car(c: &str) -> Option<Shape<'_>> {
    let kind = |s: &str| matches!(s, "1" | "roc");
    registry_with_to(
        c,
        Scheme::Car,
        &["car"],
        &[kind, country, digits, digits, digits, country, year, digits],
        false,
        (1, 2, 6),
    )
}

fn art_trees(c: &str) -> Option<Shape<'_>> {
    registry_with_to(
        c,
        Scheme::ArtTrees,
        &["art", "fcpf"],
        &[country, digits, year, digits],
        false,
        (0, 1, 2),
    )
}

fn puro(c: &str) -> Option<Shape<'_>> {
    let rest = c.strip_prefix("puro_pr_")?;
    let parts: Vec<&str> = rest.split('_').collect();
    let [kind, cc, facility, vintage, uuid, range] = parts.as_slice() else {
        return None;
    };
    let (start, end) = range.split_once('-')?;
    let uuid_like = uuid
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'));
    if kind.is_empty()
        || facility.is_empty()
        || uuid.is_empty()
        || !(uuid_like && country(cc) && year(vintage) && digits(start) && digits(end))
    {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Puro,
        prefix: before(c, range.len())?.to_owned(),
        start,
        separator: "-".to_owned(),
        end,
        suffix: String::new(),
        project: Some(facility),
        vintage: Some(vintage),
        country: Some(cc),
    })
}

fn undp(c: &str) -> Option<Shape<'_>> {
    let parts: Vec<&str> = c.split('-').collect();
    let [id, cc, host, project, start, end, vintage] = parts.as_slice() else {
        return None;
    };
    let id_like = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(id_like && country(cc) && country(host) && digits(project))
        || !(digits(start) && digits(end) && year(vintage))
    {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Undp,
        prefix: before(c, start.len() + end.len() + vintage.len() + 2)?.to_owned(),
        start,
        separator: "-".to_owned(),
        end,
        suffix: format!("-{vintage}"),
        project: Some(project),
        vintage: Some(vintage),
        country: Some(cc),
    })
}

fn cdm(c: &str) -> Option<Shape<'_>> {
    let (first, second) = c.split_once(" - ")?;
    if second.contains(" - ") {
        return None;
    }
    let a: Vec<&str> = first.split('-').collect();
    let b: Vec<&str> = second.split('-').collect();
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let mut differ = a.iter().zip(&b).enumerate().filter(|(_, (x, y))| x != y);
    let (i, (start, end)) = differ.next()?;
    if differ.next().is_some() || !digits(start) || !digits(end) {
        return None;
    }
    let joined = |fields: Option<&[&str]>| fields.map(|f| f.join("-")).unwrap_or_default();
    let prefix = if i > 0 {
        format!("{}-", joined(a.get(..i)))
    } else {
        String::new()
    };
    let suffix = if i + 1 < a.len() {
        format!("-{}", joined(a.get(i + 1..)))
    } else {
        String::new()
    };
    Some(Shape {
        scheme: Scheme::Cdm,
        separator: format!("{suffix} - {prefix}"),
        prefix,
        start,
        end,
        suffix,
        project: None,
        vintage: None,
        country: a.first().copied().filter(|s| country(s)),
    })
}

fn generic(c: &str) -> Option<Shape<'_>> {
    let (head, range) = c.rsplit_once(':')?;
    let (start, end) = range.split_once('-')?;
    if head.is_empty() || head.contains('\n') || !digits(start) || !digits(end) {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Generic,
        prefix: format!("{head}:"),
        start,
        separator: "-".to_owned(),
        end,
        suffix: String::new(),
        project: None,
        vintage: None,
        country: None,
    })
}
