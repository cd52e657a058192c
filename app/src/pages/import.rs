//! Rewardful import: choose the campaign and how consent was given, upload the CSV, read the dry
//! run (what will be created, updated or left alone, and every bad cell with its line and column),
//! then confirm. A progress bar follows the upload, the check and the import.

use crate::api::imports::list_imports;
use crate::api::views::{ConsentMode, ImportProgress, ImportReport};
use crate::components::campaign_select::CampaignSelect;
use crate::components::streaming::{post, StreamEvent};
use crate::domain::clock::format_utc;
use crate::domain::{CampaignId, ImportState};
use leptos::prelude::*;
use leptos_meta::Title;

/// Where the current upload or import is.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    label: String,
    /// 0 to 1.
    fraction: f64,
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let campaign = RwSignal::new(None::<CampaignId>);
    let consent = RwSignal::new(ConsentMode::Elsewhere);
    // Read from the input when the file is checked: a `File` is browser-only and can't live in a
    // signal the server also creates.
    let file_input = NodeRef::<leptos::html::Input>::new();
    let bar = RwSignal::new(None::<Bar>);
    let report = RwSignal::new(None::<ImportReport>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let version = RwSignal::new(0_u32);
    let history = Resource::new(move || version.get(), |_| list_imports());

    let on_event = move |phase: &'static str| {
        move |event: StreamEvent| match event {
            StreamEvent::Uploaded(sent, total) if total > 0.0 => {
                bar.set(Some(Bar { label: "Uploading".into(), fraction: sent / total }));
            }
            StreamEvent::Uploaded(..) => {}
            StreamEvent::Line(ImportProgress::Progress { phase, done, total }) => {
                let label = if phase == "importing" {
                    format!("Importing row {done} of {total}")
                } else {
                    "Checking rows".into()
                };
                let fraction = if total == 0 { 1.0 } else { done as f64 / total as f64 };
                bar.set(Some(Bar { label, fraction: fraction.min(1.0) }));
            }
            StreamEvent::Line(ImportProgress::Report(r)) => {
                report.set(Some(*r));
                bar.set(None);
                busy.set(false);
                version.update(|v| *v += 1);
            }
            StreamEvent::Line(ImportProgress::Error { message }) => {
                error.set(Some(message));
                bar.set(None);
                busy.set(false);
                version.update(|v| *v += 1);
            }
            StreamEvent::Failed(message) => {
                error.set(Some(format!("{phase}: {message}")));
                bar.set(None);
                busy.set(false);
            }
        }
    };
    let check = move || {
        error.set(None);
        report.set(None);
        let Some(chosen) = campaign.get_untracked() else {
            error.set(Some("Pick the campaign imported affiliates join.".into()));
            return;
        };
        let Some(f) = chosen_file(file_input) else {
            error.set(Some("Choose the CSV file exported from Rewardful.".into()));
            return;
        };
        let name = file_name(&f);
        let url = format!(
            "/api/imports/upload?campaign={}&consent={}&filename={}",
            chosen,
            consent.get_untracked().as_str(),
            encode(&name)
        );
        busy.set(true);
        bar.set(Some(Bar { label: "Uploading".into(), fraction: 0.0 }));
        post(&url, Some(f), on_event("Upload"));
    };
    let confirm = move |id: i64| {
        error.set(None);
        busy.set(true);
        bar.set(Some(Bar { label: "Importing".into(), fraction: 0.0 }));
        post(&format!("/api/imports/{id}/confirm"), None, on_event("Import"));
    };

    view! {
        <Title text="Import from Rewardful · Rekomi"/>
        <h1>"Import from Rewardful"</h1>
        <p class="muted">"Export your affiliates from Rewardful as CSV and upload the file. Nothing changes until you confirm the dry run. Each affiliate's Rewardful token becomes their referral code, so existing ?via= links keep working; importing the same file again changes nothing."</p>
        <form class="card import-form" on:submit=move |ev| { ev.prevent_default(); check(); }>
            <label for="import-campaign">"Campaign for rows that name none"</label>
            <CampaignSelect id="import-campaign" campaign/>
            <fieldset class="consent">
                <legend>"Program terms"</legend>
                <label class="check">
                    <input type="radio" name="consent" value="elsewhere" checked=move || consent.get() == ConsentMode::Elsewhere
                        on:change=move |_| consent.set(ConsentMode::Elsewhere)/>
                    " They accepted our program terms elsewhere (the import is recorded as their consent)"
                </label>
                <label class="check">
                    <input type="radio" name="consent" value="ask" checked=move || consent.get() == ConsentMode::Ask
                        on:change=move |_| consent.set(ConsentMode::Ask)/>
                    " Ask them: each gets an invite to accept the terms, and is subscribed in Klaviyo only once they do"
                </label>
            </fieldset>
            <label for="import-file">"Rewardful CSV"</label>
            <input id="import-file" type="file" accept=".csv,text/csv" node_ref=file_input/>
            <div class="actions">
                <button type="submit" disabled=move || busy.get()>"Check file"</button>
            </div>
        </form>
        {move || bar.get().map(|b| view! {
            <div class="progress" data-testid="import-progress">
                <progress max="1" value=b.fraction.to_string()></progress>
                <span>{format!("{} · {:.0}%", b.label, b.fraction * 100.0)}</span>
            </div>
        })}
        {move || error.get().map(|e| view! { <div class="banner error" role="alert" data-testid="import-error">{e}</div> })}
        {move || report.get().map(|r| view! { <ReportView report=r confirm busy/> })}
        <h2>"Past imports"</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = history.await.unwrap_or_default();
                if list.is_empty() {
                    return view! { <p class="muted">"None yet."</p> }.into_any();
                }
                view! {
                    <table tabindex="0" class="table" data-testid="import-history">
                        <thead><tr><th>"File"</th><th>"Uploaded"</th><th>"State"</th><th>"Rows"</th><th>"Created"</th><th>"Updated"</th><th>"Errors"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|r| view! {
                                <tr><td>{r.filename}</td><td>{format_utc(r.created_at)}</td><td>{r.state.as_str()}</td>
                                    <td>{r.rows}</td><td>{r.create}</td><td>{r.update}</td><td>{r.errors}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn ReportView(report: ImportReport, confirm: impl Fn(i64) + Copy + 'static, busy: RwSignal<bool>) -> impl IntoView {
    let id = report.id;
    let imported = report.state == ImportState::Imported;
    let ready = report.state == ImportState::Ready && report.create + report.update > 0;
    let heading = match report.state {
        ImportState::Imported => format!("Imported {}", report.filename),
        ImportState::Rejected => format!("{} can't be imported", report.filename),
        ImportState::Ready => format!("Dry run of {}", report.filename),
    };
    let verb = if imported { ("created", "updated") } else { ("to create", "to update") };
    view! {
        <section class="card report" data-testid="import-report" data-state=report.state.as_str()>
            <h2>{heading}</h2>
            {report.file_error.clone().map(|e| view! { <div class="banner error" role="alert">{e}</div> })}
            {(report.file_error.is_none()).then(|| view! {
                <ul class="counts">
                    <li data-testid="count-create">{format!("{} {}", report.create, verb.0)}</li>
                    <li data-testid="count-update">{format!("{} {}", report.update, verb.1)}</li>
                    <li data-testid="count-unchanged">{format!("{} unchanged", report.unchanged)}</li>
                    <li data-testid="count-errors">{format!("{} with errors (skipped)", report.errors)}</li>
                    {(report.invites > 0).then(|| view! { <li>{format!("{} invites to accept the terms", report.invites)}</li> })}
                </ul>
                <p class="muted">{format!("Campaign: {}. Columns read: {}.", report.campaign_name,
                    report.columns.iter().filter_map(|c| c.field.as_ref().map(|f| format!("{} → {f}", c.header))).collect::<Vec<_>>().join(", "))}</p>
                {(!report.unknown_columns.is_empty()).then(|| view! {
                    <p class="muted" data-testid="unknown-columns">{format!("Ignored columns: {}", report.unknown_columns.join(", "))}</p>
                })}
            })}
            {(!report.issues.is_empty()).then(|| view! {
                <h3>"Rows with errors"</h3>
                <table tabindex="0" class="table" data-testid="import-issues">
                    <thead><tr><th>"Line"</th><th>"Column"</th><th>"Email"</th><th>"Problem"</th></tr></thead>
                    <tbody>
                        {report.issues.iter().cloned().map(|i| view! {
                            <tr data-line=i.line.to_string()><td>{i.line}</td><td>{i.column}</td><td>{i.email.unwrap_or_default()}</td><td>{i.reason}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {(report.more_issues > 0).then(|| view! { <p class="muted">{format!("…and {} more.", report.more_issues)}</p> })}
            })}
            {ready.then(|| view! {
                <div class="actions">
                    <button data-testid="confirm-import" disabled=move || busy.get() on:click=move |_| confirm(id)>
                        {format!("Import {} affiliate{}", report.create + report.update, if report.create + report.update == 1 { "" } else { "s" })}
                    </button>
                </div>
            })}
            {(!report.samples.is_empty()).then(|| view! {
                <details>
                    <summary>"Rows"</summary>
                    <table tabindex="0" class="table">
                        <thead><tr><th>"Line"</th><th>"Email"</th><th>"Action"</th><th>"Detail"</th></tr></thead>
                        <tbody>
                            {report.samples.iter().cloned().map(|s| view! {
                                <tr><td>{s.line}</td><td>{s.email}</td><td>{s.action}</td><td>{s.detail}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </details>
            })}
        </section>
    }
}

pub(crate) fn chosen_file(input: NodeRef<leptos::html::Input>) -> Option<web_sys::File> {
    #[cfg(feature = "hydrate")]
    {
        input.get_untracked()?.files()?.get(0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = input;
        None
    }
}

fn file_name(file: &web_sys::File) -> String {
    #[cfg(feature = "hydrate")]
    {
        file.name()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = file;
        String::new()
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
