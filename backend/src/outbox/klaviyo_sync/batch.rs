//! One batch: rows of one merchant and one list, in one phase. Sending reads Klaviyo's state
//! first, writes names and properties, then consent and membership; verifying reads membership
//! and consent back until each row is proven, awaiting confirmation, or due for another try.

use super::calls::Calls;
use super::plan::{self, Step};
use super::Settings;
use crate::klaviyo::client::{MAX_BULK_IMPORT, MAX_LIST_MEMBERSHIP, MAX_READ_BACK, MAX_SUBSCRIBE};
use crate::klaviyo::wire::{BulkJobStatus, ProfileFields, ProfileState};
use crate::klaviyo::{Client, KlaviyoError, Operation};
use crate::store::now_ms;
use crate::store::sync::{ClaimedSync, Outcome};
use shared::domain::klaviyo::{OptIn, PrivateKey};
use shared::domain::{AffiliateState, Drift, SyncState};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often a double opt-in sync looks for the affiliate's confirmation, and for how long.
const CONFIRMATION_RECHECK: Duration = Duration::from_secs(600);
const CONFIRMATION_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Batch<'a> {
    pub client: &'a Client,
    pub key: &'a PrivateKey,
    pub list_id: &'a str,
    pub settings: &'a Settings,
    pub public_base: &'a str,
    pub calls: Calls,
    /// The first error that stopped some rows, for the health panel.
    pub error: Option<KlaviyoError>,
    /// What to show for it when Rekomi can say more than Klaviyo's error does.
    pub error_message: Option<String>,
    /// Rows found changed in Klaviyo since Rekomi put them in the list.
    pub drift: Vec<(i64, Drift)>,
}

/// A row on its way through the batch, and where it ended up.
struct Work {
    row: ClaimedSync,
    outcome: Option<Outcome>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The row's outcome as it stands, for a step to change.
pub(super) fn base(row: &ClaimedSync) -> Outcome {
    Outcome {
        id: row.id,
        state: row.state,
        reason: row.reason.clone(),
        attempts: row.attempts,
        checks: row.checks,
        due_at: None,
        sent_at: row.sent_at,
        verify_until: row.verify_until,
        list_opt_in: row.list_opt_in.clone(),
        import_job_id: row.import_job_id.clone(),
        profile_id: row.profile_id.clone(),
        fields_hash: row.fields_hash.clone(),
    }
}

impl Batch<'_> {
    fn settle(&self, row: &ClaimedSync, state: SyncState, reason: Option<String>) -> Outcome {
        Outcome { state, reason, due_at: None, ..base(row) }
    }

    /// A call failed for these rows: retry later if it may work then, else stop with Klaviyo's word.
    fn failed(&mut self, row: &ClaimedSync, error: &KlaviyoError) -> Outcome {
        let now = now_ms();
        // Being throttled is Klaviyo pacing us, not the sync failing: it doesn't use up attempts.
        let attempts = if matches!(error, KlaviyoError::Throttled { .. }) { row.attempts } else { row.attempts + 1 };
        let outcome = if !error.is_retryable_when_idempotent() {
            self.settle(row, SyncState::Failed, Some(error.merchant_message()))
        } else if attempts >= i64::from(self.settings.max_attempts) {
            let reason = format!("Gave up after {attempts} attempts. {}", error.merchant_message());
            self.settle(row, SyncState::Failed, Some(reason))
        } else {
            let wait = plan::retry_delay(attempts, error.retry_after());
            Outcome {
                state: SyncState::Retrying,
                reason: Some(error.merchant_message()),
                attempts,
                due_at: Some(now + ms(wait)),
                ..base(row)
            }
        };
        if self.error.is_none() {
            self.error = Some(error.clone());
        }
        outcome
    }

    fn fail_open(&mut self, work: &mut [Work], error: &KlaviyoError) {
        for w in work.iter_mut().filter(|w| w.outcome.is_none()) {
            w.outcome = Some(self.failed(&w.row, error));
        }
    }

    fn finish(work: Vec<Work>) -> Vec<Outcome> {
        work.into_iter().filter_map(|w| w.outcome).collect()
    }

    // ---- sending -------------------------------------------------------------------------------

    pub async fn send(&mut self, rows: Vec<ClaimedSync>) -> Vec<Outcome> {
        let mut work: Vec<Work> = rows.into_iter().map(|row| Work { row, outcome: None }).collect();
        for w in &mut work {
            // A sync the merchant retired as it was (the campaign moved to another list) is no
            // longer worked; one claimed just before the move ends here.
            if w.row.retired_at.is_some() && !w.row.leave_list {
                w.outcome = Some(self.settle(
                    &w.row,
                    SyncState::Blocked,
                    Some("Left as it was in this list: their campaign uses another list now.".into()),
                ));
                continue;
            }
            // Approved affiliates join the list; disabled ones leave it. Anyone else is not synced.
            if !(w.row.affiliate_state == AffiliateState::Approved || w.row.affiliate_state.is_out()) {
                w.outcome = Some(self.settle(
                    &w.row,
                    SyncState::Blocked,
                    Some("No longer approved in Rekomi, so not synced.".into()),
                ));
            }
        }
        let ids: Vec<i64> = work.iter().filter(|w| w.outcome.is_none()).map(|w| w.row.id).collect();
        if ids.is_empty() {
            return Self::finish(work);
        }
        // The list's opt-in process decides what "done" looks like; read it at send time (§9).
        let (client, key, list_id) = (self.client, self.key, self.list_id);
        let list = match self.calls.run(Operation::GetList, &ids, || client.list(key, list_id)).await {
            Ok(list) => list,
            Err(e @ KlaviyoError::NotFound { .. }) => {
                let reason = list_gone(list_id);
                self.error = Some(e);
                self.error_message = Some(reason.clone());
                for w in work.iter_mut().filter(|w| w.outcome.is_none()) {
                    w.outcome = Some(self.settle(&w.row, SyncState::Failed, Some(reason.clone())));
                }
                return Self::finish(work);
            }
            Err(e) => {
                self.fail_open(&mut work, &e);
                return Self::finish(work);
            }
        };
        let opt_in = list.opt_in_process.as_deref().and_then(OptIn::from_klaviyo).unwrap_or(OptIn::Double);

        // Read first: who exists, with what consent, and which subscribed ones are in the list.
        let (existing, members) = match self.read_state(&work).await {
            Ok(found) => found,
            Err(e) => {
                self.fail_open(&mut work, &e);
                return Self::finish(work);
            }
        };

        // Names and properties, only where they changed since the last write. A leaving affiliate's
        // profile is only updated, never created: nothing of theirs is in Klaviyo to take out.
        let now = now_ms();
        let mut writes: Vec<(usize, ProfileFields, String)> = Vec::new();
        for (i, w) in work.iter().enumerate().filter(|(_, w)| w.outcome.is_none()) {
            // Nor is the profile of someone deleted in Klaviyo after Rekomi put them in the list
            // created again on Rekomi's own initiative.
            if (leaving(&w.row) || was_in_list(&w.row)) && !existing.contains_key(&w.row.email.to_lowercase()) {
                continue;
            }
            let fields = plan::profile_fields(&w.row, self.public_base, now);
            let hash = plan::fields_hash(&fields);
            if w.row.fields_hash.as_deref() != Some(hash.as_str()) {
                writes.push((i, fields, hash));
            }
        }
        let mut written: HashMap<usize, (String, Option<String>, Option<String>)> = HashMap::new();
        if let Err(e) = self.write_fields(&mut work, writes, &mut written).await {
            self.fail_open(&mut work, &e);
            return Self::finish(work);
        }

        // Consent and membership. Leaving takes the profile out of the list and nothing else: the
        // consent belongs to the person, and Rekomi never changes it on their behalf.
        let mut subscribe: Vec<usize> = Vec::new();
        let mut add: Vec<(usize, String)> = Vec::new();
        let mut remove: Vec<(usize, String)> = Vec::new();
        let mut steps: HashMap<usize, Step> = HashMap::new();
        for (i, w) in work.iter().enumerate().filter(|(_, w)| w.outcome.is_none()) {
            let email = w.row.email.to_lowercase();
            if leaving(&w.row) {
                match existing.get(&email).filter(|_| members.contains(&email)) {
                    Some(profile) => remove.push((i, profile.id.clone())),
                    None => {
                        steps.insert(i, Step::AlreadyIn);
                    }
                }
                continue;
            }
            let mut step = plan::step(w.row.consent_at.is_some(), existing.get(&email), members.contains(&email));
            // Out of the list (or opted out, or deleted) after Rekomi had put them in: a change made
            // in Klaviyo, recorded and never undone here.
            if was_in_list(&w.row) && !matches!(step, Step::AlreadyIn) {
                let drift = match existing.get(&email) {
                    None => Drift::Deleted,
                    Some(profile) => super::super::klaviyo_reconcile::drift_of(profile).unwrap_or(Drift::Removed),
                };
                // Only news is recorded (and makes the merchant's other affiliates checked soon).
                if w.row.drift != Some(drift) {
                    self.drift.push((w.row.id, drift));
                }
                step = Step::Blocked(drift.explain().to_owned());
            }
            match &step {
                Step::Subscribe => subscribe.push(i),
                Step::AddToList { profile_id } => add.push((i, profile_id.clone())),
                Step::AlreadyIn | Step::Blocked(_) => {}
            }
            steps.insert(i, step);
        }
        if let Err(e) = self.subscribe(&mut work, &mut subscribe).await {
            self.fail_open(&mut work, &e);
            return Self::finish(work);
        }
        // A refusal here stops only the rows being added or removed; subscribes already accepted go
        // on to verification.
        let mut refused: Option<KlaviyoError> = None;
        self.membership(&mut work, Operation::AddToList, &add, &mut refused).await;
        self.membership(&mut work, Operation::RemoveFromList, &remove, &mut refused).await;

        let verify_until = now + ms(self.settings.verify_timeout);
        for (i, w) in work.iter_mut().enumerate() {
            if w.outcome.is_some() {
                continue;
            }
            let mut o = base(&w.row);
            o.list_opt_in = Some(opt_in.as_klaviyo().to_owned());
            if let Some((hash, job, profile)) = written.remove(&i) {
                o.fields_hash = Some(hash);
                o.import_job_id = job;
                o.profile_id = profile.or(o.profile_id);
            } else {
                o.import_job_id = None;
            }
            let pending_job = o.import_job_id.is_some();
            if leaving(&w.row) {
                // Nothing sent now, and no earlier subscribe that Klaviyo may still apply: done.
                let sent_nothing = matches!(steps.get(&i), Some(Step::AlreadyIn)) && !pending_job;
                if sent_nothing && !self.join_may_still_apply(&w.row, now) {
                    o.state = SyncState::Succeeded;
                    let known = existing.contains_key(&w.row.email.to_lowercase());
                    o.reason = Some((if known { left(&w.row) } else { NOT_IN_KLAVIYO }).to_owned());
                    o.due_at = None;
                } else {
                    // Keeps `sent_at`: it says when the last subscribe went out, which decides how
                    // long the list is watched for it.
                    o.state = SyncState::Verifying;
                    o.reason = None;
                    o.attempts = w.row.attempts + 1;
                    o.checks = 0;
                    o.verify_until = Some(verify_until);
                    o.due_at = Some(now + ms(plan::check_delay(0)));
                }
                w.outcome = Some(o);
                continue;
            }
            match steps.remove(&i) {
                Some(Step::Blocked(reason)) => {
                    o.state = SyncState::Blocked;
                    o.reason = Some(reason);
                    o.due_at = None;
                }
                Some(Step::AlreadyIn) if !pending_job => {
                    o.state = SyncState::Succeeded;
                    o.reason = None;
                    o.due_at = None;
                }
                _ => {
                    o.state = SyncState::Verifying;
                    o.reason = None;
                    o.attempts = w.row.attempts + 1;
                    o.checks = 0;
                    o.sent_at = Some(now);
                    o.verify_until = Some(verify_until);
                    o.due_at = Some(now + ms(plan::check_delay(0)));
                }
            }
            w.outcome = Some(o);
        }
        Self::finish(work)
    }

    /// Adds profiles to the list or removes them (`op`), a call per chunk; once Klaviyo refuses one
    /// (`refused`), the remaining rows fail with that answer instead of being sent.
    async fn membership(
        &mut self,
        work: &mut [Work],
        op: Operation,
        rows: &[(usize, String)],
        refused: &mut Option<KlaviyoError>,
    ) {
        let (client, key, list_id) = (self.client, self.key, self.list_id);
        for chunk in rows.chunks(MAX_LIST_MEMBERSHIP) {
            let ids: Vec<i64> = chunk.iter().map(|(i, _)| work[*i].row.id).collect();
            let profiles: Vec<String> = chunk.iter().map(|(_, p)| p.clone()).collect();
            if refused.is_none() {
                let result = match op {
                    Operation::RemoveFromList => {
                        self.calls.run(op, &ids, || client.remove_from_list(key, list_id, &profiles)).await
                    }
                    _ => self.calls.run(op, &ids, || client.add_to_list(key, list_id, &profiles)).await,
                };
                *refused = result.err();
            }
            if let Some(e) = refused.clone() {
                for (i, _) in chunk {
                    work[*i].outcome = Some(self.failed(&work[*i].row.clone(), &e));
                }
            }
        }
    }

    /// Profiles by email for every open row, and which subscribed ones (and leaving ones, whatever
    /// their consent) are in the list.
    async fn read_state(
        &mut self,
        work: &[Work],
    ) -> Result<(HashMap<String, ProfileState>, HashSet<String>), KlaviyoError> {
        let (client, key, list_id) = (self.client, self.key, self.list_id);
        let open: Vec<&ClaimedSync> = work.iter().filter(|w| w.outcome.is_none()).map(|w| &w.row).collect();
        let mut existing = HashMap::new();
        for chunk in open.chunks(MAX_READ_BACK) {
            let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
            let emails: Vec<String> = chunk.iter().map(|r| r.email.clone()).collect();
            let found = self.calls.run(Operation::GetProfiles, &ids, || client.profiles_by_email(key, &emails)).await?;
            existing.extend(found.into_iter().map(|p| (p.email.clone(), p)));
        }
        let subscribed: Vec<&ClaimedSync> = open
            .iter()
            .copied()
            .filter(|r| {
                existing
                    .get(&r.email.to_lowercase())
                    .is_some_and(|p| leaving(r) || p.consent.as_deref() == Some("SUBSCRIBED"))
            })
            .collect();
        let mut members = HashSet::new();
        for chunk in subscribed.chunks(MAX_READ_BACK) {
            let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
            let emails: Vec<String> = chunk.iter().map(|r| r.email.clone()).collect();
            let found =
                self.calls.run(Operation::GetListProfiles, &ids, || client.list_members(key, list_id, &emails)).await?;
            members.extend(found.into_iter().map(|p| p.email));
        }
        Ok((existing, members))
    }

    /// One profile-import for a single row; a bulk import job for several. A row Klaviyo refuses
    /// as invalid fails on its own and the rest are sent again.
    async fn write_fields(
        &mut self,
        work: &mut [Work],
        mut writes: Vec<(usize, ProfileFields, String)>,
        written: &mut HashMap<usize, (String, Option<String>, Option<String>)>,
    ) -> Result<(), KlaviyoError> {
        let (client, key) = (self.client, self.key);
        if let [(i, fields, hash)] = writes.as_slice() {
            let ids = [work[*i].row.id];
            match self.calls.run(Operation::ProfileImport, &ids, || client.import_profile(key, fields)).await {
                Ok(imported) => {
                    written.insert(*i, (hash.clone(), None, Some(imported.id)));
                }
                Err(e @ (KlaviyoError::Invalid { .. } | KlaviyoError::Conflict { .. })) => {
                    work[*i].outcome = Some(self.failed(&work[*i].row.clone(), &e));
                }
                Err(e) => return Err(e),
            }
            return Ok(());
        }
        while !writes.is_empty() {
            let chunk_len = writes.len().min(MAX_BULK_IMPORT);
            let chunk: Vec<(usize, ProfileFields, String)> = writes.drain(..chunk_len).collect();
            let mut chunk = chunk;
            loop {
                let ids: Vec<i64> = chunk.iter().map(|(i, _, _)| work[*i].row.id).collect();
                let profiles: Vec<ProfileFields> = chunk.iter().map(|(_, f, _)| f.clone()).collect();
                let result = self
                    .calls
                    .run(Operation::CreateBulkImportJob, &ids, || client.create_bulk_import(key, &profiles, None))
                    .await;
                match result {
                    Ok(job) => {
                        for (i, _, hash) in chunk {
                            written.insert(i, (hash, Some(job.id.clone()), None));
                        }
                        break;
                    }
                    Err(e @ KlaviyoError::Invalid { .. }) => {
                        let bad = invalid_row(&e);
                        let Some(bad) = bad.filter(|b| *b < chunk.len()) else { return Err(e) };
                        let (i, _, _) = chunk.remove(bad);
                        work[i].outcome = Some(self.failed(&work[i].row.clone(), &e));
                        if chunk.is_empty() {
                            break;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Subscribe jobs of up to 1,000; an invalid row is dropped and the rest sent again.
    async fn subscribe(&mut self, work: &mut [Work], rows: &mut Vec<usize>) -> Result<(), KlaviyoError> {
        let (client, key, list_id) = (self.client, self.key, self.list_id);
        rows.retain(|i| work[*i].outcome.is_none());
        let mut pending: Vec<usize> = std::mem::take(rows);
        while !pending.is_empty() {
            let take = pending.len().min(MAX_SUBSCRIBE);
            let mut chunk: Vec<usize> = pending.drain(..take).collect();
            loop {
                let ids: Vec<i64> = chunk.iter().map(|i| work[*i].row.id).collect();
                let emails: Vec<String> = chunk.iter().map(|i| work[*i].row.email.clone()).collect();
                let result = self
                    .calls
                    .run(Operation::Subscribe, &ids, || client.subscribe(key, list_id, &emails, plan::CUSTOM_SOURCE))
                    .await;
                match result {
                    Ok(()) => break,
                    Err(e @ KlaviyoError::Invalid { .. }) => {
                        let bad = invalid_row(&e);
                        let Some(bad) = bad.filter(|b| *b < chunk.len()) else { return Err(e) };
                        let i = chunk.remove(bad);
                        work[i].outcome = Some(self.failed(&work[i].row.clone(), &e));
                        if chunk.is_empty() {
                            break;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    // ---- verifying -----------------------------------------------------------------------------

    pub async fn verify(&mut self, rows: Vec<ClaimedSync>) -> Vec<Outcome> {
        let now = now_ms();
        let (client, key, list_id) = (self.client, self.key, self.list_id);
        let mut work: Vec<Work> = rows.into_iter().map(|row| Work { row, outcome: None }).collect();

        let mut members: HashMap<String, ProfileState> = HashMap::new();
        let mut read_error: Option<KlaviyoError> = None;
        let chunks: Vec<Vec<(i64, String)>> =
            work.chunks(MAX_READ_BACK).map(|c| c.iter().map(|w| (w.row.id, w.row.email.clone())).collect()).collect();
        for chunk in chunks {
            let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
            let emails: Vec<String> = chunk.into_iter().map(|(_, e)| e).collect();
            match self.calls.run(Operation::GetListProfiles, &ids, || client.list_members(key, list_id, &emails)).await
            {
                Ok(found) => members.extend(found.into_iter().map(|p| (p.email.clone(), p))),
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = read_error {
            if matches!(e, KlaviyoError::NotFound { .. }) || !e.is_retryable_when_idempotent() {
                let reason = match e {
                    KlaviyoError::NotFound { .. } => list_gone(list_id),
                    ref other => other.merchant_message(),
                };
                for w in &mut work {
                    w.outcome = Some(self.settle(&w.row, SyncState::Failed, Some(reason.clone())));
                }
                self.error = Some(e);
                self.error_message = Some(reason);
                return Self::finish(work);
            }
            // Could not look this time: look again later. Past the verification window each failed
            // look counts as an attempt, so a read that never works ends in a visible state.
            let max = i64::from(self.settings.max_attempts);
            for w in &mut work {
                let mut o = base(&w.row);
                o.checks = w.row.checks + 1;
                o.due_at = Some(now + ms(plan::retry_delay(w.row.checks, e.retry_after())));
                let overdue = w.row.state == SyncState::Verifying && now >= w.row.verify_until.unwrap_or(0);
                if overdue {
                    o.attempts = w.row.attempts + 1;
                    if o.attempts >= max {
                        o.state = SyncState::Failed;
                        o.reason = Some(format!("Gave up reading the result back: {}", e.merchant_message()));
                        o.due_at = None;
                    }
                }
                w.outcome = Some(o);
            }
            self.error = Some(e);
            return Self::finish(work);
        }

        let jobs = self.import_jobs(&work).await;

        for w in &mut work {
            let row = &w.row;
            let email = row.email.to_lowercase();
            let job = row.import_job_id.as_ref().and_then(|id| jobs.get(id));
            let member = members.get(&email);
            let subscribed = member.is_some_and(|p| p.consent.as_deref() == Some("SUBSCRIBED"));
            let double = row.list_opt_in.as_deref() == Some(OptIn::Double.as_klaviyo());
            let mut o = base(row);
            if leaving(row) {
                self.verify_leaving(row, &mut o, member.is_some(), job, now);
                w.outcome = Some(o);
                continue;
            }
            if let Some(JobState::Done { failed }) = job {
                if let Some(detail) = failed.get(&email) {
                    o.state = SyncState::Failed;
                    o.reason = Some(format!("Klaviyo refused this profile's names or properties: {detail}"));
                    o.due_at = None;
                    w.outcome = Some(o);
                    continue;
                }
                o.import_job_id = None;
            }
            // A lost job counts as pending: the row times out into a resend, which writes the names again.
            let job_pending = matches!(job, Some(JobState::Pending | JobState::Lost))
                || (row.import_job_id.is_some() && job.is_none());
            if subscribed && !job_pending {
                o.state = SyncState::Succeeded;
                o.reason = None;
                o.due_at = None;
            } else if let Some(reason) = member.and_then(plan::opted_out) {
                o.state = SyncState::Blocked;
                o.reason = Some(reason);
                o.due_at = None;
            } else if double && !subscribed {
                o.state = SyncState::AwaitingConfirmation;
                o.reason = Some(
                    "Klaviyo emailed the affiliate a confirmation link (double opt-in list); they join the list once \
                     they click it."
                        .into(),
                );
                let sent = row.sent_at.unwrap_or(now);
                if now < sent + ms(CONFIRMATION_WINDOW) {
                    o.due_at = Some(now + ms(CONFIRMATION_RECHECK));
                } else {
                    o.state = SyncState::Failed;
                    o.reason = Some(
                        "The affiliate never confirmed the double opt-in email (a week has passed). \"Retry now\" \
                         sends a new confirmation email."
                            .into(),
                    );
                    o.due_at = None;
                }
            } else if now < row.verify_until.unwrap_or(0) {
                o.state = SyncState::Verifying;
                o.checks = row.checks + 1;
                o.due_at = Some(now + ms(plan::check_delay(o.checks)));
            } else if row.attempts >= i64::from(self.settings.max_attempts) {
                o.state = SyncState::Failed;
                o.reason = Some(if subscribed {
                    format!(
                        "Subscribed and in the list, but Klaviyo never finished importing the names ({} tries). \
                         Retry to send them again.",
                        row.attempts
                    )
                } else {
                    format!(
                        "Klaviyo accepted the subscription {} times but never applied it. Check the list in \
                         Klaviyo, then retry.",
                        row.attempts
                    )
                });
                o.due_at = None;
            } else {
                // Accepted (202) but not applied in time: jobs can be lost, so send again. Sending
                // reads state first, so nothing is duplicated or regressed (a subscribed affiliate
                // only gets the names again).
                if job_pending {
                    o.import_job_id = None;
                    o.fields_hash = None;
                }
                o.state = SyncState::Retrying;
                let what = if subscribed { "importing the names" } else { "applying the subscription" };
                o.reason = Some(format!(
                    "Klaviyo had not finished {what} after {} s; sending again.",
                    self.settings.verify_timeout.as_secs()
                ));
                o.due_at = Some(now + ms(plan::retry_delay(row.attempts, None)));
            }
            w.outcome = Some(o);
        }
        Self::finish(work)
    }

    /// A disabled affiliate's row once read back: done when the profile is out of the list and the
    /// properties are written; otherwise looked at again, sent again, and in the end failed.
    fn verify_leaving(&self, row: &ClaimedSync, o: &mut Outcome, member: bool, job: Option<&JobState>, now: i64) {
        let job_done = match job {
            Some(JobState::Done { failed }) => match failed.get(&row.email.to_lowercase()) {
                Some(detail) => {
                    o.state = SyncState::Failed;
                    o.reason = Some(format!("Klaviyo refused this profile's properties: {detail}"));
                    o.due_at = None;
                    return;
                }
                None => true,
            },
            Some(_) => false,
            None => row.import_job_id.is_none(),
        };
        if job_done {
            o.import_job_id = None;
        }
        if !member && job_done && !self.join_may_still_apply(row, now) {
            o.state = SyncState::Succeeded;
            o.reason = Some(left(row).into());
            o.due_at = None;
        } else if !member && job_done {
            // Out of the list, but a subscribe sent before the disable may still be applied (or a
            // double opt-in confirmation clicked): keep looking until that can no longer happen.
            o.state = SyncState::Verifying;
            o.checks = row.checks + 1;
            o.reason = Some(WATCHING.into());
            let double = row.list_opt_in.as_deref() == Some(OptIn::Double.as_klaviyo());
            let recheck = if double { CONFIRMATION_RECHECK } else { plan::check_delay(o.checks) };
            o.due_at = Some(now + ms(recheck));
        } else if now < row.verify_until.unwrap_or(0) {
            o.state = SyncState::Verifying;
            o.checks = row.checks + 1;
            o.due_at = Some(now + ms(plan::check_delay(o.checks)));
        } else if row.attempts >= i64::from(self.settings.max_attempts) {
            o.state = SyncState::Failed;
            o.reason = Some(if member {
                format!(
                    "Klaviyo still showed the affiliate in the list after {} tries. Remove them from the list in \
                     Klaviyo, or retry.",
                    row.attempts
                )
            } else {
                format!(
                    "Out of the list, but Klaviyo never finished writing \"Rekomi affiliate\" false ({} tries). \
                     Retry to send it again.",
                    row.attempts
                )
            });
            o.due_at = None;
        } else {
            if !job_done {
                o.import_job_id = None;
                o.fields_hash = None;
            }
            o.state = SyncState::Retrying;
            o.reason = Some("Klaviyo had not applied the removal yet; sending it again.".into());
            o.due_at = Some(now + ms(plan::retry_delay(row.attempts, None)));
        }
    }

    /// Whether a subscribe sent before the affiliate was disabled may still be applied by Klaviyo:
    /// its job within the verification window, or a double opt-in confirmation email within its week.
    fn join_may_still_apply(&self, row: &ClaimedSync, now: i64) -> bool {
        let Some(sent) = row.sent_at else { return false };
        let double = row.list_opt_in.as_deref() == Some(OptIn::Double.as_klaviyo());
        let window = if double { CONFIRMATION_WINDOW } else { self.settings.verify_timeout };
        now < sent + ms(window)
    }

    /// The state of each bulk import job these rows wait on; a job that can't be read stays pending.
    async fn import_jobs(&mut self, work: &[Work]) -> HashMap<String, JobState> {
        let (client, key) = (self.client, self.key);
        let mut by_job: HashMap<String, Vec<i64>> = HashMap::new();
        for w in work {
            if let Some(job) = &w.row.import_job_id {
                by_job.entry(job.clone()).or_default().push(w.row.id);
            }
        }
        let mut states = HashMap::new();
        for (job_id, ids) in by_job {
            let status =
                self.calls.run(Operation::GetBulkImportJob, &ids, || client.bulk_import_job(key, &job_id)).await;
            let state = match status {
                Ok(job) if job.status == BulkJobStatus::Complete && job.failed_count.unwrap_or(0) > 0 => match self
                    .calls
                    .run(Operation::GetBulkImportErrors, &ids, || client.bulk_import_errors(key, &job_id))
                    .await
                {
                    Ok(errors) => JobState::Done {
                        failed: errors.into_iter().filter_map(|e| Some((e.email?.to_lowercase(), e.detail))).collect(),
                    },
                    Err(_) => JobState::Pending,
                },
                Ok(job) if job.status == BulkJobStatus::Complete => JobState::Done { failed: HashMap::new() },
                Ok(job) if job.status == BulkJobStatus::Cancelled => JobState::Lost,
                _ => JobState::Pending,
            };
            states.insert(job_id, state);
        }
        states
    }
}

/// A disabled or banned affiliate's sync takes them out of the list instead of adding them; so does
/// the sync to a list their campaign moved away from, when the merchant chose to remove them there.
fn leaving(row: &ClaimedSync) -> bool {
    row.affiliate_state.is_out() || moving_out(row)
}

fn moving_out(row: &ClaimedSync) -> bool {
    row.retired_at.is_some() && row.leave_list
}

/// What a finished leave says: why they are out of this list.
fn left(row: &ClaimedSync) -> &'static str {
    if moving_out(row) && !row.affiliate_state.is_out() {
        LEFT_OLD_LIST
    } else {
        LEFT_THE_LIST
    }
}

/// Rekomi saw this approved affiliate in the list before (or a check found them changed since), so
/// finding them out of it now is a change made in Klaviyo, not a sync to finish.
fn was_in_list(row: &ClaimedSync) -> bool {
    !leaving(row) && (row.in_list_at.is_some() || row.drift.is_some())
}

const LEFT_THE_LIST: &str =
    "Out of the list, with \"Rekomi affiliate\" set to false. Their email consent is unchanged: it is theirs.";
const LEFT_OLD_LIST: &str =
    "Out of this list: their campaign uses another list now. Their email consent is unchanged: it is theirs.";
const NOT_IN_KLAVIYO: &str = "Not in Klaviyo, so there was nothing to take out of the list.";
const WATCHING: &str = "Out of the list. A subscription sent before the disable may still be applied by Klaviyo (or \
     confirmed by the affiliate); Rekomi keeps checking and takes them out again if it is.";

fn list_gone(list_id: &str) -> String {
    format!("The Klaviyo list {list_id} no longer exists. Choose another list on the Klaviyo page, then retry.")
}

/// The row of a batch that an `invalid` refusal points at, if it names one.
fn invalid_row(error: &KlaviyoError) -> Option<usize> {
    match error {
        KlaviyoError::Invalid { pointer, .. } => plan::bad_row(pointer.as_deref()),
        _ => None,
    }
}

enum JobState {
    Pending,
    /// Cancelled in Klaviyo: the names were not written.
    Lost,
    Done {
        failed: HashMap<String, String>,
    },
}
