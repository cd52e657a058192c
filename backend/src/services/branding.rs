//! A campaign's landing-page look: brand colour, logo and hero image. Images are checked by their
//! own bytes (format, size in bytes and pixels), stored in the database so every instance serves
//! them, named by their SHA-256 so browsers keep them for ever, and deleted once unused.

use crate::store::branding::{self as store, NewImage};
use crate::store::campaigns as campaign_store;
use crate::store::{now_ms, Db};
use anyhow::Context;
use sha2::{Digest, Sha256};
use shared::domain::branding::{check_image, BrandColor, Branding, ImageFormat, ImageSlot};
use shared::domain::{CampaignId, MerchantId};
use shared::error::AppError;

#[derive(Debug, thiserror::Error)]
pub enum BrandingError {
    /// The colour or the file can't be used; the message says why and what to do.
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("campaign not found")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<BrandingError> for AppError {
    fn from(value: BrandingError) -> Self {
        match value {
            BrandingError::Invalid(field, message) => AppError::field(field, message),
            BrandingError::NotFound => AppError::not_found("campaign"),
            BrandingError::Internal(e) => super::internal(&e),
        }
    }
}

pub async fn get(db: &Db, merchant: MerchantId, campaign: CampaignId) -> Result<Branding, BrandingError> {
    let row = campaign_store::get(db, merchant, campaign)
        .await
        .context("reading the campaign")?
        .ok_or(BrandingError::NotFound)?;
    Ok(row.branding())
}

/// Sets the colour; an empty value goes back to Rekomi's own.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %campaign))]
pub async fn set_color(
    db: &Db,
    merchant: MerchantId,
    campaign: CampaignId,
    raw: &str,
) -> Result<Branding, BrandingError> {
    let color = match raw.trim() {
        "" => None,
        raw => Some(BrandColor::parse(raw).map_err(|m| BrandingError::Invalid("color", m))?),
    };
    let hex = color.map(BrandColor::hex);
    let mut tx = db.begin().await.context("saving the colour")?;
    if !store::set_color(&mut tx, merchant, campaign, hex.as_deref(), now_ms()).await.context("saving the colour")? {
        return Err(BrandingError::NotFound);
    }
    tx.commit().await.context("saving the colour")?;
    get(db, merchant, campaign).await
}

/// Puts `bytes` in the campaign's `slot`, replacing (and, if no other campaign shows it, deleting)
/// the image there.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %campaign, slot = slot.as_str(), bytes = bytes.len()))]
pub async fn upload(
    db: &Db,
    merchant: MerchantId,
    campaign: CampaignId,
    slot: ImageSlot,
    bytes: &[u8],
) -> Result<Branding, BrandingError> {
    let checked = check_image(slot, bytes, |b| {
        let size = imagesize::blob_size(b).ok()?;
        Some((u32::try_from(size.width).ok()?, u32::try_from(size.height).ok()?))
    })
    .map_err(|m| BrandingError::Invalid(slot.as_str(), m))?;
    let sha256 = hex::encode(Sha256::digest(bytes));
    let image = NewImage {
        sha256: &sha256,
        format: checked.format.as_str(),
        width: i64::from(checked.width),
        height: i64::from(checked.height),
        bytes,
    };
    let now = now_ms();
    let mut tx = db.begin().await.context("storing the image")?;
    let before = store::lock_slot(&mut tx, merchant, campaign, slot)
        .await
        .context("reading the campaign")?
        .ok_or(BrandingError::NotFound)?;
    let id = store::put_image(&mut tx, merchant, &image, now).await.context("storing the image")?;
    store::set_slot(&mut tx, merchant, campaign, slot, Some(id), now).await.context("storing the image")?;
    if let Some(old) = before.filter(|old| *old != id) {
        store::drop_if_unused(&mut tx, merchant, old).await.context("deleting the replaced image")?;
    }
    tx.commit().await.context("storing the image")?;
    get(db, merchant, campaign).await
}

/// Empties the campaign's `slot`.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %campaign, slot = slot.as_str()))]
pub async fn remove(
    db: &Db,
    merchant: MerchantId,
    campaign: CampaignId,
    slot: ImageSlot,
) -> Result<Branding, BrandingError> {
    let mut tx = db.begin().await.context("removing the image")?;
    let before = store::lock_slot(&mut tx, merchant, campaign, slot)
        .await
        .context("reading the campaign")?
        .ok_or(BrandingError::NotFound)?;
    if let Some(old) = before {
        store::set_slot(&mut tx, merchant, campaign, slot, None, now_ms()).await.context("removing the image")?;
        store::drop_if_unused(&mut tx, merchant, old).await.context("deleting the image")?;
    }
    tx.commit().await.context("removing the image")?;
    get(db, merchant, campaign).await
}

/// An image by its public file name (`{sha256}.{extension}`): its format and bytes, if it exists.
pub async fn image(db: &Db, name: &str) -> anyhow::Result<Option<(ImageFormat, Vec<u8>)>> {
    let Some((sha256, extension)) = name.split_once('.') else { return Ok(None) };
    let well_formed = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let Some(wanted) = ImageFormat::from_extension(extension).filter(|_| well_formed) else { return Ok(None) };
    let found = store::image(db, sha256).await.context("reading an image")?;
    Ok(found.and_then(|(format, bytes)| (ImageFormat::parse(&format) == Some(wanted)).then_some((wanted, bytes))))
}
