//! Integrations: the lifecycle events Rekomi sends into Klaviyo (each can be switched off), the
//! merchant's webhook endpoints with their delivery log, and where the REST API is documented.

use crate::api::payouts::{
    add_webhook, change_webhook, drop_kept_events, keep_events_offline, load_integrations, redeliver_webhook,
    switch_event,
};
use crate::api::views::{IntegrationsView, NewEndpoint};
use crate::components::form::{toast_on_success, FieldError};
use crate::domain::clock::format_utc;
use crate::domain::DeliveryState;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let version = RwSignal::new(0_u32);
    let data = Resource::new(move || version.get(), |_| load_integrations());
    // Lives above the reloading content, so the new endpoint's secret stays on screen after the
    // list reloads to show the endpoint.
    let add = Action::new(|(url, topics): &(String, Vec<String>)| add_webhook(url.clone(), topics.clone()));
    Effect::new(move || {
        if add.value().get().is_some_and(|r| r.is_ok()) {
            version.update(|n| *n += 1);
        }
    });
    toast_on_success(add, |new: &NewEndpoint| format!("Endpoint {} added.", new.endpoint.url));
    let added = move || add.value().get().and_then(Result::ok);
    view! {
        <Title text="Integrations · Rekomi"/>
        <div class="page-head"><h1>"Integrations"</h1></div>
        {move || added().map(|NewEndpoint { endpoint, secret }| view! {
            <div class="banner" role="status">
                <p>{format!("Signing secret for {}; copy it now, Rekomi shows it only once:", endpoint.url)}</p>
                <input readonly class="code" value=secret data-testid="webhook-secret" aria-label="Signing secret"/>
            </div>
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <Integrations v version add/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Integrations(v: IntegrationsView, version: RwSignal<u32>, add: AddAction) -> impl IntoView {
    let bump = move |ok: bool| {
        if ok {
            version.update(|n| *n += 1);
        }
    };
    let switch = Action::new(|(metric, on): &(String, bool)| switch_event(metric.clone(), *on));
    let change = Action::new(|(id, enabled, remove): &(i64, bool, bool)| change_webhook(*id, *enabled, *remove));
    let redeliver = Action::new(|id: &i64| redeliver_webhook(*id));
    let keep = Action::new(|keep: &bool| keep_events_offline(*keep));
    let drop_kept = Action::new(|_: &()| drop_kept_events());
    Effect::new(move || bump(keep.value().get().is_some_and(|r| r.is_ok())));
    Effect::new(move || bump(drop_kept.value().get().is_some_and(|r| r.is_ok())));
    toast_on_success(keep, |_| "Saved: what happens to events while Klaviyo is disconnected.".to_owned());
    toast_on_success(drop_kept, |_| "The kept events were dropped.".to_owned());
    Effect::new(move || bump(switch.value().get().is_some_and(|r| r.is_ok())));
    Effect::new(move || bump(change.value().get().is_some_and(|r| r.is_ok())));
    Effect::new(move || bump(redeliver.value().get().is_some_and(|r| r.is_ok())));
    toast_on_success(switch, |_| "Klaviyo event setting saved.".to_owned());
    toast_on_success(change, |_| "Webhook endpoint updated.".to_owned());
    toast_on_success(redeliver, |_| "The delivery is queued again.".to_owned());
    let failure = move || {
        [
            switch.value().get(),
            change.value().get(),
            redeliver.value().get(),
            keep.value().get(),
            drop_kept.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|e: AppError| e.message)
    };
    view! {
        {move || failure().map(|m| view! { <div class="banner error" role="alert">{m}</div> })}
        <section>
            <h2>"Klaviyo events"</h2>
            {match (v.klaviyo_connected, v.klaviyo_was_connected, v.keep_events_offline) {
                (true, _, _) => ().into_any(),
                (false, false, _) => view! {
                    <p class="banner">"Connect Klaviyo to send these events; until then none are queued."</p>
                }.into_any(),
                (false, true, true) => view! {
                    <p class="banner" data-testid="kept-events">
                        {format!(
                            "Klaviyo is disconnected. {}{}: they are sent when you connect Klaviyo again (any kept \
                             more than 7 days are dropped then). ",
                            crate::components::count_of(v.kept_events, "event is kept", "events are kept"),
                            v.kept_since.map(|at| format!(" (the oldest from {})", format_utc(at))).unwrap_or_default()
                        )}
                        {(v.kept_events > 0).then(|| view! {
                            <button class="secondary" disabled=move || drop_kept.pending().get()
                                on:click=move |_| { drop_kept.dispatch(()); }>"Drop them"</button>
                        })}
                    </p>
                }.into_any(),
                (false, true, false) => view! {
                    <p class="banner" data-testid="kept-events">
                        "Klaviyo is disconnected, and events are not kept meanwhile: nothing that happens now reaches \
                         your flows later."
                    </p>
                }.into_any(),
            }}
            {(v.dropped_events > 0).then(|| view! {
                <p class="muted small" data-testid="dropped-events">
                    {crate::components::count_of(v.dropped_events, "event was", "events were")}
                    " dropped because Klaviyo was disconnected."
                </p>
            })}
            <label class="inline">
                <input type="checkbox" checked=v.keep_events_offline data-testid="keep-events-offline"
                    on:change=move |ev| { keep.dispatch(event_target_checked(&ev)); }/>
                " While Klaviyo is disconnected, keep events (up to 7 days) and send them when it is connected again"
            </label>
            <p>"Rekomi sends no email itself: it creates these metrics on each affiliate's profile, and a flow you build in Klaviyo on each one sends the message. Where Rekomi's pages tell an affiliate something is emailed, it is emailed by that flow. Amounts are numbers in the currency named beside them; every event has a unique id, so a retried send counts once."</p>
            <table tabindex="0" data-testid="events">
                <thead><tr><th>"Metric"</th><th>"When, and what it carries"</th><th>"Flow to build"</th><th>"In Klaviyo"</th><th>"Send"</th></tr></thead>
                <tbody>
                    {v.events.clone().into_iter().map(|e| {
                        let metric = e.metric.clone();
                        let on = e.on;
                        let status = event_status(&e, v.klaviyo_connected);
                        view! {
                            <tr data-metric=e.metric.clone()>
                                <td><code>{e.metric.clone()}</code></td>
                                <td>{e.description}</td>
                                <td>{e.recipe}</td>
                                <td data-testid="event-status">{status}</td>
                                <td>
                                    <input type="checkbox" checked=on disabled=e.always_on
                                        aria-label=format!("Send {}", e.metric)
                                        on:change=move |_| { switch.dispatch((metric.clone(), !on)); }/>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <Webhooks v=v.clone() change redeliver add/>
        <section>
            <h2>"REST API"</h2>
            <p>"Klaviyo flows and your own systems call Rekomi with an API token (create one under Tracking). Reference: "
               <a href=v.api_docs_url.clone() rel="external">{v.api_docs_url.clone()}</a>"."</p>
        </section>
    }
}

/// Whether the merchant's flow on an event has anything to trigger on, in words.
fn event_status(e: &crate::api::views::EventSwitch, klaviyo_connected: bool) -> String {
    if !e.on {
        "Switched off: not sent".to_owned()
    } else if !klaviyo_connected {
        "Not sent: Klaviyo isn't connected".to_owned()
    } else {
        match e.last_received_at {
            Some(at) => format!("{} received, the last on {}", e.received, format_utc(at)),
            None => "None received yet".to_owned(),
        }
    }
}

type Change = Action<(i64, bool, bool), Result<IntegrationsView, AppError>>;
type AddAction = Action<(String, Vec<String>), Result<NewEndpoint, AppError>>;

#[component]
fn Webhooks(
    v: IntegrationsView,
    change: Change,
    redeliver: Action<i64, Result<IntegrationsView, AppError>>,
    add: AddAction,
) -> impl IntoView {
    let add_error = Signal::derive(move || add.value().get().and_then(Result::err));
    view! {
        <section>
            <h2>"Webhooks"</h2>
            <p>"Rekomi POSTs JSON " <code>"{id, type, created_at, data}"</code> " to your endpoints, signed in the "
               <code>"Rekomi-Signature"</code> " header as " <code>"t=<unix seconds>,v1=<hex HMAC-SHA256>"</code>
               " of " <code>"<t>.<raw body>"</code> " under the endpoint's secret. Answer 2xx within 10 s; otherwise Rekomi retries with backoff for a day."</p>
            // The form is read as the browser holds it when sent, so what was typed or ticked while the
            // page was still loading its script counts too.
            <form on:submit=move |ev| {
                ev.prevent_default();
                let (url, topics) = form_fields(&ev);
                add.dispatch((url, topics));
            }>
                <label for="webhook_url">"Endpoint address"</label>
                <input id="webhook_url" name="url" placeholder="https://example.com/hooks/rekomi"/>
                <FieldError error=add_error field="url" input="webhook_url"/>
                <fieldset>
                    <legend>"Topics"</legend>
                    {v.topics.iter().map(|(name, description)| {
                        let name = name.clone();
                        view! {
                            <label class="check">
                                <input type="checkbox" name="topic" value=name.clone()/>
                                <code>{name}</code>" "{description.clone()}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <FieldError error=add_error field="topics"/>
                <button type="submit" disabled=move || add.pending().get()>"Add endpoint"</button>
            </form>
            {if v.endpoints.is_empty() {
                view! { <p class="muted">"No endpoints yet."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0">
                        <thead><tr><th>"Address"</th><th>"Topics"</th><th>"Added"</th><th></th></tr></thead>
                        <tbody>
                            {v.endpoints.into_iter().map(|e| {
                                let id = e.id;
                                let enabled = e.enabled;
                                view! {
                                    <tr>
                                        <td><code>{e.url}</code></td>
                                        <td>{e.topics.join(", ")}</td>
                                        <td>{e.created_at}</td>
                                        <td>
                                            <button class="secondary" on:click=move |_| { change.dispatch((id, !enabled, false)); }>
                                                {if enabled { "Switch off" } else { "Switch on" }}
                                            </button>
                                            <button class="secondary" on:click=move |_| { change.dispatch((id, enabled, true)); }>"Remove"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <h3>"Delivery log"</h3>
            {if v.deliveries.is_empty() {
                view! { <p class="muted">"Nothing delivered yet."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0" data-testid="deliveries">
                        <thead><tr><th>"Event"</th><th>"Endpoint"</th><th>"State"</th><th>"Tries"</th><th>"Last answer"</th><th></th></tr></thead>
                        <tbody>
                            {v.deliveries.into_iter().map(|d| {
                                let id = d.id;
                                let last = match (d.last_status, d.last_error) {
                                    (_, Some(e)) => e,
                                    (Some(s), None) => s.to_string(),
                                    (None, None) => "—".to_owned(),
                                };
                                let state = match d.next_try {
                                    Some(next) if d.state == DeliveryState::Retrying => format!("retrying at {next}"),
                                    _ => d.state.as_str().to_owned(),
                                };
                                view! {
                                    <tr>
                                        <td><code>{d.topic}</code><br/><span class="muted">{d.event_id}" · "{d.created_at}</span></td>
                                        <td><code>{d.url}</code></td>
                                        <td>{state}</td>
                                        <td>{d.attempts}</td>
                                        <td>{last}</td>
                                        <td><button class="secondary" on:click=move |_| { redeliver.dispatch(id); }>"Redeliver"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// The endpoint form's address and ticked topics, from the submitted form element.
fn form_fields(ev: &leptos::ev::SubmitEvent) -> (String, Vec<String>) {
    use wasm_bindgen::JsCast;
    let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else {
        return (String::new(), Vec::new());
    };
    let Ok(data) = web_sys::FormData::new_with_form(&form) else { return (String::new(), Vec::new()) };
    let url = data.get("url").as_string().unwrap_or_default();
    let topics = data.get_all("topic").iter().filter_map(|v| v.as_string()).collect();
    (url, topics)
}
