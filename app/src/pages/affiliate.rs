//! One affiliate: who they are, their consent, the decisions taken, and their Klaviyo sync with
//! every call made for it. The sync part follows the live feed.

use crate::api::affiliates::{ban_affiliates, decide_applications, erase_affiliate, verify_emails};
use crate::api::sync::{get_affiliate, resync_affiliates, retry_sync};
use crate::api::views::{AffiliateDetail, ApplicationView, DecisionOutcome, SyncLogEntry, SyncView};
use crate::components::live_sync::{use_live_sync, SyncBadge};
use crate::components::state_badge::StateBadge;
use crate::components::toast::use_toasts;
use crate::domain::affiliate::{Decision, MAX_DECISION_NOTE};
use crate::domain::clock::{format_utc, format_utc_seconds};
use crate::domain::AffiliateId;
use crate::domain::AffiliateState;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AffiliatePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<AffiliateId>().ok());
    // Bumped when the feed reports a change to this affiliate's sync, so the log reloads too.
    let version = RwSignal::new(0_u32);
    let detail = Resource::new(
        move || (id(), version.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_affiliate(id).await,
                None => Err(AppError::not_found("affiliate")),
            }
        },
    );
    let earnings = crate::components::affiliate_earnings::earnings_resource(id);
    if let Some(live) = use_live_sync() {
        Effect::new(move |seen: Option<Option<i64>>| {
            let stamp = id().and_then(|id| live.syncs.with(|m| m.get(&id).map(|s| s.updated_at)));
            if seen.is_some_and(|before| before != stamp) {
                version.update(|v| *v += 1);
            }
            stamp
        });
    }
    let retry = Action::new(|id: &AffiliateId| retry_sync(*id));
    Effect::new(move || {
        if retry.value().get().is_some_and(|r| r.is_ok()) {
            version.update(|v| *v += 1);
        }
    });
    let resync = Action::new(|id: &AffiliateId| resync_affiliates(vec![*id]));
    Effect::new(move || {
        if resync.value().get().is_some_and(|r| r.is_ok()) {
            version.update(|v| *v += 1);
        }
    });
    let toasts = use_toasts();
    let decide = Action::new(|(id, decision, note): &(AffiliateId, Decision, String)| {
        decide_applications(vec![*id], *decision, Some(note.clone()))
    });
    Effect::new(move || match decide.value().get() {
        Some(Ok(outcome)) => {
            match (outcome.changed.first(), outcome.skipped.first()) {
                // Klaviyo is mentioned only when a sync was queued (Klaviyo connected, a list chosen).
                (Some(a), _) if a.state == AffiliateState::Disabled => toasts.success(format!(
                    "{} is disabled: their link and code no longer earn{}.",
                    a.full_name,
                    if a.sync.is_some() { ", and they are leaving your Klaviyo list" } else { "" }
                )),
                (Some(a), _) => toasts.success(format!(
                    "{} is enabled again{}.",
                    a.full_name,
                    if a.sync.is_some() {
                        " and is synced to your Klaviyo list again (an opt-out made meanwhile is respected)"
                    } else {
                        ""
                    }
                )),
                (None, Some((_, why))) => toasts.error(format!("Nothing changed: {why}.")),
                (None, None) => {}
            }
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    let ban = Action::new(|(id, reason, address): &(AffiliateId, String, bool)| {
        ban_affiliates(vec![*id], reason.clone(), *address)
    });
    Effect::new(move || match ban.value().get() {
        Some(Ok(outcome)) => {
            match (outcome.changed.first(), outcome.skipped.first()) {
                (Some(a), _) => toasts.success(format!(
                    "{} is banned: their link and code no longer earn and their email can't apply again{}.",
                    a.full_name,
                    if a.sync.is_some() { "; they are leaving your Klaviyo list" } else { "" }
                )),
                (None, Some((_, why))) => toasts.error(format!("Nothing changed: {why}.")),
                (None, None) => {}
            }
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    let verify = Action::new(|id: &AffiliateId| verify_emails(vec![*id]));
    Effect::new(move || match verify.value().get() {
        Some(Ok(outcome)) => {
            match (outcome.changed.first(), outcome.skipped.first()) {
                (Some(a), _) if a.state == AffiliateState::Approved => {
                    toasts.success(format!("{}'s email is confirmed, and the campaign approved them.", a.full_name))
                }
                (Some(a), _) => {
                    toasts.success(format!("{}'s email is confirmed: you can decide on them now.", a.full_name))
                }
                (None, Some((_, why))) => toasts.error(format!("Nothing changed: {why}.")),
                (None, None) => {}
            }
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    let erase = Action::new(|id: &AffiliateId| erase_affiliate(*id));
    Effect::new(move || match erase.value().get() {
        Some(Ok(_)) => {
            toasts.success("Their personal data is erased; the money records stay under a pseudonym.".to_owned());
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    view! {
        <Title text="Affiliate · Rekomi"/>
        <p><a href="/app/queue">"← Approval queue"</a></p>
        <Transition fallback=|| view! { <p class="loading">"Loading affiliate…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <Detail d retry resync decide ban erase verify earnings/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    d: AffiliateDetail,
    retry: Action<AffiliateId, Result<Vec<SyncView>, AppError>>,
    resync: Action<AffiliateId, Result<u64, AppError>>,
    decide: Action<(AffiliateId, Decision, String), Result<DecisionOutcome, AppError>>,
    ban: Action<(AffiliateId, String, bool), Result<DecisionOutcome, AppError>>,
    erase: Action<AffiliateId, Result<ApplicationView, AppError>>,
    verify: Action<AffiliateId, Result<DecisionOutcome, AppError>>,
    earnings: crate::components::affiliate_earnings::EarningsResource,
) -> impl IntoView {
    let a = d.affiliate;
    let unverified = !a.email_verified && a.erased_at.is_none();
    let erased = a.erased_at;
    let id = a.id;
    let consent = match (a.consent_terms_version, a.consent_at) {
        (Some(v), Some(at)) => format!("Accepted terms version {v} on {}", format_utc(at)),
        _ => "No consent recorded: Rekomi will not subscribe this affiliate to email marketing.".to_owned(),
    };
    let can_retry = d.syncs.first().is_some_and(|s| s.state.retryable());
    // A finished sync can still be run again: Klaviyo may have been edited by hand since.
    let can_resync = d.syncs.first().is_some_and(|s| !s.state.retryable() && !s.state.in_progress());
    let reason = d.syncs.first().and_then(|s| s.reason.clone());
    let list = d.syncs.first().map(|s| s.list_id.clone());
    view! {
        <div class="page-head">
            <h1>{a.full_name.clone()}</h1>
            <StateBadge state=a.state/>
        </div>
        <dl class="facts">
            <dt>"Email"</dt><dd>{a.email.clone()}
                {unverified.then(|| view! {
                    " "<span class="badge unverified">"Not confirmed"</span>
                    <span class="muted small">" Nothing about them reaches Klaviyo until they open the link sent as \
                        Rekomi Affiliate Verify Email (sent only while Klaviyo is connected) or you confirm the address. "</span>
                    <button class="secondary" data-testid="confirm-email" disabled=move || verify.pending().get()
                        on:click=move |_| { verify.dispatch(id); }>"Confirm email by hand"</button>
                })}
            </dd>
            <dt>"Campaign"</dt><dd>{a.campaign_name.clone()}</dd>
            <dt>"Referral code"</dt><dd>{a.referral_code.clone().unwrap_or_else(|| {
                if erased.is_some() { "— (erased)" } else { "— (given on approval)" }.into()
            })}</dd>
            <dt>"Applied"</dt><dd>{format_utc(a.applied_at)}" via "{a.source.clone()}</dd>
            <dt>"Consent"</dt><dd>{consent}</dd>
            {a.answers.clone().into_iter().map(|(q, answer)| view! { <dt>{q}</dt><dd>{answer}</dd> }).collect_view()}
        </dl>
        <section class="card">
            <h2>"Klaviyo sync"</h2>
            {if d.syncs.is_empty() && erased.is_some() {
                view! { <p class="muted">"Nothing of theirs is synced any more. Taking back what Rekomi wrote in Klaviyo (out of the list, its properties unset) was queued; while Klaviyo is disconnected it waits, up to 30 days, and goes as soon as Klaviyo is connected again."</p> }.into_any()
            } else if d.syncs.is_empty() {
                view! { <p class="muted">"Not synced: affiliates are added to Klaviyo when approved, once Klaviyo is connected with a list chosen."</p> }.into_any()
            } else {
                view! {
                    <p data-testid="affiliate-sync">
                        <SyncBadge affiliate=id initial=d.syncs.first().cloned()/>
                        {list.map(|l| view! { <span class="muted">" list "<code>{l}</code></span> })}
                    </p>
                    {reason.map(|r| view! { <p class="sync-reason">{r}</p> })}
                    <Show when=move || can_retry>
                        <button disabled=move || retry.pending().get() on:click=move |_| { retry.dispatch(id); }>"Retry now"</button>
                    </Show>
                    <Show when=move || can_resync>
                        <button class="secondary" title="Write the names and properties again and read everything back"
                            disabled=move || resync.pending().get() on:click=move |_| { resync.dispatch(id); }>"Re-sync"</button>
                    </Show>
                    {move || retry.value().get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.message}</p> })}
                    {move || resync.value().get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.message}</p> })}
                }.into_any()
            }}
            <h3>"Sync log"</h3>
            <SyncLog log=d.log/>
        </section>
        <crate::components::affiliate_earnings::EarningsPanel id earnings erased=erased.is_some()/>
        {match erased {
            Some(at) => view! {
                <section class="card" data-testid="erased">
                    <h2>"Personal data erased"</h2>
                    <p class="muted">{format!(
                        "Erased on {}: their name, email, website, message, codes, payout addresses, Klaviyo events, \
                         invites and webhook deliveries naming them are gone from Rekomi; taking back what Rekomi wrote in \
                         Klaviyo (out of the list, its properties unset) was queued, and needs Klaviyo connected. The commissions and payouts stay under \
                         this pseudonym.",
                        format_utc(at)
                    )}</p>
                </section>
            }.into_any(),
            None => view! {
                <Standing id state=a.state in_klaviyo=!d.syncs.is_empty() decide/>
                {(a.state != AffiliateState::Banned).then(|| view! { <Ban id in_klaviyo=!d.syncs.is_empty() ban/> })}
                <Erase id erase/>
            }.into_any(),
        }}
        <section class="card">
            <h2>"History"</h2>
            <ul class="audit">
                {d.audit.into_iter().map(|e| view! {
                    <li>
                        {format_utc(e.at)}" · "{e.action}" by "{e.actor}
                        {e.note.map(|n| view! { <span class="muted">" — “"{n}"”"</span> })}
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// Taking an approved affiliate out of the program (and back), with what it does said up front.
#[component]
fn Standing(
    id: AffiliateId,
    state: AffiliateState,
    /// Rekomi has synced them to Klaviyo, so the list is part of what changes.
    in_klaviyo: bool,
    decide: Action<(AffiliateId, Decision, String), Result<DecisionOutcome, AppError>>,
) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let busy = move || decide.pending().get();
    match state {
        AffiliateState::Approved => view! {
            <section class="card" data-testid="standing">
                <h2>"Disable"</h2>
                <p class="muted">
                    "Disabling pauses this affiliate: their link still takes visitors to your shop but no longer \
                     earns, their coupon stops matching, and pending commissions are held for your review. You can \
                     enable them again at any time."
                    {in_klaviyo.then_some(" In Klaviyo they leave your list and \"Rekomi affiliate\" becomes false; \
                     their email consent is theirs and stays as it is.")}
                </p>
                <label for="standing-note">"Reason (optional)"</label>
                <p class="muted small" id="standing-note-hint">
                    "Kept in the history, and sent with the "<code>"affiliate.disabled"</code>" webhook and the "
                    <code>"Rekomi Affiliate Disabled"</code>" event: don't write what the affiliate shouldn't read."
                </p>
                <textarea id="standing-note" aria-describedby="standing-note-hint" maxlength=MAX_DECISION_NOTE.to_string() rows="2"
                    prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                <div class="actions">
                    <button class="danger" disabled=busy
                        on:click=move |_| { decide.dispatch((id, Decision::Disable, note.get_untracked())); }>
                        "Disable affiliate"
                    </button>
                </div>
            </section>
        }
        .into_any(),
        AffiliateState::Disabled => view! {
            <section class="card" data-testid="standing">
                <h2>"Disabled"</h2>
                <p class="muted">
                    "This affiliate's link and coupon don't earn while disabled. Enabling them releases the \
                     commissions held when they were disabled."
                    {in_klaviyo.then_some(" They rejoin your Klaviyo list with the consent they have there: \
                     if they unsubscribed meanwhile, they stay unsubscribed.")}
                </p>
                <div class="actions">
                    <button disabled=busy on:click=move |_| { decide.dispatch((id, Decision::Enable, String::new())); }>
                        "Enable affiliate"
                    </button>
                </div>
            </section>
        }
        .into_any(),
        AffiliateState::Banned => view! {
            <section class="card" data-testid="standing">
                <h2>"Banned"</h2>
                <p class="muted">
                    "This affiliate's link and coupon don't earn, and their email can't apply again. Lifting the ban \
                     puts them back where they were: an affiliate in the program is enabled (the commissions held \
                     when they were banned are released), an applicant returns to the queue."
                </p>
                <div class="actions">
                    <button disabled=busy on:click=move |_| { decide.dispatch((id, Decision::Enable, String::new())); }>
                        "Lift the ban"
                    </button>
                </div>
            </section>
        }
        .into_any(),
        _ => ().into_any(),
    }
}

/// Banning: out for good, with a reason, and no new application from their email (or address).
#[component]
fn Ban(
    id: AffiliateId,
    in_klaviyo: bool,
    ban: Action<(AffiliateId, String, bool), Result<DecisionOutcome, AppError>>,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let address = RwSignal::new(false);
    let busy = move || ban.pending().get();
    view! {
        <section class="card" data-testid="ban">
            <h2>"Ban"</h2>
            <p class="muted">
                "For fraud or abuse: everything disabling does, and their email can't apply to your programs again. \
                 A ban can be lifted later."
                {in_klaviyo.then_some(" In Klaviyo they leave your list and \"Rekomi status\" becomes banned; their \
                 consent stays as it is.")}
            </p>
            <label for="ban-reason">"Reason (required)"</label>
            <p class="muted small" id="ban-reason-hint">
                "Kept in the history and sent with the "<code>"affiliate.banned"</code>" webhook; not sent to Klaviyo."
            </p>
            <textarea id="ban-reason" aria-describedby="ban-reason-hint" maxlength=MAX_DECISION_NOTE.to_string() rows="2"
                prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            <label class="inline">
                <input type="checkbox" prop:checked=move || address.get()
                    on:change=move |ev| address.set(event_target_checked(&ev))/>
                " Also refuse applications from the address they applied from"
            </label>
            <div class="actions">
                <button class="danger" disabled=move || busy() || reason.read().trim().is_empty()
                    on:click=move |_| { ban.dispatch((id, reason.get_untracked(), address.get_untracked())); }>
                    "Ban affiliate"
                </button>
            </div>
        </section>
    }
}

/// A person's data-protection request: irreversible, so it asks for a confirmation first.
#[component]
fn Erase(id: AffiliateId, erase: Action<AffiliateId, Result<ApplicationView, AppError>>) -> impl IntoView {
    let sure = RwSignal::new(false);
    view! {
        <section class="card" data-testid="erase">
            <h2>"Erase personal data"</h2>
            <p class="muted">
                "For a data-protection request: removes their name, email, website, message, referral and coupon \
                 codes, payout addresses, Klaviyo events, invites, portal links and the webhook deliveries naming them, \
                 and takes back what Rekomi wrote in Klaviyo (out of the list, its properties unset; their consent and \
                 the rest of their profile are theirs and Klaviyo's). Commissions and payouts stay, under a pseudonym. \
                 This can't be undone."
            </p>
            <label class="inline">
                <input type="checkbox" prop:checked=move || sure.get() on:change=move |ev| sure.set(event_target_checked(&ev))/>
                " I understand this can't be undone"
            </label>
            <div class="actions">
                <button class="danger" disabled=move || !sure.get() || erase.pending().get()
                    on:click=move |_| { erase.dispatch(id); }>"Erase personal data"</button>
            </div>
        </section>
    }
}

#[component]
fn SyncLog(log: Vec<SyncLogEntry>) -> impl IntoView {
    if log.is_empty() {
        return view! { <p class="muted">"No Klaviyo calls yet."</p> }.into_any();
    }
    view! {
        <table tabindex="0" class="grid sync-log" data-testid="sync-log">
            <thead><tr><th>"Time"</th><th>"Call"</th><th>"Status"</th><th>"Batch"</th><th>"Error"</th></tr></thead>
            <tbody>
                {log.into_iter().map(|e| {
                    let failed = e.error.is_some();
                    view! {
                    <tr class:error=failed>
                        <td>{format_utc_seconds(e.at)}</td>
                        <td><code>{e.endpoint}</code></td>
                        <td>{e.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string())}</td>
                        <td>{e.batch_size}</td>
                        <td>{match (e.error_code, e.error) {
                            (Some(code), Some(msg)) => format!("{code}: {msg}"),
                            (_, msg) => msg.unwrap_or_default(),
                        }}</td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
