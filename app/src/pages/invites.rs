//! Bulk invites: paste (or load a file of) people, see every line checked, send; then follow each
//! invite (sent, opened, accepted, expired), copy its link, resend or revoke it.

use crate::api::invites::{list_invites, preview_invites, resend_invite, revoke_invite, send_invites};
use crate::api::views::{InvitePreview, InviteRequest, InviteView, InvitesSent};
use crate::components::campaign_select::CampaignSelect;
use crate::components::form::{ErrorBanner, FieldError};
use crate::domain::clock::format_utc;
use crate::domain::CampaignId;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn InvitesPage() -> impl IntoView {
    let campaign = RwSignal::new(None::<CampaignId>);
    let people = RwSignal::new(String::new());
    let days = RwSignal::new("14".to_owned());
    let version = RwSignal::new(0_u32);
    let invites = Resource::new(move || version.get(), |_| list_invites());

    let request = move || InviteRequest {
        campaign: campaign.get_untracked().unwrap_or(CampaignId(0)),
        people: people.get_untracked(),
        expires_days: days.get_untracked().trim().parse().unwrap_or(0),
    };
    let preview = Action::new(|r: &InviteRequest| preview_invites(r.clone()));
    let send = Action::new(|r: &InviteRequest| send_invites(r.clone()));
    Effect::new(move || {
        if let Some(Ok(_)) = send.value().get() {
            people.set(String::new());
            preview.value().set(None);
            version.update(|v| *v += 1);
        }
    });
    let error = Signal::derive(move || {
        send.value().get().and_then(Result::err).or_else(|| preview.value().get().and_then(Result::err))
    });

    view! {
        <Title text="Invites · Rekomi"/>
        <h1>"Invite affiliates"</h1>
        <p class="muted">"One person a line: an email, optionally with a name (\"ana@example.com, Ana Berg\", \"Ana Berg <ana@example.com>\", or two columns pasted from a spreadsheet). Each gets a personal, single-use link to the campaign's page; Klaviyo delivers it through your \"Rekomi Affiliate Invited\" flow."</p>
        <form class="card invite-form" on:submit=move |ev| { ev.prevent_default(); preview.dispatch(request()); }>
            <ErrorBanner error/>
            <label for="invite-campaign">"Campaign"</label>
            <CampaignSelect id="invite-campaign" campaign/>
            <FieldError error field="campaign" input="invite-campaign"/>
            <label for="invite-people">"People"</label>
            <textarea id="invite-people" rows="8" placeholder="ana@example.com, Ana Berg"
                prop:value=move || people.get() on:input=move |ev| { people.set(event_target_value(&ev)); preview.value().set(None); }></textarea>
            <FieldError error field="people" input="invite-people"/>
            <label for="invite-file">"…or load a CSV or text file"</label>
            <input id="invite-file" type="file" accept=".csv,.txt,text/csv,text/plain" on:change=move |ev| load_file(&ev, people)/>
            <label for="invite-days">"Links expire after (days)"</label>
            <input id="invite-days" type="number" min="1" max="90" prop:value=move || days.get()
                on:input=move |ev| days.set(event_target_value(&ev))/>
            <FieldError error field="expires_days" input="invite-days"/>
            <div class="actions">
                <button type="submit" disabled=move || preview.pending().get()>"Check list"</button>
            </div>
        </form>
        {move || preview.value().get().and_then(Result::ok).map(|p| view! {
            <PreviewTable preview=p.clone()/>
            <div class="actions">
                <button data-testid="send-invites" disabled=move || send.pending().get() || p.ready == 0
                    on:click=move |_| { send.dispatch(request()); }>
                    {format!("Send {} invite{}", p.ready, if p.ready == 1 { "" } else { "s" })}
                </button>
            </div>
        })}
        {move || send.value().get().and_then(Result::ok).map(|s| view! { <SentMessage sent=s/> })}
        <h2>"Invites"</h2>
        <Transition fallback=|| view! { <p class="loading">"Loading invites…"</p> }>
            {move || Suspend::new(async move {
                match invites.await {
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No invites yet."</p> }.into_any(),
                    Ok(list) => view! { <InviteTable list version/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PreviewTable(preview: InvitePreview) -> impl IntoView {
    let summary = format!(
        "{} ready, {} with a problem{}",
        preview.ready,
        preview.problems,
        if preview.klaviyo_connected {
            ". Klaviyo will deliver them."
        } else {
            ". Klaviyo isn't connected: copy each link from the list below and share it yourself."
        }
    );
    view! {
        <section class="card" data-testid="invite-preview">
            <p role="status">{summary}</p>
            <table tabindex="0" class="table">
                <thead><tr><th>"Line"</th><th>"Email"</th><th>"Name"</th><th>"Check"</th></tr></thead>
                <tbody>
                    {preview.rows.into_iter().map(|r| {
                        let ok = r.problem.is_none();
                        view! {
                            <tr class:problem=!ok data-line=r.line.to_string()>
                                <td>{r.line}</td><td>{r.email}</td><td>{r.name.unwrap_or_default()}</td>
                                <td class="check">{r.problem.unwrap_or_else(|| "Ready".into())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn SentMessage(sent: InvitesSent) -> impl IntoView {
    let text = format!(
        "{} invite{} sent{}.",
        sent.sent,
        if sent.sent == 1 { "" } else { "s" },
        if sent.skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; {} skipped",
                crate::components::count_of(i64::try_from(sent.skipped.len()).unwrap_or(i64::MAX), "line", "lines")
            )
        }
    );
    view! {
        <div class="banner success" role="status" data-testid="invites-sent">{text}</div>
        {(!sent.skipped.is_empty()).then(|| view! {
            <ul class="skipped">
                {sent.skipped.into_iter().map(|r| view! {
                    <li>{format!("Line {}: {} — {}", r.line, r.email, r.problem.unwrap_or_default())}</li>
                }).collect_view()}
            </ul>
        })}
    }
}

#[component]
fn InviteTable(list: Vec<InviteView>, version: RwSignal<u32>) -> impl IntoView {
    let resend = Action::new(|id: &i64| resend_invite(*id));
    let revoke = Action::new(|id: &i64| revoke_invite(*id));
    Effect::new(move || {
        if resend.value().get().is_some() || revoke.value().get().is_some() {
            version.update(|v| *v += 1);
        }
    });
    let action_error: Signal<Option<AppError>> = Signal::derive(move || {
        resend.value().get().and_then(Result::err).or_else(|| revoke.value().get().and_then(Result::err))
    });
    view! {
        <ErrorBanner error=action_error/>
        <table tabindex="0" class="table" data-testid="invite-list">
            <thead><tr><th>"Email"</th><th>"Campaign"</th><th>"Status"</th><th>"Delivery"</th><th>"Sent"</th><th>"Expires"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|i| {
                    let id = i.id;
                    let live = i.status.live();
                    let link = i.link.clone();
                    let delivery = match i.delivery.as_str() {
                        "sent" => "Sent to Klaviyo".to_owned(),
                        "queued" => "Queued for Klaviyo".to_owned(),
                        "retrying" => "Retrying".to_owned(),
                        "failed" => "Not delivered".to_owned(),
                        _ => "Share the link".to_owned(),
                    };
                    view! {
                        <tr data-email=i.email.clone() data-status=i.status.as_str()>
                            <td>{i.email.clone()}<br/><span class="muted">{i.full_name.clone().unwrap_or_default()}</span></td>
                            <td>{i.campaign_name.clone()}</td>
                            <td><span class=format!("badge invite-{}", i.status.as_str())>{i.status.label()}</span></td>
                            <td title=i.delivery_note.clone().unwrap_or_default() data-delivery=i.delivery.clone()>
                                {delivery}
                                {i.delivery_note.clone().map(|n| view! { <br/><span class="muted small">{n}</span> })}
                            </td>
                            <td>{format_utc(i.sent_at)}{(i.sends > 1).then(|| format!(" (×{})", i.sends))}</td>
                            <td>{format_utc(i.expires_at)}</td>
                            <td class="row-actions">
                                {link.map(|l| {
                                    let copy = l.clone();
                                    view! {
                                        <input class="link-field" readonly value=l aria-label="Invite link"/>
                                        <button class="secondary" on:click=move |_| crate::components::copy_text(&copy)>"Copy link"</button>
                                    }
                                })}
                                {live.then(|| view! {
                                    <button class="secondary" on:click=move |_| { resend.dispatch(id); }>"Resend"</button>
                                    <button class="secondary danger" on:click=move |_| { revoke.dispatch(id); }>"Revoke"</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Reads a chosen file into the textarea (UTF-8 text).
fn load_file(ev: &leptos::ev::Event, people: RwSignal<String>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        let Ok(reader) = web_sys::FileReader::new() else { return };
        let done = reader.clone();
        let on_load = Closure::<dyn FnMut()>::new(move || {
            if let Some(text) = done.result().ok().and_then(|r| r.as_string()) {
                people.set(text);
            }
        });
        reader.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        let _ = reader.read_as_text(&file);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, people);
}
