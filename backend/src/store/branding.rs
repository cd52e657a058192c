//! A campaign's landing-page look: its colour and the images in its slots.

use super::{Db, DbResult, Tx};
use shared::domain::branding::ImageSlot;
use shared::domain::{CampaignId, MerchantId};

/// The column holding a slot's image. From the enum only, so it is safe to put into SQL.
fn column(slot: ImageSlot) -> &'static str {
    match slot {
        ImageSlot::Logo => "logo_image_id",
        ImageSlot::Hero => "hero_image_id",
    }
}

/// An image to store, already checked.
pub struct NewImage<'a> {
    pub sha256: &'a str,
    pub format: &'a str,
    pub width: i64,
    pub height: i64,
    pub bytes: &'a [u8],
}

/// Stores the image once per merchant (the same bytes uploaded again reuse the row); its id.
pub async fn put_image(tx: &mut Tx, merchant: MerchantId, image: &NewImage<'_>, now: i64) -> DbResult<i64> {
    let size = i64::try_from(image.bytes.len()).unwrap_or(i64::MAX);
    tx.query_scalar(
        "INSERT INTO brand_images (merchant_id, sha256, format, width, height, size, bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (merchant_id, sha256) DO UPDATE SET created_at = brand_images.created_at
         RETURNING id",
    )
    .bind(merchant)
    .bind(image.sha256)
    .bind(image.format)
    .bind(image.width)
    .bind(image.height)
    .bind(size)
    .bind(image.bytes)
    .bind(now)
    .fetch_one()
    .await
}

/// The image in the merchant's campaign's slot, the row locked for the rest of the transaction.
/// `None`: no such campaign for this merchant.
pub async fn lock_slot(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: CampaignId,
    slot: ImageSlot,
) -> DbResult<Option<Option<i64>>> {
    let sql =
        format!("SELECT {} FROM campaigns WHERE merchant_id = $1 AND id = $2{}", column(slot), tx.kind().for_update());
    let row: Option<(Option<i64>,)> = tx.query_as(&sql).bind(merchant).bind(campaign).fetch_optional().await?;
    Ok(row.map(|(id,)| id))
}

pub async fn set_slot(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: CampaignId,
    slot: ImageSlot,
    image: Option<i64>,
    now: i64,
) -> DbResult<()> {
    let sql = format!("UPDATE campaigns SET {} = $3, updated_at = $4 WHERE merchant_id = $1 AND id = $2", column(slot));
    tx.query(&sql).bind(merchant).bind(campaign).bind(image).bind(now).execute().await?;
    Ok(())
}

/// Deletes the merchant's image when no campaign shows it any more, so nothing unused stays
/// reachable at its public address.
pub async fn drop_if_unused(tx: &mut Tx, merchant: MerchantId, image: i64) -> DbResult<()> {
    tx.query(
        "DELETE FROM brand_images WHERE id = $1 AND merchant_id = $2
           AND NOT EXISTS (SELECT 1 FROM campaigns WHERE logo_image_id = $1 OR hero_image_id = $1)",
    )
    .bind(image)
    .bind(merchant)
    .execute()
    .await?;
    Ok(())
}

/// Sets (or clears) the campaign's colour; false when there is no such campaign for this merchant.
pub async fn set_color(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: CampaignId,
    color: Option<&str>,
    now: i64,
) -> DbResult<bool> {
    let done = tx
        .query("UPDATE campaigns SET brand_color = $3, updated_at = $4 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant)
        .bind(campaign)
        .bind(color)
        .bind(now)
        .execute()
        .await?;
    Ok(done > 0)
}

/// An image's format and bytes by its public name.
pub async fn image(db: &Db, sha256: &str) -> DbResult<Option<(String, Vec<u8>)>> {
    db.query_as("SELECT format, bytes FROM brand_images WHERE sha256 = $1 LIMIT 1").bind(sha256).fetch_optional().await
}
