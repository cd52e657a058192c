//! A campaign's application questions and the answers given to them.

use super::{Db, DbResult, Tx};
use shared::domain::questions::{NewQuestion, Question, QuestionKind};
use shared::domain::{AffiliateId, CampaignId, MerchantId};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    label: String,
    choices: String,
    required: bool,
}

const CURRENT: &str = "SELECT id, kind, label, choices, required FROM campaign_questions
     WHERE campaign_id = $1 AND retired_at IS NULL ORDER BY position, id";

fn question(r: Row) -> Option<Question> {
    Some(Question {
        id: r.id,
        kind: QuestionKind::parse(&r.kind)?,
        label: r.label,
        choices: r.choices.lines().map(str::to_owned).collect(),
        required: r.required,
    })
}

/// The questions the campaign asks now, in order.
pub async fn current(db: &Db, campaign: CampaignId) -> DbResult<Vec<Question>> {
    let rows: Vec<Row> = db.query_as(CURRENT).bind(campaign).fetch_all().await?;
    Ok(rows.into_iter().filter_map(question).collect())
}

/// [`current`], in the caller's transaction.
pub async fn current_in(tx: &mut Tx, campaign: CampaignId) -> DbResult<Vec<Question>> {
    let rows: Vec<Row> = tx.query_as(CURRENT).bind(campaign).fetch_all().await?;
    Ok(rows.into_iter().filter_map(question).collect())
}

/// Makes `questions` the campaign's questions, in their order. One kept (its id given) is updated in
/// place, so its answers stay attached; one left out is retired, never deleted, so the answers
/// given to it keep their wording.
pub async fn replace(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: CampaignId,
    questions: &[NewQuestion],
    now: i64,
) -> DbResult<()> {
    // Ids are integers from the caller's parsed form, so inlining them is safe.
    let kept: Vec<String> = questions.iter().filter_map(|q| q.id).map(|id| id.to_string()).collect();
    let keep = if kept.is_empty() { String::new() } else { format!(" AND id NOT IN ({})", kept.join(",")) };
    tx.query(&format!(
        "UPDATE campaign_questions SET retired_at = $3
         WHERE campaign_id = $1 AND merchant_id = $2 AND retired_at IS NULL{keep}"
    ))
    .bind(campaign)
    .bind(merchant)
    .bind(now)
    .execute()
    .await?;
    for (position, q) in questions.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let choices = q.choices.join("\n");
        let updated = match q.id {
            Some(id) => {
                tx.query(
                    "UPDATE campaign_questions SET position = $4, kind = $5, label = $6, choices = $7, required = $8
                     WHERE id = $1 AND campaign_id = $2 AND merchant_id = $3 AND retired_at IS NULL",
                )
                .bind(id)
                .bind(campaign)
                .bind(merchant)
                .bind(position)
                .bind(q.kind.as_str())
                .bind(q.label.as_str())
                .bind(choices.as_str())
                .bind(q.required)
                .execute()
                .await?
            }
            None => 0,
        };
        // A new question, or an id that isn't this campaign's: asked as a new one.
        if updated == 0 {
            tx.query(
                "INSERT INTO campaign_questions (merchant_id, campaign_id, position, kind, label, choices, required, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(merchant)
            .bind(campaign)
            .bind(position)
            .bind(q.kind.as_str())
            .bind(q.label.as_str())
            .bind(choices.as_str())
            .bind(q.required)
            .bind(now)
            .execute()
            .await?;
        }
    }
    Ok(())
}

/// Keeps an applicant's answers (question id, answer).
pub async fn save_answers(tx: &mut Tx, affiliate: AffiliateId, answers: &[(i64, String)]) -> DbResult<()> {
    for (question, answer) in answers {
        tx.query(
            "INSERT INTO application_answers (affiliate_id, question_id, answer) VALUES ($1, $2, $3)
             ON CONFLICT (affiliate_id, question_id) DO UPDATE SET answer = excluded.answer",
        )
        .bind(affiliate)
        .bind(*question)
        .bind(answer.as_str())
        .execute()
        .await?;
    }
    Ok(())
}

/// The answers of the merchant's affiliates among `ids`: (affiliate, question as asked, answer),
/// in the order the questions are asked.
pub async fn answers_of(
    db: &Db,
    merchant: MerchantId,
    ids: &[AffiliateId],
) -> DbResult<Vec<(AffiliateId, String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are integers, so inlining them is safe.
    let list = ids.iter().map(|id| id.0.to_string()).collect::<Vec<_>>().join(",");
    db.query_as(&format!(
        "SELECT a.affiliate_id, q.label, a.answer FROM application_answers a
             JOIN campaign_questions q ON q.id = a.question_id
         WHERE q.merchant_id = $1 AND a.affiliate_id IN ({list})
         ORDER BY a.affiliate_id, q.position, q.id"
    ))
    .bind(merchant)
    .fetch_all()
    .await
}

/// An erased affiliate's answers go with the rest of their personal data.
pub async fn erase_answers(tx: &mut Tx, affiliate: AffiliateId) -> DbResult<()> {
    tx.query("DELETE FROM application_answers WHERE affiliate_id = $1").bind(affiliate).execute().await.map(drop)
}

/// Every answer given in the merchant's campaigns: (affiliate, question as asked, answer).
pub async fn all_answers(db: &Db, merchant: MerchantId) -> DbResult<Vec<(AffiliateId, String, String)>> {
    db.query_as(
        "SELECT a.affiliate_id, q.label, a.answer FROM application_answers a
             JOIN campaign_questions q ON q.id = a.question_id
         WHERE q.merchant_id = $1 ORDER BY a.affiliate_id, q.position, q.id",
    )
    .bind(merchant)
    .fetch_all()
    .await
}
