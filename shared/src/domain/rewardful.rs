//! Rewardful's affiliate CSV (its exports and its import template), read one row at a time so a
//! file of any length is checked in constant memory.
//!
//! Headers come in several styles (`email`, `Email`, `Affiliate Email`, `paypal_email`, `PayPal
//! Email`…): case, spaces, hyphens and underscores are normalised, then known aliases map to a
//! [`Field`]. Unknown columns are ignored and listed. Every cell is parsed into a domain type here;
//! what needs the database (duplicates against existing affiliates, campaign names, code clashes)
//! is the importer's job.

use super::affiliate::{AffiliateState, ReferralCode};
use super::email::Email;
use super::person_name::PersonName;
use serde::{Deserialize, Serialize};

/// Longest external id and campaign name kept.
const MAX_TEXT: usize = 200;
/// A record spanning more lines than this is a quote that was opened and never closed.
const MAX_RECORD_LINES: u64 = 50;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    Email,
    FirstName,
    LastName,
    FullName,
    Token,
    PaypalEmail,
    WiseEmail,
    State,
    Campaign,
    ExternalId,
    CreatedAt,
    Visitors,
    Leads,
    Conversions,
}

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::FirstName => "first name",
            Field::LastName => "last name",
            Field::FullName => "full name",
            Field::Token => "referral code (token)",
            Field::PaypalEmail => "PayPal email",
            Field::WiseEmail => "Wise email",
            Field::State => "state",
            Field::Campaign => "campaign",
            Field::ExternalId => "Rewardful id",
            Field::CreatedAt => "joined at",
            Field::Visitors => "visitors",
            Field::Leads => "leads",
            Field::Conversions => "conversions",
        }
    }

    /// The field a normalised header names, if any.
    pub fn for_header(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "email" | "affiliate_email" | "email_address" => Field::Email,
            "first_name" | "affiliate_first_name" | "firstname" => Field::FirstName,
            "last_name" | "affiliate_last_name" | "lastname" => Field::LastName,
            "name" | "full_name" | "affiliate_name" => Field::FullName,
            "token" | "affiliate_token" | "referral_code" => Field::Token,
            "paypal_email" | "paypal" => Field::PaypalEmail,
            "wise_email" | "wise" => Field::WiseEmail,
            "state" | "status" | "affiliate_state" => Field::State,
            "campaign" | "campaign_name" => Field::Campaign,
            "id" | "imported_id" | "affiliate_id" | "rewardful_id" => Field::ExternalId,
            "created_at" | "created" | "joined_at" | "date_joined" => Field::CreatedAt,
            "visitors" | "visitor_count" => Field::Visitors,
            "leads" | "lead_count" => Field::Leads,
            "conversions" | "conversion_count" => Field::Conversions,
            _ => return None,
        })
    }
}

/// `" Affiliate  First-Name "` → `affiliate_first_name`: lower case, and every run of spaces,
/// hyphens and underscores one underscore. A byte-order mark is dropped.
pub fn normalise_header(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut gap = false;
    for c in raw.trim_start_matches('\u{feff}').trim().chars() {
        if c.is_whitespace() || c == '_' || c == '-' {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push('_');
        }
        gap = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// How Rewardful says where an affiliate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportedState {
    Active,
    Disabled,
    Suspicious,
}

impl ImportedState {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "" | "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            "suspicious" => Some(Self::Suspicious),
            _ => None,
        }
    }

    /// active → approved, disabled → disabled, suspicious → pending review.
    pub fn affiliate_state(self) -> AffiliateState {
        match self {
            Self::Active => AffiliateState::Approved,
            Self::Disabled => AffiliateState::Disabled,
            Self::Suspicious => AffiliateState::Pending,
        }
    }
}

/// `affiliates.source` of an affiliate an import created.
pub const IMPORT_SOURCE: &str = "import";

/// An affiliate the import created is kept in step with the file (name, code, state); one who
/// joined through Rekomi keeps what they typed and their link, and only gets what they lack.
pub fn kept_in_step(source: &str) -> bool {
    source == IMPORT_SOURCE
}

/// An approved affiliate without a referral code gets a fresh one: an approved affiliate has a link.
pub fn needs_code(state: AffiliateState, code: Option<&str>) -> bool {
    state == AffiliateState::Approved && code.is_none()
}

/// A new affiliate imported approved or disabled is decided by the import; a pending one (Rewardful's
/// "suspicious") waits in the approval queue.
pub fn decided_on_import(state: AffiliateState) -> bool {
    state != AffiliateState::Pending
}

/// An affiliate without consent to the terms on record is invited to accept them, unless disabled or
/// invited already.
pub fn asks_consent(state: AffiliateState, consented: bool, invited: bool) -> bool {
    !consented && state != AffiliateState::Disabled && !invited
}

/// After an imported row is written, the affiliate is synced to Klaviyo when they are approved with
/// consent on record and the import changed one of the two (`changed`: their state is new, as for a
/// new affiliate; `consent_now`: the consent was recorded by this import). No profile goes to
/// Klaviyo before consent.
pub fn syncs_after_import(state: AffiliateState, consented: bool, changed: bool, consent_now: bool) -> bool {
    state == AffiliateState::Approved && consented && (changed || consent_now)
}

/// One valid row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line the row starts on, counting the header as line 1 (what a spreadsheet shows).
    pub line: u64,
    pub email: Email,
    pub name: Option<PersonName>,
    pub token: Option<ReferralCode>,
    pub paypal_email: Option<Email>,
    pub wise_email: Option<Email>,
    pub state: ImportedState,
    pub campaign: Option<String>,
    pub external_id: Option<String>,
    /// Unix milliseconds.
    pub created_at: Option<i64>,
    pub visitors: Option<i64>,
    pub leads: Option<i64>,
    pub conversions: Option<i64>,
}

/// A cell that could not be used: where, which column (as the file names it), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellError {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// A problem with the file as a whole: nothing in it is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("The file is empty. Export your affiliates from Rewardful as CSV and upload that file.")]
    Empty,
    #[error(
        "The file is UTF-16 text. Save it as \"CSV UTF-8\" (in Excel: File → Save As → CSV UTF-8) and upload it again."
    )]
    Utf16,
    #[error(
        "Line {line} is not UTF-8 text, so this is not a CSV file or it was saved in another encoding. Save it as \
         \"CSV UTF-8\" and upload it again."
    )]
    NotUtf8 { line: u64 },
    #[error("No email column. Columns found: {found}. Add a column named \"email\" (or \"Affiliate Email\").")]
    NoEmailColumn { found: String },
    #[error("The columns \"{first}\" and \"{second}\" both hold the {field}; keep one of them.")]
    DuplicateColumn { field: &'static str, first: String, second: String },
    #[error(
        "A quoted value starting on line {line} never ends (a stray \" character?). Fix the quotes in that row and \
         upload again."
    )]
    UnclosedQuote { line: u64 },
    #[error("The file could not be read as CSV at line {line}: {detail}")]
    Malformed { line: u64, detail: String },
}

/// A column of the file and what Rekomi reads from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub header: String,
    pub field: Option<Field>,
}

/// Reads a Rewardful CSV row by row. The file is in memory (it is kept between the dry run and
/// the import anyway); rows are parsed one at a time, so nothing grows with the file but the
/// caller's own bookkeeping.
pub struct Reader<'a> {
    csv: csv::Reader<&'a [u8]>,
    /// The bytes the CSV reader reads (after any byte-order mark), for physical line numbers.
    data: &'a [u8],
    columns: Vec<Column>,
    record: csv::ByteRecord,
    /// Newlines before `counted_to`, so a row's line is found without rescanning.
    counted_to: usize,
    newlines: u64,
    skip: usize,
}

impl<'a> Reader<'a> {
    /// Reads the header row. Fails on an empty file, a UTF-16 file, a header that is not text,
    /// no email column, or two columns for one field.
    pub fn new(input: &'a [u8]) -> Result<Self, FileError> {
        if input.starts_with(&[0xFF, 0xFE]) || input.starts_with(&[0xFE, 0xFF]) {
            return Err(FileError::Utf16);
        }
        let skip = if input.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
        let data = &input[skip..];
        let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
        let mut header = csv::ByteRecord::new();
        let has_header = csv.read_byte_record(&mut header).map_err(|e| malformed(&e, 1))?;
        if !has_header || header.iter().all(|h| h.iter().all(u8::is_ascii_whitespace)) {
            return Err(FileError::Empty);
        }
        let mut columns: Vec<Column> = Vec::with_capacity(header.len());
        for raw in header.iter() {
            let text = std::str::from_utf8(raw).map_err(|_| FileError::NotUtf8 { line: 1 })?;
            let header = text.trim_start_matches('\u{feff}').trim().to_owned();
            let field = Field::for_header(&normalise_header(&header));
            if let Some(field) = field {
                if let Some(first) = columns.iter().find(|c| c.field == Some(field)) {
                    return Err(FileError::DuplicateColumn {
                        field: field.label(),
                        first: first.header.clone(),
                        second: header,
                    });
                }
            }
            columns.push(Column { header, field });
        }
        if !columns.iter().any(|c| c.field == Some(Field::Email)) {
            let found = columns
                .iter()
                .filter(|c| !c.header.is_empty())
                .map(|c| format!("\"{}\"", c.header))
                .collect::<Vec<_>>()
                .join(", ");
            let found = if found.is_empty() { "none".to_owned() } else { found };
            return Err(FileError::NoEmailColumn { found });
        }
        Ok(Self { csv, data, columns, record: csv::ByteRecord::new(), counted_to: 0, newlines: 0, skip })
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Headers no field claims.
    pub fn unknown_columns(&self) -> Vec<String> {
        self.columns.iter().filter(|c| c.field.is_none() && !c.header.is_empty()).map(|c| c.header.clone()).collect()
    }

    /// Bytes of the file consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.csv.position().byte() + self.skip as u64
    }

    /// The physical line (1-based) at byte `at` of the data: spreadsheets and editors count blank
    /// lines and lines inside quoted values, so the report does too.
    fn line_at(&mut self, at: usize) -> u64 {
        let at = at.min(self.data.len());
        if at >= self.counted_to {
            self.newlines += self.data[self.counted_to..at].iter().filter(|b| **b == b'\n').count() as u64;
            self.counted_to = at;
        }
        self.newlines + 1
    }

    /// The next row: `Ok(None)` at the end, `Ok(Some(Err(_)))` for a row with bad cells (the
    /// reading goes on), `Err` when the file itself is broken from here on.
    #[allow(clippy::type_complexity)]
    pub fn next_row(&mut self) -> Result<Option<Result<ImportRow, Vec<CellError>>>, FileError> {
        loop {
            let before = usize::try_from(self.csv.position().byte()).unwrap_or(usize::MAX);
            let more = match self.csv.read_byte_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => {
                    let line = self.line_at(before);
                    return Err(malformed(&e, line));
                }
            };
            if !more {
                return Ok(None);
            }
            // Where the record itself starts (the reader skips blank lines before it).
            let mut start = self.record.position().map_or(before, |p| usize::try_from(p.byte()).unwrap_or(before));
            while matches!(self.data.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            let line = self.line_at(start);
            let end = usize::try_from(self.csv.position().byte()).unwrap_or(usize::MAX).min(self.data.len());
            let spanned = self.data[start.min(end)..end].iter().filter(|b| **b == b'\n').count() as u64;
            if spanned > MAX_RECORD_LINES {
                return Err(FileError::UnclosedQuote { line });
            }
            // Blank lines (and rows of empty cells, as spreadsheets leave behind) are not rows.
            if self.record.iter().all(|cell| cell.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            return self.parse(line).map(Some);
        }
    }

    fn parse(&self, line: u64) -> Result<Result<ImportRow, Vec<CellError>>, FileError> {
        let mut errors = Vec::new();
        if self.record.len() > self.columns.len() {
            errors.push(CellError {
                line,
                column: String::new(),
                reason: format!(
                    "This row has {} values but the header names {} columns; a value with a comma in it needs \
                     quotes.",
                    self.record.len(),
                    self.columns.len()
                ),
            });
            return Ok(Err(errors));
        }
        let mut cells: [Option<(&str, &str)>; 14] = [None; 14];
        for (i, raw) in self.record.iter().enumerate() {
            let Some(column) = self.columns.get(i) else { continue };
            let Some(field) = column.field else { continue };
            let text = std::str::from_utf8(raw).map_err(|_| FileError::NotUtf8 { line })?;
            let text = text.trim();
            if !text.is_empty() {
                cells[field as usize] = Some((column.header.as_str(), text));
            }
        }
        let cell = |f: Field| cells[f as usize];
        let mut fail = |f: Field, header: Option<&str>, reason: String| {
            let column = header.map(str::to_owned).unwrap_or_else(|| self.header_of(f));
            errors.push(CellError { line, column, reason });
        };
        let email = match cell(Field::Email) {
            None => {
                fail(Field::Email, None, "The email is missing.".into());
                None
            }
            Some((h, v)) => Email::parse(v).map_err(|e| fail(Field::Email, Some(h), e.to_string())).ok(),
        };
        let name = match (cell(Field::FirstName), cell(Field::LastName), cell(Field::FullName)) {
            (Some((h, first)), last, _) => PersonName::from_parts(first, last.map(|(_, l)| l))
                .map(Some)
                .map_err(|e| fail(Field::FirstName, Some(h), e.to_string()))
                .ok()
                .flatten(),
            (None, _, Some((h, full))) => PersonName::parse(full)
                .map(Some)
                .map_err(|e| fail(Field::FullName, Some(h), e.to_string()))
                .ok()
                .flatten(),
            (None, Some((h, last)), None) => PersonName::parse(last)
                .map(Some)
                .map_err(|e| fail(Field::LastName, Some(h), e.to_string()))
                .ok()
                .flatten(),
            (None, None, None) => None,
        };
        let token = cell(Field::Token).and_then(|(h, v)| {
            ReferralCode::parse(v)
                .map_err(|_| {
                    fail(
                        Field::Token,
                        Some(h),
                        format!(
                            "\"{v}\" can't be a referral code: use 2 to 64 letters, digits, hyphens or underscores."
                        ),
                    )
                })
                .ok()
        });
        let mut payout =
            |f: Field| cell(f).and_then(|(h, v)| Email::parse(v).map_err(|e| fail(f, Some(h), e.to_string())).ok());
        let paypal_email = payout(Field::PaypalEmail);
        let wise_email = payout(Field::WiseEmail);
        let state = match cell(Field::State) {
            None => Some(ImportedState::Active),
            Some((h, v)) => ImportedState::parse(v)
                .ok_or_else(|| {
                    fail(Field::State, Some(h), format!("\"{v}\" is not a state: use active, disabled or suspicious."))
                })
                .ok(),
        };
        let mut text = |f: Field| {
            cell(f).and_then(|(h, v)| {
                if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) {
                    fail(
                        f,
                        Some(h),
                        format!("The {} is longer than {MAX_TEXT} characters or has control characters.", f.label()),
                    );
                    None
                } else {
                    Some(v.to_owned())
                }
            })
        };
        let campaign = text(Field::Campaign);
        let external_id = text(Field::ExternalId);
        let created_at = cell(Field::CreatedAt).and_then(|(h, v)| {
            parse_time(v)
                .ok_or_else(|| {
                    fail(
                        Field::CreatedAt,
                        Some(h),
                        format!("\"{v}\" is not a date like 2024-03-01 or 2024-03-01T09:30:00Z."),
                    )
                })
                .ok()
        });
        let mut count = |f: Field| {
            cell(f).and_then(|(h, v)| {
                let digits: String = v.chars().filter(|c| *c != ',' && *c != '_').collect();
                digits
                    .parse::<u32>()
                    .map(i64::from)
                    .map_err(|_| fail(f, Some(h), format!("\"{v}\" is not a whole number of {}.", f.label())))
                    .ok()
            })
        };
        let (visitors, leads, conversions) = (count(Field::Visitors), count(Field::Leads), count(Field::Conversions));
        match (email, state) {
            (Some(email), Some(state)) if errors.is_empty() => Ok(Ok(ImportRow {
                line,
                email,
                name,
                token,
                paypal_email,
                wise_email,
                state,
                campaign,
                external_id,
                created_at,
                visitors,
                leads,
                conversions,
            })),
            _ => Ok(Err(errors)),
        }
    }

    fn header_of(&self, field: Field) -> String {
        self.columns.iter().find(|c| c.field == Some(field)).map(|c| c.header.clone()).unwrap_or_default()
    }
}

fn malformed(error: &csv::Error, line: u64) -> FileError {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => FileError::NotUtf8 { line },
        _ => FileError::Malformed { line, detail: error.to_string() },
    }
}

/// Dates as Rewardful and spreadsheets write them: RFC 3339, `2024-03-01 09:30:00 UTC`,
/// `2024-03-01 09:30:00`, or a bare date (midnight UTC). Returns unix milliseconds.
pub fn parse_time(raw: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    use time::{Date, OffsetDateTime, PrimitiveDateTime};
    let raw = raw.trim();
    let at = if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        t
    } else {
        let bare = raw.strip_suffix(" UTC").unwrap_or(raw);
        let with_time = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let with_t = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        if let Ok(t) = PrimitiveDateTime::parse(bare, with_time).or_else(|_| PrimitiveDateTime::parse(bare, with_t)) {
            t.assume_utc()
        } else {
            Date::parse(bare, format_description!("[year]-[month]-[day]")).ok()?.midnight().assume_utc()
        }
    };
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8]) -> Result<(Vec<ImportRow>, Vec<CellError>), FileError> {
        let mut reader = Reader::new(text)?;
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        while let Some(row) = reader.next_row()? {
            match row {
                Ok(r) => rows.push(r),
                Err(e) => errors.extend(e),
            }
        }
        Ok((rows, errors))
    }

    #[test]
    fn headers_in_every_style_map_to_one_field() {
        for header in ["email", "Email", "Affiliate Email", " AFFILIATE_EMAIL ", "\u{feff}Email", "affiliate-email"] {
            assert_eq!(Field::for_header(&normalise_header(header)), Some(Field::Email), "{header}");
        }
        assert_eq!(Field::for_header(&normalise_header("PayPal Email")), Some(Field::PaypalEmail));
        assert_eq!(Field::for_header(&normalise_header("Imported ID")), Some(Field::ExternalId));
        assert_eq!(Field::for_header(&normalise_header("Affiliate First Name")), Some(Field::FirstName));
        assert_eq!(Field::for_header(&normalise_header("coupon")), None);
    }

    #[test]
    fn reads_a_rewardful_export() {
        let file = "\u{feff}Affiliate First Name,Affiliate Last Name,Affiliate Email,Token,PayPal Email,state,Coupon\n\
                    Ana,van der Berg,Ana@Example.com,ana20,,active,X\n\
                    \n\
                    Bo,,bo@example.com,bo,bo-pay@example.com,suspicious,\n";
        let mut reader = Reader::new(file.as_bytes()).expect("header");
        assert_eq!(reader.unknown_columns(), vec!["Coupon".to_owned()]);
        let ana = reader.next_row().expect("file").expect("row").expect("valid");
        assert_eq!((ana.line, ana.email.as_str()), (2, "ana@example.com"));
        assert_eq!(ana.name.as_ref().map(|n| n.full()), Some("Ana van der Berg"));
        assert_eq!(ana.token.as_ref().map(|t| t.as_str()), Some("ana20"));
        assert_eq!(ana.paypal_email, None);
        let bo = reader.next_row().expect("file").expect("row").expect("valid");
        assert_eq!((bo.line, bo.state), (4, ImportedState::Suspicious));
        assert_eq!(bo.paypal_email.map(|e| e.as_str().to_owned()), Some("bo-pay@example.com".into()));
        assert!(reader.next_row().expect("file").is_none());
    }

    #[test]
    fn every_bad_cell_is_named_with_its_line_and_column() {
        let file =
            b"email,token,state,created_at,visitors\nnope,a b,gone,yesterday,-3\nok@example.com,,,2024-03-01,1\n";
        let (rows, errors) = read_all(file).expect("file");
        assert_eq!(rows.len(), 1);
        let columns: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(columns, vec![(2, "email"), (2, "token"), (2, "state"), (2, "created_at"), (2, "visitors")]);
        assert_eq!(rows[0].created_at, Some(1_709_251_200_000));
    }

    #[test]
    fn file_level_problems_are_explained() {
        assert_eq!(read_all(b"").err(), Some(FileError::Empty));
        assert_eq!(read_all(b"\n\n").err(), Some(FileError::Empty));
        assert_eq!(read_all(&[0xFF, 0xFE, b'e', 0]).err(), Some(FileError::Utf16));
        assert!(
            matches!(read_all(b"name,phone\nAna,1\n"), Err(FileError::NoEmailColumn { found }) if found == "\"name\", \"phone\"")
        );
        assert!(matches!(read_all(b"email,Affiliate Email\n"), Err(FileError::DuplicateColumn { .. })));
        assert_eq!(read_all(b"email\n\xff\xfe\xfd@x.com\n").err(), Some(FileError::NotUtf8 { line: 2 }));
        let mut unclosed = b"email,first_name\na@example.com,\"Ana\n".to_vec();
        unclosed.extend(std::iter::repeat_n(b"b@example.com,Bo\n".as_slice(), 60).flatten());
        assert_eq!(read_all(&unclosed).err(), Some(FileError::UnclosedQuote { line: 2 }));
    }

    #[test]
    fn a_row_with_too_many_values_is_reported_not_guessed() {
        let (rows, errors) = read_all(b"email,first_name\na@example.com,Ana,Smith\n").expect("file");
        assert!(rows.is_empty());
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].reason.contains("needs quotes"));
    }

    #[test]
    fn dates_in_the_usual_shapes() {
        assert_eq!(parse_time("2024-03-01T00:00:00Z"), Some(1_709_251_200_000));
        assert_eq!(parse_time("2024-03-01T01:00:00+01:00"), Some(1_709_251_200_000));
        assert_eq!(parse_time("2024-03-01 00:00:00 UTC"), Some(1_709_251_200_000));
        assert_eq!(parse_time("2024-03-01"), Some(1_709_251_200_000));
        assert_eq!(parse_time("03/01/2024"), None);
    }

    #[test]
    fn only_affiliates_the_import_created_follow_the_file() {
        assert!(kept_in_step(IMPORT_SOURCE));
        assert!(!kept_in_step("application"));
    }

    #[test]
    fn approved_affiliates_without_a_code_get_one() {
        assert!(needs_code(AffiliateState::Approved, None));
        assert!(!needs_code(AffiliateState::Approved, Some("ana20")));
        assert!(!needs_code(AffiliateState::Pending, None));
    }

    #[test]
    fn pending_imports_wait_for_review() {
        assert!(!decided_on_import(AffiliateState::Pending));
        assert!(decided_on_import(AffiliateState::Approved));
        assert!(decided_on_import(AffiliateState::Disabled));
    }

    #[test]
    fn consent_is_asked_once_and_not_of_disabled_affiliates() {
        assert!(asks_consent(AffiliateState::Approved, false, false));
        assert!(asks_consent(AffiliateState::Pending, false, false));
        assert!(!asks_consent(AffiliateState::Approved, true, false), "consent on record");
        assert!(!asks_consent(AffiliateState::Approved, false, true), "invited already");
        assert!(!asks_consent(AffiliateState::Disabled, false, false));
    }

    #[test]
    fn only_approved_affiliates_with_consent_are_synced_and_only_when_something_changed() {
        assert!(syncs_after_import(AffiliateState::Approved, true, true, false));
        assert!(syncs_after_import(AffiliateState::Approved, true, false, true));
        assert!(!syncs_after_import(AffiliateState::Approved, true, false, false), "nothing new for Klaviyo");
        assert!(!syncs_after_import(AffiliateState::Approved, false, true, false), "no consent");
        assert!(!syncs_after_import(AffiliateState::Pending, true, true, true));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = read_all(&bytes);
        }
    }
}
