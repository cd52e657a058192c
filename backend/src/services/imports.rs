//! Rewardful CSV import: upload → dry run (what would be created, updated, left alone, and every
//! bad cell with its line and column) → confirm, which applies every valid row in one transaction
//! or nothing. Importing the same file again changes nothing: rows are matched on email, and a row
//! whose values the affiliate already has is left alone.
//!
//! An affiliate who joined through Rekomi keeps what they typed and their link: an import only
//! fills in what they lack (payout emails, Rewardful id and history, a code). Affiliates the import
//! created are kept in step with the file (name, code, state).
//!
//! Confirming is one use case here ([`apply`]): it owns the transaction, plans each row with the
//! rules of `shared::domain::rewardful`, writes through `store::imports`, and queues the Klaviyo syncs
//! and invites through the outbox in the same transaction.

use super::affiliates::new_code;
use super::invites::{issue_in, Invites, DEFAULT_EXPIRY_DAYS};
use crate::outbox;
use crate::store::campaigns::{self as campaign_store, CampaignRow};
use crate::store::imports::{self as store, AffiliateUpdate, ExistingAffiliate, Fields, NewAffiliate};
use crate::store::invites::{self as invite_store, Issue, NewInvite};
use crate::store::{audit, now_ms, Db, DbError};
use anyhow::Context;
use sha2::{Digest, Sha256};
use shared::domain::rewardful::{
    asks_consent, decided_on_import, kept_in_step, needs_code, syncs_after_import, CellError, Column, Field, ImportRow,
    Reader,
};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, ImportId, ImportState, MerchantId};
use shared::error::{AppError, ErrorKind};
use shared::views::{ConsentMode, ImportColumnView, ImportIssue, ImportProgress, ImportReport, ImportSample};
use std::collections::{HashMap, HashSet};

/// Largest file taken (a Rewardful export of 100,000 affiliates is about 15 MB).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Unconfirmed dry runs a merchant keeps (the oldest goes when another is checked), and how long one
/// waits for its confirmation before it is deleted with its file.
pub const MAX_WAITING: i64 = 5;
pub const WAITING_MS: i64 = 24 * 3600 * 1000;
/// Issues and planned rows kept in a report; the counts cover every row.
const MAX_ISSUES: usize = 1_000;
const MAX_SAMPLES: usize = 200;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no such campaign")]
    UnknownCampaign,
    #[error("no such import")]
    UnknownImport,
    #[error("the file is too large")]
    TooLarge,
    #[error("not ready")]
    NotReady,
    #[error("the data changed since the dry run")]
    Changed(Box<ImportReport>),
    #[error("the affiliates changed during the import")]
    Conflict,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ImportError> for AppError {
    fn from(value: ImportError) -> Self {
        match value {
            ImportError::UnknownCampaign => AppError::field("campaign", "Pick one of your campaigns."),
            ImportError::UnknownImport => AppError::new(
                ErrorKind::NotFound,
                "That import doesn't exist, isn't yours, or its dry run expired (one waits 24 hours, and only your 5 newest are kept). Upload the file again.",
            ),
            ImportError::TooLarge => AppError::new(
                ErrorKind::Invalid,
                format!("The file is larger than {} MB; split it and import the parts.", MAX_FILE_BYTES >> 20),
            ),
            ImportError::NotReady => {
                AppError::new(ErrorKind::Conflict, "This file was already imported (or rejected); upload it again to re-check.")
            }
            ImportError::Changed(_) => AppError::new(
                ErrorKind::Conflict,
                "Your affiliates changed since the dry run, so nothing was imported. Review the new report and confirm again.",
            ),
            ImportError::Conflict => AppError::new(
                ErrorKind::Conflict,
                "Your affiliates changed while the file was being imported (someone applied, or another import ran), \
                 so nothing was imported. Confirm again to import against the current affiliates.",
            ),
            ImportError::Internal(e) => super::internal(&e),
        }
    }
}

/// The campaigns a row may name, by lower-case name or slug.
struct Campaigns {
    by_name: HashMap<String, (CampaignId, i64)>,
    default: (CampaignId, i64),
}

impl Campaigns {
    fn new(rows: &[CampaignRow], default: &CampaignRow) -> Self {
        let mut by_name = HashMap::new();
        for c in rows {
            by_name.insert(c.slug.to_lowercase(), (c.id, c.terms_version));
            by_name.insert(c.name.to_lowercase(), (c.id, c.terms_version));
        }
        Self { by_name, default: (default.id, default.terms_version) }
    }
}

/// A write the import makes.
#[derive(Debug, Clone)]
enum Write {
    Create {
        row: NewAffiliate,
        invite: bool,
    },
    Update {
        row: AffiliateUpdate,
        /// The affiliate's campaign (an invite opens its page).
        campaign: CampaignId,
        email: String,
        /// Consent is on record after this write (before, or now).
        consented: bool,
        invite: bool,
    },
}

/// What a row will do. One exists at a time, so the size of `Write` costs nothing.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Planned {
    Write { write: Write, changes: Vec<&'static str> },
    Unchanged,
    Invalid(Vec<CellError>),
}

/// Plans rows one at a time against what the database holds and what earlier rows claimed.
struct Planner {
    existing: HashMap<String, ExistingAffiliate>,
    /// Lower-case code → the email holding it.
    codes: HashMap<String, String>,
    invited: HashSet<AffiliateId>,
    campaigns: Campaigns,
    mode: ConsentMode,
    seen: HashMap<String, u64>,
    seen_codes: HashMap<String, u64>,
    /// Each field's column as the file names it, for the report.
    headers: HashMap<Field, String>,
}

impl Planner {
    fn new(campaigns: Campaigns, mode: ConsentMode) -> Self {
        Self {
            existing: HashMap::new(),
            codes: HashMap::new(),
            invited: HashSet::new(),
            campaigns,
            mode,
            seen: HashMap::new(),
            seen_codes: HashMap::new(),
            headers: HashMap::new(),
        }
    }

    fn columns(&mut self, columns: &[Column]) {
        self.headers = columns.iter().filter_map(|c| c.field.map(|f| (f, c.header.clone()))).collect();
    }

    fn load(&mut self, (existing, invited, elsewhere): store::Known) {
        // Another merchant's code has no owner here: an empty owner reads as "taken elsewhere".
        self.codes = elsewhere.into_iter().map(|c| (c, String::new())).collect();
        self.codes.extend(
            existing.iter().filter_map(|a| a.referral_code.as_ref().map(|c| (c.to_lowercase(), a.email.clone()))),
        );
        self.existing = existing.into_iter().map(|a| (a.email.clone(), a)).collect();
        self.invited = invited.into_iter().collect();
        self.seen.clear();
        self.seen_codes.clear();
    }

    fn plan(&mut self, row: ImportRow) -> Planned {
        let email = row.email.as_str().to_owned();
        let headers = &self.headers;
        let error = |field: Field, reason: String| {
            let column = headers.get(&field).cloned().unwrap_or_else(|| field.label().to_owned());
            Planned::Invalid(vec![CellError { line: row.line, column, reason }])
        };
        if let Some(first) = self.seen.get(&email) {
            return error(Field::Email, format!("{email} is already on line {first}; each affiliate once."));
        }
        self.seen.insert(email.clone(), row.line);
        let campaign = match &row.campaign {
            None => self.campaigns.default,
            Some(name) => match self.campaigns.by_name.get(&name.to_lowercase()) {
                Some(found) => *found,
                None => {
                    return error(
                        Field::Campaign,
                        format!("There is no campaign named \"{name}\"; create it first or leave the cell blank."),
                    )
                }
            },
        };
        let existing = self.existing.get(&email);
        if let Some(token) = &row.token {
            let key = token.as_str().to_lowercase();
            if let Some(owner) = self.codes.get(&key).filter(|owner| **owner != email) {
                if owner.is_empty() {
                    return error(
                        Field::Token,
                        format!("The code \"{token}\" is taken by another program on this Rekomi; clear the cell to get a new one."),
                    );
                }
                return error(Field::Token, format!("The code \"{token}\" already belongs to {owner}."));
            }
            if let Some(line) = self.seen_codes.get(&key) {
                return error(Field::Token, format!("The code \"{token}\" is also on line {line}."));
            }
            let keeps_own = existing.is_some_and(|a| !kept_in_step(&a.source) && a.referral_code.is_some());
            if !keeps_own {
                self.seen_codes.insert(key, row.line);
            }
        }
        let name = row.name.as_ref();
        let state = row.state.affiliate_state();
        let consent_now = self.mode == ConsentMode::Elsewhere;
        let Some(existing) = existing else {
            let fields = Fields {
                full_name: name.map(|n| n.full().to_owned()).unwrap_or_default(),
                first_name: name.map(|n| n.first().to_owned()).unwrap_or_default(),
                last_name: name.and_then(|n| n.last().map(str::to_owned)),
                referral_code: row.token.as_ref().map(|t| t.as_str().to_owned()),
                paypal_email: row.paypal_email.as_ref().map(|e| e.as_str().to_owned()),
                wise_email: row.wise_email.as_ref().map(|e| e.as_str().to_owned()),
                external_id: row.external_id.clone(),
                history_visitors: row.visitors,
                history_leads: row.leads,
                history_conversions: row.conversions,
                state,
            };
            let invite = asks_consent(state, consent_now, false);
            let row = NewAffiliate {
                email,
                campaign: campaign.0,
                fields,
                joined_at: row.created_at,
                consent_terms_version: consent_now.then_some(campaign.1),
                decided: decided_on_import(state),
            };
            let write = Write::Create { row, invite };
            return Planned::Write { write, changes: Vec::new() };
        };
        let owned = kept_in_step(&existing.source);
        let mut changes = Vec::new();
        let mut fields = Fields {
            full_name: existing.full_name.clone(),
            first_name: String::new(),
            last_name: None,
            referral_code: existing.referral_code.clone(),
            paypal_email: existing.paypal_email.clone(),
            wise_email: existing.wise_email.clone(),
            external_id: existing.external_id.clone(),
            history_visitors: existing.history_visitors,
            history_leads: existing.history_leads,
            history_conversions: existing.history_conversions,
            state: existing.state,
        };
        // The stored split is re-derived from the full name, which is what an import compares.
        let kept = shared::domain::PersonName::parse(&existing.full_name).ok();
        fields.first_name = kept.as_ref().map(|n| n.first().to_owned()).unwrap_or_default();
        fields.last_name = kept.as_ref().and_then(|n| n.last().map(str::to_owned));
        if let Some(name) = name {
            if (owned || existing.full_name.is_empty()) && name.full() != existing.full_name {
                fields.full_name = name.full().to_owned();
                fields.first_name = name.first().to_owned();
                fields.last_name = name.last().map(str::to_owned);
                changes.push("name");
            }
        }
        if let Some(token) = &row.token {
            let same = existing.referral_code.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(token.as_str()));
            if !same && (owned || existing.referral_code.is_none()) {
                fields.referral_code = Some(token.as_str().to_owned());
                changes.push("referral code");
            }
        }
        let mut set = |target: &mut Option<String>, value: Option<String>, label: &'static str| {
            if value.is_some() && *target != value {
                *target = value;
                changes.push(label);
            }
        };
        set(&mut fields.paypal_email, row.paypal_email.as_ref().map(|e| e.as_str().to_owned()), "PayPal email");
        set(&mut fields.wise_email, row.wise_email.as_ref().map(|e| e.as_str().to_owned()), "Wise email");
        set(&mut fields.external_id, row.external_id.clone(), "Rewardful id");
        let history = (row.visitors, row.leads, row.conversions);
        let before = (fields.history_visitors, fields.history_leads, fields.history_conversions);
        let merged = (history.0.or(before.0), history.1.or(before.1), history.2.or(before.2));
        if merged != before {
            (fields.history_visitors, fields.history_leads, fields.history_conversions) = merged;
            changes.push("history");
        }
        if owned && state != existing.state {
            fields.state = state;
            changes.push("state");
        }
        let consent = (consent_now && existing.consent_at.is_none()).then_some(campaign.1);
        if consent.is_some() {
            changes.push("consent");
        }
        let consented = existing.consent_at.is_some() || consent.is_some();
        let invite = asks_consent(fields.state, consented, self.invited.contains(&existing.id));
        if invite {
            changes.push("invite");
        }
        if changes.is_empty() {
            return Planned::Unchanged;
        }
        let decided = fields.state != existing.state;
        let row = AffiliateUpdate {
            id: existing.id,
            from_state: existing.state,
            fields,
            consent_terms_version: consent,
            decided,
        };
        let write = Write::Update { row, campaign: existing.campaign_id, email, consented, invite };
        Planned::Write { write, changes }
    }
}

/// Counts and the kept details of a dry run.
#[derive(Default)]
struct Tally {
    rows: u64,
    create: u64,
    update: u64,
    unchanged: u64,
    errors: u64,
    invites: u64,
    issues: Vec<ImportIssue>,
    more_issues: u64,
    samples: Vec<ImportSample>,
}

impl Tally {
    fn add(&mut self, line: u64, email: Option<&str>, planned: &Planned) {
        self.rows += 1;
        let (action, detail) = match planned {
            Planned::Invalid(cells) => {
                self.errors += 1;
                for cell in cells {
                    if self.issues.len() < MAX_ISSUES {
                        self.issues.push(ImportIssue {
                            line: cell.line,
                            column: cell.column.clone(),
                            email: email.map(str::to_owned),
                            reason: cell.reason.clone(),
                        });
                    } else {
                        self.more_issues += 1;
                    }
                }
                return;
            }
            Planned::Unchanged => {
                self.unchanged += 1;
                ("unchanged", "Already up to date.".to_owned())
            }
            Planned::Write { write: Write::Create { row, invite }, .. } => {
                self.create += 1;
                self.invites += u64::from(*invite);
                ("create", format!("New, {}", row.fields.state.as_str()))
            }
            Planned::Write { write: Write::Update { invite, .. }, changes } => {
                self.update += 1;
                self.invites += u64::from(*invite);
                ("update", format!("Changes {}", changes.join(", ")))
            }
        };
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(ImportSample {
                line,
                email: email.unwrap_or_default().to_owned(),
                action: action.into(),
                detail,
            });
        }
    }

    fn same_plan(&self, report: &ImportReport) -> bool {
        (self.create, self.update, self.unchanged, self.errors, self.invites)
            == (report.create, report.update, report.unchanged, report.errors, report.invites)
    }
}

/// A planner reading a file, row by row, inside the apply's transaction.
struct FileSource<'a> {
    reader: Reader<'a>,
    planner: Planner,
    done: u64,
    codes: HashSet<String>,
}

impl FileSource<'_> {
    /// Plans against what the database holds inside the transaction.
    fn start(&mut self, known: store::Known) {
        self.planner.load(known);
        self.codes = self.planner.codes.keys().cloned().collect();
    }

    /// The next write; `Ok(None)` at the end of the file. Rows without a write are skipped.
    fn next(&mut self) -> Result<Option<Option<Write>>, String> {
        let Some(row) = self.reader.next_row().map_err(|e| e.to_string())? else { return Ok(None) };
        self.done += 1;
        let Ok(row) = row else { return Ok(Some(None)) };
        if let Some(token) = &row.token {
            self.codes.insert(token.as_str().to_lowercase());
        }
        Ok(Some(match self.planner.plan(row) {
            Planned::Write { write, .. } => Some(write),
            Planned::Unchanged | Planned::Invalid(_) => None,
        }))
    }

    /// Rows planned so far (progress).
    fn done(&self) -> u64 {
        self.done
    }

    /// A fresh referral code (free in the file and the database).
    fn new_code(&mut self, first_name: &str) -> String {
        loop {
            let code = new_code(first_name);
            if self.codes.insert(code.to_lowercase()) {
                return code;
            }
        }
    }
}

/// Progress reported to the uploader, one call per few thousand rows.
pub type Progress<'a> = &'a (dyn Fn(ImportProgress) + Send + Sync);

/// Reads and plans a whole file: the dry run. Blocking work; call it off the async threads.
fn dry_run(
    bytes: &[u8],
    planner: &mut Planner,
    progress: Progress<'_>,
) -> Result<(Tally, Vec<ImportColumnView>, Vec<String>), String> {
    let total = bytes.len() as u64;
    let mut reader = Reader::new(bytes).map_err(|e| e.to_string())?;
    planner.columns(reader.columns());
    let columns = reader
        .columns()
        .iter()
        .map(|c| ImportColumnView { header: c.header.clone(), field: c.field.map(|f| f.label().to_owned()) })
        .collect();
    let unknown = reader.unknown_columns();
    let mut tally = Tally::default();
    while let Some(row) = reader.next_row().map_err(|e| e.to_string())? {
        match row {
            Ok(row) => {
                let (line, email) = (row.line, row.email.as_str().to_owned());
                let planned = planner.plan(row);
                tally.add(line, Some(&email), &planned);
            }
            Err(cells) => {
                let line = cells.first().map_or(0, |c| c.line);
                tally.add(line, None, &Planned::Invalid(cells));
            }
        }
        if tally.rows % 5_000 == 0 {
            progress(ImportProgress::Progress { phase: "checking".into(), done: reader.bytes_read(), total });
        }
    }
    Ok((tally, columns, unknown))
}

/// Where an upload goes: the campaign rows join when they name none, and how consent was given.
pub struct Upload<'a> {
    pub merchant: MerchantId,
    pub actor: &'a str,
    pub campaign: CampaignId,
    pub consent: ConsentMode,
    pub filename: &'a str,
}

async fn campaigns(db: &Db, merchant: MerchantId, chosen: CampaignId) -> Result<(Campaigns, CampaignRow), ImportError> {
    let rows = campaign_store::list(db, merchant).await.context("loading campaigns")?;
    let default = rows.iter().find(|c| c.id == chosen).cloned().ok_or(ImportError::UnknownCampaign)?;
    Ok((Campaigns::new(&rows, &default), default))
}

fn clean_filename(raw: &str) -> String {
    let name: String =
        raw.rsplit(['/', '\\']).next().unwrap_or("").chars().filter(|c| !c.is_control()).take(120).collect();
    if name.trim().is_empty() {
        "upload.csv".to_owned()
    } else {
        name.trim().to_owned()
    }
}

/// The dry run of an uploaded file, stored (with the file) so it can be confirmed from any instance.
pub async fn check(
    db: &Db,
    upload: Upload<'_>,
    bytes: bytes::Bytes,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge);
    }
    let (campaigns, default) = campaigns(db, upload.merchant, upload.campaign).await?;
    let known = store::existing(db, upload.merchant).await.context("loading affiliates")?;
    let mode = upload.consent;
    let file = bytes.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let work = tokio::task::spawn_blocking(move || {
        let mut planner = Planner::new(campaigns, mode);
        planner.load(known);
        let send = move |p: ImportProgress| {
            let _ = tx.send(p);
        };
        dry_run(&file, &mut planner, &send)
    });
    let mut work = std::pin::pin!(work);
    let outcome = loop {
        tokio::select! {
            Some(p) = rx.recv() => progress(p),
            done = &mut work => break done.context("the dry run stopped")?,
        }
    };
    let now = now_ms();
    let filename = clean_filename(upload.filename);
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut report = ImportReport {
        id: 0,
        filename: filename.clone(),
        state: ImportState::Ready,
        file_error: None,
        campaign_name: default.name.clone(),
        consent_mode: mode,
        rows: 0,
        create: 0,
        update: 0,
        unchanged: 0,
        errors: 0,
        invites: 0,
        columns: Vec::new(),
        unknown_columns: Vec::new(),
        issues: Vec::new(),
        more_issues: 0,
        samples: Vec::new(),
        created_at: now,
        imported_at: None,
    };
    let state = match outcome {
        Ok((tally, columns, unknown)) => {
            fill(&mut report, tally);
            report.columns = columns;
            report.unknown_columns = unknown;
            ImportState::Ready
        }
        Err(message) => {
            report.file_error = Some(message);
            ImportState::Rejected
        }
    };
    report.state = state;
    let rejected = state == ImportState::Rejected;
    let json = serde_json::to_string(&report).context("encoding the report")?;
    let id = store::insert(
        db,
        &store::NewImport {
            merchant: upload.merchant,
            campaign: upload.campaign,
            filename: &filename,
            sha256: &sha,
            consent_mode: mode.as_str(),
            state,
            content: (!rejected).then_some(&bytes[..]),
            report: &json,
            actor: upload.actor,
            now,
        },
    )
    .await
    .context("saving the import")?;
    report.id = id.get();
    let dropped = store::keep_newest_ready(db, upload.merchant, MAX_WAITING).await.context("dropping old dry runs")?;
    tracing::info!(merchant.id = %upload.merchant, import.id = %id, rows = report.rows, errors = report.errors, dropped, "import checked");
    Ok(report)
}

fn fill(report: &mut ImportReport, tally: Tally) {
    report.rows = tally.rows;
    report.create = tally.create;
    report.update = tally.update;
    report.unchanged = tally.unchanged;
    report.errors = tally.errors;
    report.invites = tally.invites;
    report.issues = tally.issues;
    report.more_issues = tally.more_issues;
    report.samples = tally.samples;
}

fn stored_report(row: &store::ImportRow) -> Result<ImportReport, ImportError> {
    let mut report: ImportReport = serde_json::from_str(&row.report).context("reading a stored report")?;
    report.id = row.id.get();
    report.state = row.state;
    report.imported_at = row.imported_at;
    Ok(report)
}

pub async fn get(db: &Db, merchant: MerchantId, id: i64) -> Result<ImportReport, ImportError> {
    let row = store::get(db, merchant, ImportId(id), false)
        .await
        .context("loading the import")?
        .ok_or(ImportError::UnknownImport)?;
    stored_report(&row)
}

pub async fn list(db: &Db, merchant: MerchantId) -> Result<Vec<ImportReport>, ImportError> {
    let rows = store::list(db, merchant, 50).await.context("listing imports")?;
    rows.iter()
        .map(|r| {
            let mut report = stored_report(r)?;
            report.issues.clear();
            report.samples.clear();
            Ok(report)
        })
        .collect()
}

/// Applies a checked file: re-plans it inside one transaction against the affiliates as they are
/// now, and writes every valid row, or nothing when the plan no longer matches the dry run.
pub async fn confirm(
    db: &Db,
    invites: &Invites,
    merchant: MerchantId,
    actor: &str,
    id: i64,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let import = ImportId(id);
    let row = store::get(db, merchant, import, true)
        .await
        .context("loading the import")?
        .ok_or(ImportError::UnknownImport)?;
    let mut report = stored_report(&row)?;
    let content = match (row.content, row.state) {
        (Some(content), ImportState::Ready) => bytes::Bytes::from(content),
        _ => return Err(ImportError::NotReady),
    };
    let mode = ConsentMode::parse(&row.consent_mode)
        .with_context(|| format!("import {import} has consent mode {:?}", row.consent_mode))?;
    let (campaign_map, campaign) = campaigns(db, merchant, row.campaign_id).await?;
    // The plan inside the transaction must match the dry run shown; re-check outside it first
    // so a mismatch costs no write lock.
    let known = store::existing(db, merchant).await.context("loading affiliates")?;
    let mut planner =
        Planner::new(Campaigns { by_name: campaign_map.by_name.clone(), default: campaign_map.default }, mode);
    planner.load(known);
    let file = content.clone();
    let fresh = tokio::task::spawn_blocking(move || dry_run(&file, &mut planner, &|_| {}))
        .await
        .context("the re-check stopped")?
        .map_err(|e| anyhow::anyhow!(e))?;
    if !fresh.0.same_plan(&report) {
        fill(&mut report, fresh.0);
        store::set_report(db, merchant, import, &serde_json::to_string(&report).context("encoding")?)
            .await
            .context("saving")?;
        return Err(ImportError::Changed(Box::new(report)));
    }
    let total = report.rows;
    let reader = Reader::new(&content).map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let mut planner = Planner::new(campaign_map, mode);
    planner.columns(reader.columns());
    let mut source = FileSource { reader, planner, done: 0, codes: HashSet::new() };
    let now = now_ms();
    let expires_at = now + i64::from(DEFAULT_EXPIRY_DAYS) * DAY_MS;
    // An invite opens the page of the affiliate's own campaign (a row may name another one).
    let all = campaign_store::list(db, merchant).await.context("loading campaigns")?;
    let row_of = |id: CampaignId| all.iter().find(|c| c.id == id).unwrap_or(&campaign);
    let link = |of: CampaignId, invite: i64, expires: i64, nonce: &str| {
        let c = row_of(of);
        invites.link(&c.merchant_slug, &c.slug, invite, expires, nonce)
    };
    let properties =
        |of: CampaignId, invite: &NewInvite, link: &str| Invites::properties(row_of(of), invite, link, expires_at);
    let issue = Issue { merchant, campaign: campaign.id, expires_at, now, actor, link: &link, properties: &properties };
    let step = |done: u64| progress(ImportProgress::Progress { phase: "importing".into(), done, total });
    let finished = |applied: &Applied| {
        let mut done = report.clone();
        done.state = ImportState::Imported;
        done.imported_at = Some(now);
        done.create = applied.created;
        done.update = applied.updated;
        done.invites = applied.invites;
        serde_json::to_string(&done).unwrap_or_default()
    };
    let applied = match apply(db, merchant, import, &mut source, &issue, &step, &finished).await {
        Ok(applied) => applied,
        Err(ApplyError::NotReady) => return Err(ImportError::NotReady),
        Err(ApplyError::Changed) => return Err(ImportError::Conflict),
        Err(ApplyError::Db(e)) if matches!(e, DbError::Conflict { .. }) => {
            tracing::info!(error = %e, "an import met a concurrent change; nothing was written");
            return Err(ImportError::Conflict);
        }
        Err(ApplyError::File(message)) => {
            return Err(anyhow::anyhow!("the stored file no longer reads: {message}").into())
        }
        Err(ApplyError::Db(e)) => {
            return Err(anyhow::Error::from(e).context("applying the import").into());
        }
    };
    tracing::info!(merchant.id = %merchant, import.id = %import, created = applied.created, updated = applied.updated,
        invites = applied.invites, syncs = applied.syncs, "import applied");
    get(db, merchant, id).await
}

/// Why an apply stopped; nothing was written.
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error("the import is not ready (already imported, or rejected)")]
    NotReady,
    /// An affiliate changed, or a new one with an email or code of the file appeared, while the
    /// import ran (another instance, a public application): nothing was written.
    #[error("affiliates changed during the import")]
    Changed,
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What an apply wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Applied {
    created: u64,
    updated: u64,
    invites: u64,
    syncs: u64,
}

/// New affiliates written together (each batch also takes its audit entries and syncs in one
/// statement); the store splits a batch further if it would pass the bind limit.
const BATCH: usize = 500;

/// Applies an import in one transaction: claims it (`ready` → `imported`, so a second confirm,
/// on any instance, finds nothing to do), plans every row against what the database holds inside
/// the transaction, and writes: new affiliates in batches, updates one by one, each with its audit
/// entry, Klaviyo sync and invite. `report` is what the stored report becomes.
async fn apply(
    db: &Db,
    merchant: MerchantId,
    import: ImportId,
    source: &mut FileSource<'_>,
    issue: &Issue<'_>,
    progress: &(dyn Fn(u64) + Send + Sync),
    report: &(dyn Fn(&Applied) -> String + Send + Sync),
) -> Result<Applied, ApplyError> {
    let now = issue.now;
    let mut tx = db.begin().await?;
    if !store::claim(&mut tx, merchant, import, now).await? {
        return Err(ApplyError::NotReady);
    }
    source.start(store::existing_in(&mut tx, merchant).await?);
    let connected = invite_store::klaviyo_connected(&mut tx, merchant).await?;
    let mut applied = Applied::default();
    let mut last_report = 0;
    // New affiliates waiting for their batch, and whether each is invited.
    let mut batch: Vec<NewAffiliate> = Vec::with_capacity(BATCH);
    let mut batch_invites: Vec<bool> = Vec::with_capacity(BATCH);
    loop {
        let next = source.next().map_err(ApplyError::File)?;
        let end = next.is_none();
        match next.flatten() {
            Some(Write::Create { mut row, invite }) => {
                if needs_code(row.fields.state, row.fields.referral_code.as_deref()) {
                    row.fields.referral_code = Some(source.new_code(&row.fields.first_name));
                }
                batch.push(row);
                batch_invites.push(invite);
            }
            Some(Write::Update { mut row, campaign, email, consented, invite }) => {
                if needs_code(row.fields.state, row.fields.referral_code.as_deref()) {
                    row.fields.referral_code = Some(source.new_code(&row.fields.first_name));
                }
                if !store::update_affiliate(&mut tx, merchant, &row, now).await? {
                    return Err(ApplyError::Changed);
                }
                let (id, from, to) = (row.id, row.from_state, row.fields.state);
                audit::record(&mut tx, merchant, issue.actor, "import updated", id, Some(from), Some(to), now).await?;
                applied.updated += 1;
                if syncs_after_import(to, consented, to != from, row.consent_terms_version.is_some()) {
                    outbox::sync(&mut tx, merchant, id, now).await?;
                    applied.syncs += 1;
                }
                if invite {
                    let full_name = Some(row.fields.full_name).filter(|n| !n.is_empty());
                    let new = NewInvite { email, full_name, affiliate_id: Some(id), campaign: Some(campaign) };
                    issue_in(&mut tx, issue, &new, "import", Some(import), connected).await?;
                    applied.invites += 1;
                }
            }
            None => {}
        }
        if batch.len() >= BATCH || (end && !batch.is_empty()) {
            let ids = store::insert_affiliates(&mut tx, merchant, &batch, now).await?;
            let created: Vec<(AffiliateId, AffiliateState)> =
                batch.iter().filter_map(|a| ids.get(&a.email).map(|id| (*id, a.fields.state))).collect();
            store::audit_created(&mut tx, merchant, issue.actor, &created, now).await?;
            let to_sync: Vec<AffiliateId> = batch
                .iter()
                .filter(|a| {
                    let consent = a.consent_terms_version.is_some();
                    syncs_after_import(a.fields.state, consent, true, consent)
                })
                .filter_map(|a| ids.get(&a.email).copied())
                .collect();
            applied.syncs += outbox::syncs(&mut tx, merchant, &to_sync, now).await?;
            applied.created += batch.len() as u64;
            for (a, invite) in batch.drain(..).zip(batch_invites.drain(..)) {
                let (Some(id), true) = (ids.get(&a.email).copied(), invite) else { continue };
                let full_name = Some(a.fields.full_name).filter(|n| !n.is_empty());
                let new = NewInvite { email: a.email, full_name, affiliate_id: Some(id), campaign: Some(a.campaign) };
                issue_in(&mut tx, issue, &new, "import", Some(import), connected).await?;
                applied.invites += 1;
            }
        }
        if source.done() - last_report >= 1_000 {
            last_report = source.done();
            progress(last_report);
        }
        if end {
            break;
        }
    }
    store::finish(&mut tx, merchant, import, &report(&applied)).await?;
    tx.commit().await?;
    progress(source.done());
    Ok(applied)
}

/// Deletes unconfirmed dry runs older than a day, with their files (housekeeping, every instance:
/// the statement is idempotent).
pub async fn expire(db: &Db, now: i64) -> anyhow::Result<u64> {
    store::delete_stale(db, now - WAITING_MS).await.context("deleting stale dry runs")
}
