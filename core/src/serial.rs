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

/// Where a piece of a serial stands in it: the bytes `from..to`.
#[derive(Clone, Copy)]
struct Span {
    from: usize,
    to: usize,
}

/// The pieces of a serial that matched a scheme's shape, before its numbers
/// are checked: `start` and `end` are runs of ASCII digits.
struct Shape {
    scheme: Scheme,
    start: Span,
    end: Span,
    project: Option<Span>,
    vintage: Option<u16>,
    country: Option<Span>,
}

/// The block a canonical serial names, or `None` when it is not a block.
///
/// The first scheme whose shape the serial has decides, in the order of
/// SPEC §6's table; a serial of that shape whose numbers are out of range
/// (start after end, beyond `u64`) is not a block.
///
/// The serial is read once per scheme tried, as bytes (every character the
/// shapes name is ASCII), without allocating. Its first bytes pick the one
/// scheme with a prefix of its own that can match (Verra: a digit; Gold
/// Standard, ACR, CAR, ART TREES, Puro: their words), so at most four shapes
/// are tried: that one, then UNDP, CDM and the generic notation, which keep
/// the table's order.
pub fn parse_serial(canonical: &str) -> Option<Block<'_>> {
    let serial = canonical.as_bytes();
    let shape = match serial {
        [b'0'..=b'9', ..] => verra(serial),
        [b'g', b's', b'1', b'-', b'1', b'-', ..] => gold_standard(serial),
        [b'a', b'c', b'r', b'-', ..] => acr(serial),
        [b'c', b'a', b'r', b'-', ..] => car(serial),
        [b'a', b'r', b't', b'-', ..] => art_trees(serial, 4),
        [b'f', b'c', b'p', b'f', b'-', ..] => art_trees(serial, 5),
        [b'p', b'u', b'r', b'o', b'_', b'p', b'r', b'_', ..] => puro(serial),
        _ => None,
    }
    .or_else(|| undp(serial))
    .or_else(|| cdm(serial))
    .or_else(|| generic(serial))?;
    let Shape {
        scheme,
        start,
        end,
        project,
        vintage,
        country,
    } = shape;
    let (first, last) = (value(serial, start)?, value(serial, end)?);
    if first > last || (last - first).checked_add(1).is_none() {
        return None;
    }
    // Every span borders ASCII bytes or the serial's ends: char boundaries.
    let text = |span: Span| borrowed(canonical, span);
    Some(Block {
        scheme,
        start: first,
        end: last,
        prefix: Cow::Borrowed(canonical.get(..start.from)?),
        suffix: Cow::Borrowed(canonical.get(end.to..)?),
        project: project.and_then(text),
        vintage,
        country: country.and_then(text),
        notation: Notation {
            separator: text(Span {
                from: start.to,
                to: end.from,
            })?,
            start_width: width(serial, start),
            end_width: width(serial, end),
        },
    })
}

/// The text `span` of `canonical`.
fn borrowed(canonical: &str, span: Span) -> Option<Cow<'_, str>> {
    canonical.get(span.from..span.to).map(Cow::Borrowed)
}

/// The value of the digits `span` of `serial`, `None` beyond `u64`.
fn value(serial: &[u8], span: Span) -> Option<u64> {
    let digits = serial.get(span.from..span.to)?;
    let digit = |b: &u8| u64::from(b.wrapping_sub(b'0'));
    if digits.len() <= 19 {
        // Below 10^19: nothing to check.
        return Some(digits.iter().fold(0, |v, b| v * 10 + digit(b)));
    }
    digits
        .iter()
        .try_fold(0_u64, |v, b| v.checked_mul(10)?.checked_add(digit(b)))
}

/// The width a rendered number keeps: its length when it was written with
/// leading zeros, else 0.
fn width(serial: &[u8], digits: Span) -> usize {
    match serial.get(digits.from..digits.to) {
        Some([b'0', _, ..]) => digits.to - digits.from,
        _ => 0,
    }
}

/// The value of four ASCII digits.
fn year(digits: [u8; 4]) -> u16 {
    digits
        .iter()
        .fold(0, |v, &b| v * 10 + u16::from(b.wrapping_sub(b'0')))
}

/// A serial's bytes and how far a shape has matched them: each step checks
/// a field (and the separator after it) and moves on, or fails with `None`.
struct Cursor<'a> {
    serial: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The bytes from here on.
    fn rest(&self) -> &'a [u8] {
        self.serial.get(self.at..).unwrap_or_default()
    }

    /// A non-empty run of `allowed` bytes, then `sep` (which `allowed` need
    /// not exclude: the run ends at the first `sep`).
    fn field(&mut self, sep: u8, allowed: impl Fn(u8) -> bool) -> Option<Span> {
        let from = self.at;
        let rest = self.rest();
        let len = rest
            .iter()
            .position(|&b| b == sep || !allowed(b))
            .unwrap_or(rest.len());
        if len == 0 || rest.get(len) != Some(&sep) {
            return None;
        }
        self.at = from + len + 1;
        Some(Span {
            from,
            to: from + len,
        })
    }

    /// A field of ASCII digits, then `sep`.
    fn digits(&mut self, sep: u8) -> Option<Span> {
        self.field(sep, |b| b.is_ascii_digit())
    }

    /// ASCII digits to the end of the serial.
    fn last_digits(&mut self) -> Option<Span> {
        let rest = self.rest();
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let from = self.at;
        self.at = self.serial.len();
        Some(Span { from, to: self.at })
    }

    /// A year (four ASCII digits), then `sep`.
    fn year(&mut self, sep: u8) -> Option<u16> {
        let &[a, b, c, d, s, ..] = self.rest() else {
            return None;
        };
        let digits = [a, b, c, d];
        if !(digits.iter().all(u8::is_ascii_digit) && s == sep) {
            return None;
        }
        self.at += 5;
        Some(year(digits))
    }

    /// An ISO 3166-1 alpha-2 field (two lowercase ASCII letters), then `sep`.
    fn country(&mut self, sep: u8) -> Option<Span> {
        let from = self.at;
        let &[a, b, s, ..] = self.rest() else {
            return None;
        };
        if !(a.is_ascii_lowercase() && b.is_ascii_lowercase() && s == sep) {
            return None;
        }
        self.at = from + 3;
        Some(Span { from, to: from + 2 })
    }

    /// The first of `tags` the bytes go on with.
    fn one_of(&mut self, tags: &[&[u8]]) -> Option<()> {
        let rest = self.rest();
        let tag = tags.iter().find(|tag| rest.starts_with(tag))?;
        self.at += tag.len();
        Some(())
    }
}

/// [`Scheme::Verra`]'s shape.
fn verra(serial: &[u8]) -> Option<Shape> {
    let mut at = Cursor { serial, at: 0 };
    at.digits(b'-')?; // issuance
    let start = at.digits(b'-')?;
    let end = at.digits(b'-')?;
    at.one_of(&[b"vcs-vcu-", b"vcu-"])?;
    at.digits(b'-')?; // n
    at.one_of(&[b"ver-", b"apx-", b"mer-"])?;
    let country = at.country(b'-')?;
    at.digits(b'-')?; // scope
    let project = at.digits(b'-')?;
    // The vintage's first and last days, DDMMYYYY: the vintage is the year
    // of the last.
    let first_day = at.digits(b'-')?;
    let last_day = at.digits(b'-')?;
    let &[a, b, c, d] = serial.get(last_day.from + 4..last_day.to)? else {
        return None;
    };
    if first_day.to - first_day.from != 8 || last_day.to - last_day.from != 8 {
        return None;
    }
    at.one_of(&[b"0", b"1"])?;
    if at.at != serial.len() {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Verra,
        start,
        end,
        project: Some(project),
        vintage: Some(year([a, b, c, d])),
        country: Some(country),
    })
}

/// [`Scheme::GoldStandard`]'s shape (the dispatch has seen `gs1-1-`).
fn gold_standard(serial: &[u8]) -> Option<Shape> {
    let mut at = Cursor { serial, at: 6 }; // after `gs1-1-`
    let country = at.country(b'-')?;
    at.one_of(&[b"gs"])?;
    let project = at.digits(b'-')?;
    at.digits(b'-')?; // type
    let vintage = at.year(b'-')?;
    at.digits(b'-')?; // batch
    let start = at.digits(b'-')?;
    let end = at.last_digits()?;
    Some(Shape {
        scheme: Scheme::GoldStandard,
        start,
        end,
        project: Some(project),
        vintage: Some(vintage),
        country: Some(country),
    })
}

/// ACR, CAR and ART TREES: the country, project and vintage read from the
/// fields after the word, then `{start} to {end}` (or, when `dash`,
/// `{start}-{end}`) to the end.
fn with_range_to(
    mut at: Cursor<'_>,
    scheme: Scheme,
    (country, project, vintage): (Span, Span, u16),
    dash: bool,
) -> Option<Shape> {
    let start = match at.field(b' ', |b| b.is_ascii_digit()) {
        Some(start) => {
            at.one_of(&[b"to "])?;
            start
        }
        None if dash => at.digits(b'-')?,
        None => return None,
    };
    let end = at.last_digits()?;
    Some(Shape {
        scheme,
        start,
        end,
        project: Some(project),
        vintage: Some(vintage),
        country: Some(country),
    })
}

/// [`Scheme::Acr`]'s shape (the dispatch has seen `acr-`).
fn acr(serial: &[u8]) -> Option<Shape> {
    let mut at = Cursor { serial, at: 4 }; // after `acr-`
    let country = at.country(b'-')?;
    let project = at.digits(b'-')?;
    let vintage = at.year(b'-')?;
    at.digits(b'-')?; // batch
    with_range_to(at, Scheme::Acr, (country, project, vintage), true)
}

/// [`Scheme::Car`]'s shape (the dispatch has seen `car-`).
fn car(serial: &[u8]) -> Option<Shape> {
    let mut at = Cursor { serial, at: 4 }; // after `car-`
    at.one_of(&[b"1-", b"roc-"])?;
    let country = at.country(b'-')?;
    let project = at.digits(b'-')?;
    at.digits(b'-')?; // type
    at.digits(b'-')?; // developer
    at.country(b'-')?; // state
    let vintage = at.year(b'-')?;
    at.digits(b'-')?; // batch
    with_range_to(at, Scheme::Car, (country, project, vintage), false)
}

/// [`Scheme::ArtTrees`]'s shape, its fields from `at` on (the dispatch has
/// seen `art-` or `fcpf-`).
fn art_trees(serial: &[u8], at: usize) -> Option<Shape> {
    let mut at = Cursor { serial, at };
    let country = at.country(b'-')?;
    let program = at.digits(b'-')?;
    let vintage = at.year(b'-')?;
    at.digits(b'-')?; // batch
    with_range_to(at, Scheme::ArtTrees, (country, program, vintage), false)
}

/// [`Scheme::Puro`]'s shape (the dispatch has seen `puro_pr_`).
fn puro(serial: &[u8]) -> Option<Shape> {
    let mut at = Cursor { serial, at: 8 }; // after `puro_pr_`
    at.field(b'_', |_| true)?; // credit type
    let country = at.country(b'_')?;
    let facility = at.field(b'_', |_| true)?;
    let vintage = at.year(b'_')?;
    at.field(b'_', |b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'))?; // issuance
    let start = at.digits(b'-')?;
    let end = at.last_digits()?;
    Some(Shape {
        scheme: Scheme::Puro,
        start,
        end,
        project: Some(facility),
        vintage: Some(vintage),
        country: Some(country),
    })
}

/// [`Scheme::Undp`]'s shape.
fn undp(serial: &[u8]) -> Option<Shape> {
    let mut at = Cursor { serial, at: 0 };
    at.field(b'-', |b| b.is_ascii_lowercase() || b.is_ascii_digit())?; // credit id
    let country = at.country(b'-')?;
    at.country(b'-')?; // host
    let project = at.digits(b'-')?;
    let start = at.digits(b'-')?;
    let end = at.digits(b'-')?;
    let &[a, b, c, d] = at.rest() else {
        return None;
    };
    let vintage = [a, b, c, d];
    if !vintage.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Undp,
        start,
        end,
        project: Some(project),
        vintage: Some(year(vintage)),
        country: Some(country),
    })
}

/// Where ` - ` first stands in `serial` from `from` on.
fn joint(serial: &[u8], from: usize) -> Option<usize> {
    let at = serial
        .get(from..)?
        .windows(3)
        .position(|w| matches!(w, [b' ', b'-', b' ']))?;
    Some(from + at)
}

/// [`Scheme::Cdm`]'s shape: two unit serials joined by the first ` - `
/// (there is no other), with as many fields (2 to 16) split at `-`, all
/// equal but one, digits in both.
fn cdm(serial: &[u8]) -> Option<Shape> {
    let first_end = joint(serial, 0)?;
    let second_from = first_end + 3;
    if joint(serial, second_from).is_some() {
        return None;
    }
    let dash = |b: &u8| *b == b'-';
    let mut a = serial.get(..first_end)?.split(dash);
    let mut b = serial.get(second_from..)?.split(dash);
    // The two unit serials' fields side by side, with where each stands.
    let (mut a_at, mut b_at, mut count) = (0, second_from, 0);
    let mut country = None;
    let mut differ = None;
    loop {
        let (x, y) = match (a.next(), b.next()) {
            (None, None) => break,
            (Some(x), Some(y)) => (x, y),
            _ => return None,
        };
        count += 1;
        if count > 16 {
            return None;
        }
        if count == 1 && matches!(x, [p, q] if p.is_ascii_lowercase() && q.is_ascii_lowercase()) {
            country = Some(Span { from: 0, to: 2 });
        }
        if x != y {
            if differ.is_some() {
                return None;
            }
            let span = |at: usize, field: &[u8]| Span {
                from: at,
                to: at + field.len(),
            };
            differ = Some((span(a_at, x), span(b_at, y)));
        }
        a_at += x.len() + 1;
        b_at += y.len() + 1;
    }
    let (start, end) = differ?;
    let whole_digits = |span: Span| {
        let field = serial.get(span.from..span.to)?;
        (!field.is_empty() && field.iter().all(u8::is_ascii_digit)).then_some(span)
    };
    if count < 2 {
        return None;
    }
    Some(Shape {
        scheme: Scheme::Cdm,
        start: whole_digits(start)?,
        end: whole_digits(end)?,
        project: None,
        vintage: None,
        country,
    })
}

/// [`Scheme::Generic`]'s shape: `{start}-{end}` after the last `:`, with
/// something before it on one line.
fn generic(serial: &[u8]) -> Option<Shape> {
    let colon = serial.iter().rposition(|&b| b == b':')?;
    let mut at = Cursor {
        serial,
        at: colon + 1,
    };
    let start = at.digits(b'-')?;
    let end = at.last_digits()?;
    if colon == 0 || serial.get(..colon)?.contains(&b'\n') {
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
