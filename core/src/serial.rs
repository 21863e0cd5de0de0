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

use std::borrow::Cow;

use serde::{Serialize, Serializer};

/// The notation a serial is written in (SPEC §6's table).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl Scheme {
    /// Its name in SPEC §6's table, as JSON spells it: `"verra"`, `"gold-standard"`, ….
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verra => "verra",
            Self::GoldStandard => "gold-standard",
            Self::Acr => "acr",
            Self::Car => "car",
            Self::ArtTrees => "art-trees",
            Self::Puro => "puro",
            Self::Undp => "undp",
            Self::Cdm => "cdm",
            Self::Generic => "generic",
        }
    }
}

/// A numbered block of credits: `end − start + 1` credits, `start..=end`.
///
/// It borrows its text from the canonical serial it was parsed from, so
/// parsing allocates nothing; [`Block::into_owned`] keeps it past that.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block<'a> {
    /// The notation.
    pub scheme: Scheme,
    /// The serial's text before the range: the issuance, which children keep.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub prefix: Cow<'a, str>,
    /// The first credit's number (decimal text in JSON, as it may exceed 2^53).
    #[serde(serialize_with = "decimal_text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "941382555"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub start: u64,
    /// The last credit's number (decimal text in JSON).
    #[serde(serialize_with = "decimal_text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "941382741"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub end: u64,
    /// The serial's text after the range, which children keep.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub suffix: Cow<'a, str>,
    /// The project, where the scheme names it.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "typescript", tsify(type = "string | null"))]
    pub project: Option<Cow<'a, str>>,
    /// The vintage year, where the scheme names it (Verra: the year the
    /// vintage ends).
    #[cfg_attr(feature = "typescript", tsify(type = "number | null"))]
    pub vintage: Option<u16>,
    /// The ISO 3166-1 alpha-2 country (lowercase, as canonical text is),
    /// where the scheme names it.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "typescript", tsify(type = "string | null"))]
    pub country: Option<Cow<'a, str>>,
    /// How the range is written: what stands between the two numbers, and
    /// the widths the numbers keep when they were written with leading zeros.
    #[serde(skip)]
    notation: Notation<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Notation<'a> {
    separator: Cow<'a, str>,
    start_width: usize,
    end_width: usize,
}

fn decimal_text<S: Serializer>(n: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(n)
}

impl Block<'_> {
    /// The block with its own copy of its text.
    pub fn into_owned(self) -> Block<'static> {
        let own = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        Block {
            scheme: self.scheme,
            prefix: own(self.prefix),
            start: self.start,
            end: self.end,
            suffix: own(self.suffix),
            project: self.project.map(own),
            vintage: self.vintage,
            country: self.country.map(own),
            notation: Notation {
                separator: own(self.notation.separator),
                start_width: self.notation.start_width,
                end_width: self.notation.end_width,
            },
        }
    }

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
    start: &'a str,
    end: &'a str,
    project: Option<&'a str>,
    vintage: Option<&'a str>,
    country: Option<&'a str>,
}

/// The block a canonical serial names, or `None` when it is not a block.
///
/// The first scheme whose shape the serial has decides, in the order of
/// SPEC §6's table; a serial of that shape whose numbers are out of range
/// (start after end, beyond `u64`) is not a block.
pub fn parse_serial(canonical: &str) -> Option<Block<'_>> {
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
    // The numbers are slices of `canonical`: what stands around them is the
    // prefix, the separator and the suffix.
    let at = |part: &str| (part.as_ptr() as usize).checked_sub(canonical.as_ptr() as usize);
    let (start_at, end_at) = (at(shape.start)?, at(shape.end)?);
    Some(Block {
        scheme: shape.scheme,
        start,
        end,
        prefix: Cow::Borrowed(canonical.get(..start_at)?),
        suffix: Cow::Borrowed(canonical.get(end_at + shape.end.len()..)?),
        project: shape.project.map(Cow::Borrowed),
        vintage: shape.vintage.and_then(|v| v.parse().ok()),
        country: shape.country.map(Cow::Borrowed),
        notation: Notation {
            separator: Cow::Borrowed(canonical.get(start_at + shape.start.len()..end_at)?),
            start_width: width(shape.start),
            end_width: width(shape.end),
        },
    })
}

/// The parts of `s` between `sep`s, on the stack: `None` when there are
/// more than `N`; the count is the second value.
fn split_array<const N: usize>(s: &str, sep: char) -> Option<([&str; N], usize)> {
    let mut parts = [""; N];
    let mut count = 0;
    for part in s.split(sep) {
        *parts.get_mut(count)? = part;
        count += 1;
    }
    Some((parts, count))
}

/// Exactly `N` parts of `s` between `sep`s.
fn split_exact<const N: usize>(s: &str, sep: char) -> Option<[&str; N]> {
    split_array::<N>(s, sep).and_then(|(parts, count)| (count == N).then_some(parts))
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
/// split into its fields, start and end.
fn range_at_end(text: &str, dash: bool) -> Option<(&str, &str, &str)> {
    if let Some((left, end)) = text.rsplit_once(" to ") {
        let (fields, start) = left.rsplit_once('-')?;
        return Some((fields, start, end));
    }
    if !dash {
        return None;
    }
    let (left, end) = text.rsplit_once('-')?;
    let (fields, start) = left.rsplit_once('-')?;
    Some((fields, start, end))
}

fn verra(c: &str) -> Option<Shape<'_>> {
    if !c.starts_with(|ch: char| ch.is_ascii_digit()) {
        return None;
    }
    let (parts, count) = split_array::<13>(c, '-')?;
    let (issuance, start, end, tail) = match parts.get(..count)? {
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
    Some(Shape {
        scheme: Scheme::Verra,
        start,
        end,
        project: Some(project),
        vintage: to.get(4..),
        country: Some(cc),
    })
}

fn gold_standard(c: &str) -> Option<Shape<'_>> {
    let rest = c.strip_prefix("gs1-1-")?;
    let [cc, project, kind, vintage, batch, start, end] = split_exact::<7>(rest, '-')?;
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
        start,
        end,
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
    let (fields, start, end) = range_at_end(rest, dash)?;
    let (parts, count) = split_array::<8>(fields, '-')?;
    let parts = parts.get(..count)?;
    if !fields_are(parts, checks) || !digits(start) || !digits(end) {
        return None;
    }
    let (country_at, project_at, vintage_at) = named;
    Some(Shape {
        scheme,
        start,
        end,
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
    let [kind, cc, facility, vintage, uuid, range] = split_exact::<6>(rest, '_')?;
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
        start,
        end,
        project: Some(facility),
        vintage: Some(vintage),
        country: Some(cc),
    })
}

fn undp(c: &str) -> Option<Shape<'_>> {
    let [id, cc, host, project, start, end, vintage] = split_exact::<7>(c, '-')?;
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
        start,
        end,
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
    let (a, a_count) = split_array::<16>(first, '-')?;
    let (b, b_count) = split_array::<16>(second, '-')?;
    let (a, b) = (a.get(..a_count)?, b.get(..b_count)?);
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let mut differ = a.iter().zip(b).filter(|(x, y)| x != y);
    let (start, end) = differ.next()?;
    if differ.next().is_some() || !digits(start) || !digits(end) {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Cdm,
        start,
        end,
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
        start,
        end,
        project: None,
        vintage: None,
        country: None,
    })
}
