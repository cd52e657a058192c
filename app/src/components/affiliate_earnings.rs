//! An affiliate's tracking link, coupon and rate override, results and commissions, and a sign-in
//! link to their portal, on their page in the merchant app.

use crate::api::earnings::{load_affiliate_earnings, portal_link, set_affiliate_terms};
use crate::api::views::{AffiliateEarnings, AffiliateTermsForm};
use crate::components::form::FieldError;
use crate::domain::AffiliateId;
use crate::error::AppError;
use leptos::prelude::*;

/// The earnings of the affiliate the page shows. Created by the page itself, not by the panel: the
/// panel renders inside the page's Suspend, and a resource created there is built again (and the
/// first one dropped, possibly unresolved) each time that closure re-runs.
pub fn earnings_resource(id: impl Fn() -> Option<AffiliateId> + Send + Sync + 'static) -> EarningsResource {
    Resource::new(id, |id| async move {
        match id {
            Some(id) => load_affiliate_earnings(id).await,
            None => Err(AppError::not_found("affiliate")),
        }
    })
}

pub type EarningsResource = Resource<Result<AffiliateEarnings, AppError>>;

#[component]
pub fn EarningsPanel(
    id: AffiliateId,
    earnings: EarningsResource,
    /// The person's data was erased: the money stays, nothing is edited or sent any more.
    #[prop(optional)]
    erased: bool,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading earnings…"</p> }>
            {move || Suspend::new(async move {
                match earnings.await {
                    Ok(e) => view! { <Panel id e erased/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Panel(id: AffiliateId, e: AffiliateEarnings, erased: bool) -> impl IntoView {
    let current = RwSignal::new(e);
    let coupon = RwSignal::new(current.get_untracked().coupon_code);
    let rate = RwSignal::new(current.get_untracked().rate_override);
    let save = Action::new(move |form: &AffiliateTermsForm| set_affiliate_terms(id, form.clone()));
    Effect::new(move || {
        if let Some(Ok(updated)) = save.value().get() {
            current.set(updated);
        }
    });
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let link = Action::new(move |_: &()| portal_link(id));
    view! {
        <section class="card" data-testid="affiliate-earnings">
            <h2>"Tracking and earnings"</h2>
            {move || current.with(|e| view! {
                <dl class="facts">
                    <dt>"Tracking link"</dt><dd>{e.link.clone().unwrap_or_else(|| {
                        if erased { "— (erased)" } else { "— (given on approval)" }.to_owned()
                    })}</dd>
                    <dt>"Clicks"</dt><dd>{e.clicks}</dd>
                    <dt>"Conversions"</dt><dd>{e.conversions}</dd>
                    <dt>"Pending"</dt><dd>{e.earnings.pending.clone()}</dd>
                    <dt>"Approved"</dt><dd>{e.earnings.approved.clone()}</dd>
                    <dt>"Paid"</dt><dd>{e.earnings.paid.clone()}</dd>
                    <dt>"Held"</dt><dd>{e.earnings.held.clone()}</dd>
                </dl>
            })}
            <Show when=move || !erased>
            <form on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch(AffiliateTermsForm { coupon_code: coupon.get_untracked(), rate_override: rate.get_untracked() });
            }>
                <label for="coupon_code">"Coupon code (orders using it earn for this affiliate)"</label>
                <input id="coupon_code" bind:value=coupon/>
                <FieldError error field="coupon_code"/>
                <label for="rate_override">{move || current.with(|e| if e.percent_campaign {
                    format!("Own rate in % (campaign: {}; blank uses it)", e.campaign_rule)
                } else {
                    format!("Own amount per order (campaign: {}; blank uses it)", e.campaign_rule)
                })}</label>
                <input id="rate_override" inputmode="decimal" bind:value=rate/>
                <FieldError error field="rate_override"/>
                <button type="submit" disabled=move || save.pending().get()>"Save"</button>
                <Show when=move || save.value().get().is_some_and(|r| r.is_ok())><span class="saved" role="status">"Saved."</span></Show>
            </form>
            <h3>"Portal"</h3>
            <button class="secondary" on:click=move |_| { link.dispatch(()); }>"Get a portal sign-in link"</button>
            {move || link.value().get().map(|r| match r {
                Ok((url, emailed)) => view! {
                    <div role="status">
                        <input readonly class="code" value=url data-testid="portal-link" aria-label="Portal sign-in link"/>
                        <p class="muted">{if emailed {
                            "Works once, for 15 minutes. Also sent to Klaviyo as the Rekomi Affiliate Login Link event: a flow on it emails the affiliate."
                        } else {
                            "Works once, for 15 minutes. Klaviyo is not connected, so nothing was emailed: send it yourself."
                        }}</p>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="field-error" role="alert">{e.message}</p> }.into_any(),
            })}
            </Show>
            <h3>"Commissions"</h3>
            {move || current.with(|e| if e.commissions.is_empty() {
                view! { <p class="muted">"No commissions yet."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0">
                        <thead><tr><th>"Order"</th><th>"Date"</th><th>"Amount"</th><th>"Rule"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {e.commissions.iter().cloned().map(|c| view! {
                                <tr>
                                    <td>{c.order}</td>
                                    <td>{c.date}</td>
                                    <td>{c.amount}</td>
                                    <td>{c.rule}</td>
                                    <td>{c.state_label}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
        </section>
    }
}
