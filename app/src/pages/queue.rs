//! The approval queue: filter, search, select, approve or reject one or many.

use crate::api::affiliates::{approval_queue, ban_affiliates, decide_applications, verify_emails};
use crate::api::campaigns::list_campaigns;
use crate::api::sync::resync_affiliates;
use crate::api::views::{ApplicationView, DecisionOutcome, QueueFilter, QueuePage};
use crate::components::live_sync::SyncBadge;
use crate::components::state_badge::StateBadge;
use crate::components::sync_panel::SyncPanel;
use crate::domain::affiliate::Decision;
use crate::domain::clock::format_utc;
use crate::domain::{AffiliateId, AffiliateState, CampaignId};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::BTreeSet;

#[component]
pub fn ApprovalQueue() -> impl IntoView {
    // The health panel links here with `?drift=1`: the approved affiliates changed in Klaviyo.
    let query = leptos_router::hooks::use_query_map();
    let linked = move || query.with(|q| q.get("drift").is_some_and(|v| v == "1"));
    let from_drift_link = query.with_untracked(|q| q.get("drift").is_some_and(|v| v == "1"));
    let drift = RwSignal::new(from_drift_link);
    let state = RwSignal::new(Some(if from_drift_link { AffiliateState::Approved } else { AffiliateState::Pending }));
    let campaign = RwSignal::new(None::<CampaignId>);
    let search = RwSignal::new(String::new());
    let page = RwSignal::new(0_u32);
    let selected = RwSignal::new(BTreeSet::<AffiliateId>::new());
    // Bumped after each decision so the list refetches in place.
    let version = RwSignal::new(0_u32);

    let filter = move || QueueFilter {
        state: state.get(),
        campaign: campaign.get(),
        search: search.get(),
        drift: drift.get(),
        page: page.get(),
    };
    let queue = Resource::new(move || (filter(), version.get()), |(filter, _)| approval_queue(filter));
    let campaigns = Resource::new(|| (), |_| list_campaigns());

    let decide =
        Action::new(|(ids, decision): &(Vec<AffiliateId>, Decision)| decide_applications(ids.clone(), *decision, None));
    Effect::new(move || {
        if decide.value().get().is_some() {
            selected.set(BTreeSet::new());
            version.update(|v| *v += 1);
        }
    });
    let verify = Action::new(|ids: &Vec<AffiliateId>| verify_emails(ids.clone()));
    Effect::new(move || {
        if verify.value().get().is_some() {
            selected.set(BTreeSet::new());
            version.update(|v| *v += 1);
        }
    });
    let verify_selected = move || {
        let ids: Vec<AffiliateId> = selected.get_untracked().into_iter().collect();
        if !ids.is_empty() {
            verify.dispatch(ids);
        }
    };
    let resync = Action::new(|ids: &Vec<AffiliateId>| resync_affiliates(ids.clone()));
    Effect::new(move || {
        if resync.value().get().is_some() {
            selected.set(BTreeSet::new());
            version.update(|v| *v += 1);
        }
    });
    let resync_selected = move || {
        let ids: Vec<AffiliateId> = selected.get_untracked().into_iter().collect();
        if !ids.is_empty() {
            resync.dispatch(ids);
        }
    };
    let decide_selected = move |decision: Decision| {
        let ids: Vec<AffiliateId> = selected.get_untracked().into_iter().collect();
        if !ids.is_empty() {
            decide.dispatch((ids, decision));
        }
    };
    let ban_reason = RwSignal::new(String::new());
    let ban =
        Action::new(|(ids, reason): &(Vec<AffiliateId>, String)| ban_affiliates(ids.clone(), reason.clone(), false));
    Effect::new(move || {
        if ban.value().get().is_some_and(|r| r.is_ok()) {
            selected.set(BTreeSet::new());
            ban_reason.set(String::new());
            version.update(|v| *v += 1);
        }
    });
    let ban_selected = move || {
        let ids: Vec<AffiliateId> = selected.get_untracked().into_iter().collect();
        if !ids.is_empty() {
            ban.dispatch((ids, ban_reason.get_untracked()));
        }
    };
    let reset_page = move || {
        page.set(0);
        selected.set(BTreeSet::new());
    };
    // Followed from the panel on this very page (the route stays, only the query changes).
    Effect::new(move |seen: Option<bool>| {
        let now = linked();
        if seen.is_some_and(|before| before != now) && now {
            drift.set(true);
            state.set(Some(AffiliateState::Approved));
            reset_page();
        }
        now
    });

    view! {
        <Title text="Approval queue · Rekomi"/>
        <h1>"Approval queue"</h1>
        <SyncPanel/>
        <div class="filters">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let counts = queue.await.map(|p| p.counts).unwrap_or_default();
                    let tabs = [
                        (Some(AffiliateState::Pending), "Pending", counts.pending),
                        (Some(AffiliateState::Approved), "Approved", counts.approved),
                        (Some(AffiliateState::Rejected), "Rejected", counts.rejected),
                        (Some(AffiliateState::Disabled), "Disabled", counts.disabled),
                        (Some(AffiliateState::Banned), "Banned", counts.banned),
                        (None, "All", counts.pending + counts.approved + counts.rejected + counts.disabled + counts.banned),
                    ];
                    view! {
                        <div class="tabs" role="tablist">
                            {tabs.into_iter().map(|(tab, label, count)| view! {
                                <button role="tab" class:active=move || state.get() == tab
                                    aria-selected=move || (state.get() == tab).to_string()
                                    on:click=move |_| { state.set(tab); reset_page(); }>
                                    {format!("{label} ({count})")}
                                </button>
                            }).collect_view()}
                        </div>
                    }
                })}
            </Transition>
            <label class="inline">"Campaign "
                <select on:change=move |ev| { campaign.set(event_target_value(&ev).parse().ok()); reset_page(); }>
                    <option value="">"All campaigns"</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            campaigns.await.unwrap_or_default().into_iter().map(|c| view! {
                                <option value=c.id.to_string()>{c.name}</option>
                            }).collect_view()
                        })}
                    </Transition>
                </select>
            </label>
            <input type="search" class="search" placeholder="Search email or name" aria-label="Search email or name"
                prop:value=move || search.get()
                on:input=move |ev| { search.set(event_target_value(&ev)); reset_page(); }/>
            <label class="inline">
                <input type="checkbox" data-testid="drift-filter" prop:checked=move || drift.get()
                    on:change=move |ev| { drift.set(event_target_checked(&ev)); reset_page(); }/>
                " Changed in Klaviyo"
            </label>
        </div>
        <div class="bulk-actions">
            <span>{move || format!("{} selected", selected.read().len())}</span>
            // The bulk actions of the tab in view: approved affiliates can be disabled, disabled ones enabled.
            {move || {
                let none = move || selected.read().is_empty() || decide.pending().get();
                // Anyone but the banned can be banned, with a reason.
                let ban_controls = move || view! {
                    <input class="ban-reason" placeholder="Reason for a ban" aria-label="Reason for banning the selected"
                        maxlength="500" prop:value=move || ban_reason.get()
                        on:input=move |ev| ban_reason.set(event_target_value(&ev))/>
                    <button class="danger" disabled=move || none() || ban.pending().get() || ban_reason.read().trim().is_empty()
                        on:click=move |_| ban_selected()>"Ban selected"</button>
                };
                match state.get() {
                    Some(AffiliateState::Approved) => view! {
                        <button class="secondary" disabled=none on:click=move |_| resync_selected()>"Re-sync selected"</button>
                        <button class="danger" disabled=none on:click=move |_| decide_selected(Decision::Disable)>
                            "Disable selected"
                        </button>
                        {ban_controls()}
                    }.into_any(),
                    Some(AffiliateState::Disabled) => view! {
                        <button disabled=none on:click=move |_| decide_selected(Decision::Enable)>"Enable selected"</button>
                        <button class="secondary" disabled=none on:click=move |_| resync_selected()>"Re-sync selected"</button>
                        {ban_controls()}
                    }.into_any(),
                    Some(AffiliateState::Banned) => view! {
                        <button disabled=none on:click=move |_| decide_selected(Decision::Enable)>
                            "Lift the ban on selected"
                        </button>
                    }.into_any(),
                    _ => view! {
                        <button disabled=none on:click=move |_| decide_selected(Decision::Approve)>"Approve selected"</button>
                        <button class="secondary" disabled=none on:click=move |_| decide_selected(Decision::Reject)>
                            "Reject selected"
                        </button>
                        <button class="secondary" disabled=move || none() || verify.pending().get()
                            title="For applicants who haven't opened the link: you know the address is theirs"
                            on:click=move |_| verify_selected()>"Confirm emails"</button>
                        {ban_controls()}
                    }.into_any(),
                }
            }}
            <DecisionMessage outcome=Signal::derive(move || decide.value().get())/>
            <DecisionMessage outcome=Signal::derive(move || ban.value().get())/>
            <DecisionMessage outcome=Signal::derive(move || verify.value().get()) done="confirmed"/>
            {move || resync.value().get().map(|r| match r {
                Ok(n) => view! { <span class="saved" role="status">{format!("{n} queued to sync again.")}</span> }.into_any(),
                Err(e) => view! { <span class="field-error" role="alert">{e.message}</span> }.into_any(),
            })}
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading applications…"</p> }>
            {move || Suspend::new(async move {
                match queue.await {
                    Ok(page_data) => view! { <QueueTable page_data selected decide verify page/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DecisionMessage(
    outcome: Signal<Option<Result<DecisionOutcome, AppError>>>,
    /// What happened to the changed ones ("updated", "confirmed").
    #[prop(default = "updated")]
    done: &'static str,
) -> impl IntoView {
    move || {
        outcome.get().map(|result| match result {
            Ok(o) => {
                let mut text = format!("{} {done}.", o.changed.len());
                if !o.skipped.is_empty() {
                    let reasons: BTreeSet<String> = o.skipped.iter().map(|(_, why)| why.clone()).collect();
                    text.push_str(&format!(
                        " {} skipped: {}",
                        o.skipped.len(),
                        reasons.into_iter().collect::<Vec<_>>().join("; ")
                    ));
                }
                view! { <span class="saved" role="status">{text}</span> }.into_any()
            }
            Err(e) => view! { <span class="field-error" role="alert">{e.message}</span> }.into_any(),
        })
    }
}

#[component]
fn QueueTable(
    page_data: QueuePage,
    selected: RwSignal<BTreeSet<AffiliateId>>,
    decide: Action<(Vec<AffiliateId>, Decision), Result<DecisionOutcome, AppError>>,
    verify: Action<Vec<AffiliateId>, Result<DecisionOutcome, AppError>>,
    page: RwSignal<u32>,
) -> impl IntoView {
    if page_data.items.is_empty() && page_data.page > 0 {
        // Deciding on every row of the last page empties it; offer the way back.
        return view! {
            <p class="empty">"No more applications on this page. "
                <button class="link" on:click=move |_| page.set(0)>"Back to the first page"</button>
            </p>
        }
        .into_any();
    }
    if page_data.items.is_empty() {
        return view! { <p class="empty">"No applications match these filters."</p> }.into_any();
    }
    let ids: Vec<AffiliateId> = page_data.items.iter().map(|a| a.id).collect();
    let all_ids = ids.clone();
    let all_selected = move || {
        let sel = selected.read();
        all_ids.iter().all(|id| sel.contains(id))
    };
    let pages = (page_data.total + i64::from(page_data.page_size) - 1) / i64::from(page_data.page_size);
    let current = page_data.page;
    let many_pages = pages > 1;
    view! {
        <table tabindex="0" class="grid queue">
            <thead><tr>
                <th><input type="checkbox" aria-label="Select all on this page" prop:checked=all_selected.clone()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        selected.update(|s| for id in &ids { if on { s.insert(*id); } else { s.remove(id); } });
                    }/></th>
                <th>"Applicant"</th><th>"Campaign"</th><th>"Applied"</th><th>"State"</th><th>"Klaviyo"</th><th>"Actions"</th>
            </tr></thead>
            <tbody>
                {page_data.items.into_iter().map(|a| view! { <QueueRow a selected decide verify/> }).collect_view()}
            </tbody>
        </table>
        <div class="pager">
            <span>{crate::components::count_of(page_data.total, "application", "applications")}</span>
            <Show when=move || many_pages>
                <button class="secondary" disabled=current == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous"</button>
                <span>{format!("Page {} of {}", current + 1, pages)}</span>
                <button class="secondary" disabled=i64::from(current) + 1 >= pages on:click=move |_| page.update(|p| *p += 1)>"Next"</button>
            </Show>
        </div>
    }
    .into_any()
}

#[component]
fn QueueRow(
    a: ApplicationView,
    selected: RwSignal<BTreeSet<AffiliateId>>,
    decide: Action<(Vec<AffiliateId>, Decision), Result<DecisionOutcome, AppError>>,
    verify: Action<Vec<AffiliateId>, Result<DecisionOutcome, AppError>>,
) -> impl IntoView {
    let id = a.id;
    let unverified = !a.email_verified && a.erased_at.is_none();
    let decided = a.decided_at.map(|at| format!("{} by {}", format_utc(at), a.decided_by.clone().unwrap_or_default()));
    view! {
        <tr data-email=a.email.clone()>
            <td><input type="checkbox" aria-label=format!("Select {}", a.email)
                prop:checked=move || selected.read().contains(&id)
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                }/></td>
            <td>
                <a href=format!("/app/affiliates/{id}")><strong>{a.full_name.clone()}</strong></a><br/>
                <span class="muted">{a.email.clone()}</span>
                {a.website.clone().map(|w| view! { <br/><span class="muted">{w}</span> })}
                {a.message.clone().map(|m| view! { <p class="message">{m}</p> })}
                {(!a.answers.is_empty()).then(|| view! { <crate::components::Answers answers=a.answers.clone()/> })}
            </td>
            <td>{a.campaign_name.clone()}</td>
            <td>{format_utc(a.applied_at)}</td>
            <td>
                <StateBadge state=a.state/>
                {unverified.then(|| view! { <br/><span class="badge unverified" title="Nothing about them reaches Klaviyo until the address is confirmed">"Email not confirmed"</span> })}
                {a.referral_code.clone().map(|c| view! { <br/><code class="code">{c}</code> })}
                {decided.map(|d| view! { <br/><span class="muted small">{d}</span> })}
            </td>
            <td><SyncBadge affiliate=id initial=a.sync.clone()/></td>
            <td class="row-actions">
                <Show when=move || unverified && Decision::Approve.applies_to(a.state)>
                    <button class="secondary" title="You know the address is theirs: their application goes ahead"
                        on:click=move |_| { verify.dispatch(vec![id]); }>"Confirm email"</button>
                </Show>
                <Show when=move || !unverified && Decision::Approve.applies_to(a.state)>
                    <button on:click=move |_| { decide.dispatch((vec![id], Decision::Approve)); }>"Approve"</button>
                </Show>
                <Show when=move || Decision::Reject.applies_to(a.state)>
                    <button class="secondary" on:click=move |_| { decide.dispatch((vec![id], Decision::Reject)); }>"Reject"</button>
                </Show>
                <Show when=move || Decision::Enable.applies_to(a.state)>
                    <button class="secondary" on:click=move |_| { decide.dispatch((vec![id], Decision::Enable)); }>"Enable"</button>
                </Show>
            </td>
        </tr>
    }
}
