//! Campaigns of a merchant: create, edit, list.

use crate::store::campaigns::{self as store, CampaignRow};
use crate::store::{now_ms, Db};
use anyhow::Context;
use shared::domain::campaign::CommissionRule;
use shared::domain::questions::{QuestionForm, MAX_QUESTIONS};
use shared::domain::{CampaignForm, CampaignId, Currency, FieldErrors, MerchantId, Money, Rate};
use shared::error::AppError;
use shared::views::CampaignView;

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("invalid campaign")]
    Invalid(FieldErrors),
    #[error("slug in use")]
    SlugTaken,
    #[error("campaign not found")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<CampaignError> for AppError {
    fn from(value: CampaignError) -> Self {
        match value {
            CampaignError::Invalid(fields) => AppError::invalid(fields),
            CampaignError::SlugTaken => {
                AppError::field("slug", "Another of your campaigns uses this web address name; pick another.")
            }
            CampaignError::NotFound => AppError::not_found("campaign"),
            CampaignError::Internal(e) => super::internal(&e),
        }
    }
}

fn slug_taken(e: &crate::store::DbError) -> bool {
    e.is_conflict_on("campaigns_slug_key", "campaigns.slug")
}

#[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
pub async fn list(db: &Db, merchant: MerchantId) -> Result<Vec<CampaignView>, CampaignError> {
    let rows = store::list(db, merchant).await.map_err(anyhow::Error::from)?;
    Ok(rows.iter().map(view).collect::<anyhow::Result<_>>()?)
}

#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %id))]
pub async fn get(db: &Db, merchant: MerchantId, id: CampaignId) -> Result<CampaignView, CampaignError> {
    let row = store::get(db, merchant, id).await.map_err(anyhow::Error::from)?.ok_or(CampaignError::NotFound)?;
    Ok(view(&row)?)
}

#[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
pub async fn create(db: &Db, merchant: MerchantId, form: &CampaignForm) -> Result<CampaignView, CampaignError> {
    let draft = form.parse().map_err(CampaignError::Invalid)?;
    let mut tx = db.begin().await.context("creating the campaign")?;
    let id = match store::insert(&mut tx, merchant, &draft, now_ms()).await {
        Ok(id) => id,
        Err(e) if slug_taken(&e) => return Err(CampaignError::SlugTaken),
        Err(e) => return Err(anyhow::Error::from(e).context("inserting the campaign").into()),
    };
    tx.commit().await.context("creating the campaign")?;
    get(db, merchant, id).await
}

/// Saves an edit; a change to the terms text starts a new terms version (see [`terms_version_after`]).
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %id))]
pub async fn update(
    db: &Db,
    merchant: MerchantId,
    id: CampaignId,
    form: &CampaignForm,
) -> Result<CampaignView, CampaignError> {
    let draft = form.parse().map_err(CampaignError::Invalid)?;
    let before = get(db, merchant, id).await?;
    // What the campaign writes on its affiliates' Klaviyo profiles (`Rekomi campaign`, `Rekomi
    // commission`, whether a tracked link is written): only a change there re-sends their syncs.
    let on_profiles_changed = before.name != draft.name
        || before.commission != draft.commission
        || before.destination_url.is_some() != draft.destination_url.is_some();
    let mut tx = db.begin().await.context("updating the campaign")?;
    let (terms, version) = store::lock_terms(&mut tx, merchant, id)
        .await
        .context("reading the campaign")?
        .ok_or(CampaignError::NotFound)?;
    let version = terms_version_after(&terms, version, &draft.terms);
    let now = now_ms();
    match store::update(&mut tx, merchant, id, &draft, version, now).await {
        Ok(true) if on_profiles_changed => {
            crate::outbox::refresh_campaign(&mut tx, merchant, id, now).await.context("queueing the syncs")?;
        }
        Ok(true) => {}
        Ok(false) => return Err(CampaignError::NotFound),
        Err(e) if slug_taken(&e) => return Err(CampaignError::SlugTaken),
        Err(e) => return Err(anyhow::Error::from(e).context("updating the campaign").into()),
    }
    tx.commit().await.context("updating the campaign")?;
    get(db, merchant, id).await
}

/// The terms version after an edit: new terms text starts the next version, so consent given to
/// the old text is not taken for consent to the new one; any other edit keeps it.
fn terms_version_after(stored_terms: &str, stored_version: i64, new_terms: &str) -> i64 {
    if stored_terms == new_terms {
        stored_version
    } else {
        stored_version + 1
    }
}

/// The commission rule stored in a row; the CHECK constraints make a bad row a bug, reported as one.
pub fn commission(row: &CampaignRow) -> anyhow::Result<CommissionRule> {
    let currency = Currency::parse(&row.currency)
        .with_context(|| format!("campaign {} has currency {:?}", row.id, row.currency))?;
    match (row.commission_kind.as_str(), row.commission_bps, row.commission_minor) {
        ("percent", Some(bps), _) => {
            let bps = u32::try_from(bps).context("commission_bps out of range")?;
            Ok(CommissionRule::Percent(Rate::from_basis_points(bps).context("commission_bps out of range")?))
        }
        ("flat", _, Some(minor)) => Ok(CommissionRule::Flat(Money::new(minor, currency))),
        other => anyhow::bail!("campaign {} has an inconsistent commission {other:?}", row.id),
    }
}

pub fn landing_path(merchant_slug: &str, campaign_slug: &str) -> String {
    format!("/join/{merchant_slug}/{campaign_slug}")
}

fn view(row: &CampaignRow) -> anyhow::Result<CampaignView> {
    Ok(CampaignView {
        id: row.id,
        name: row.name.clone(),
        slug: row.slug.clone(),
        pitch: row.pitch.clone(),
        terms: row.terms.clone(),
        terms_version: row.terms_version,
        commission: commission(row)?,
        currency: row.currency.clone(),
        cookie_days: u16::try_from(row.cookie_days).context("cookie_days out of range")?,
        attribution: shared::domain::tracking::Attribution::parse(&row.attribution).unwrap_or_default(),
        hold_days: u16::try_from(row.hold_days).context("hold_days out of range")?,
        min_payout_minor: row.min_payout_minor,
        destination_url: row.destination_url.clone(),
        auto_approve: row.auto_approve,
        accepting: row.accepting,
        landing_path: landing_path(&row.merchant_slug, &row.slug),
        pending: row.pending,
        approved: row.approved,
        klaviyo_list: match (&row.klaviyo_list_id, &row.klaviyo_list_name) {
            (Some(id), Some(name)) => Some(shared::views::ChosenList {
                id: id.clone(),
                name: name.clone(),
                opt_in: row
                    .klaviyo_list_opt_in
                    .as_deref()
                    .and_then(shared::domain::klaviyo::OptIn::from_klaviyo)
                    .unwrap_or(shared::domain::klaviyo::OptIn::Double),
                missing: row.klaviyo_list_missing,
            }),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::terms_version_after;

    #[test]
    fn only_new_terms_text_starts_a_terms_version() {
        assert_eq!(terms_version_after("Be kind.", 3, "Be kind."), 3);
        assert_eq!(terms_version_after("Be kind.", 3, "Be kind, and disclose."), 4);
    }
}

/// The campaign's application questions, as the editor shows them.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %id))]
pub async fn questions(db: &Db, merchant: MerchantId, id: CampaignId) -> Result<Vec<QuestionForm>, CampaignError> {
    get(db, merchant, id).await?;
    let asked = crate::store::questions::current(db, id).await.context("loading the questions")?;
    Ok(asked
        .into_iter()
        .map(|q| QuestionForm {
            id: Some(q.id),
            kind: q.kind.as_str().to_owned(),
            label: q.label,
            choices: q.choices.join("\n"),
            required: q.required,
        })
        .collect())
}

/// Saves the campaign's questions in the order given; each mistake is reported on its question
/// (`questions.{n}`), and nothing is saved until all of them are right.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %id))]
pub async fn save_questions(
    db: &Db,
    merchant: MerchantId,
    id: CampaignId,
    forms: &[QuestionForm],
) -> Result<Vec<QuestionForm>, CampaignError> {
    let mut errors = FieldErrors::new();
    if forms.len() > MAX_QUESTIONS {
        errors.add("questions", format!("Ask at most {MAX_QUESTIONS} questions."));
        return Err(CampaignError::Invalid(errors));
    }
    let mut parsed = Vec::with_capacity(forms.len());
    for (n, form) in forms.iter().enumerate() {
        if let Some(q) = errors.check(&format!("questions.{n}"), form.parse()) {
            parsed.push(q);
        }
    }
    if !errors.is_empty() {
        return Err(CampaignError::Invalid(errors));
    }
    get(db, merchant, id).await?;
    let mut tx = db.begin().await.context("saving the questions")?;
    crate::store::questions::replace(&mut tx, merchant, id, &parsed, now_ms()).await.context("saving the questions")?;
    tx.commit().await.context("saving the questions")?;
    questions(db, merchant, id).await
}
