//! Paying affiliates: what is owed, payout runs to review and export (PayPal, Wise, CSV), marking
//! a run paid, and CSV exports for the books.

use crate::api::payouts::{cancel_payout_run, create_payout_run, load_payouts, mark_run_paid, pay_run_store_credit};
use crate::api::views::{PayoutsPage, RunView};
use crate::components::form::FieldError;
use crate::domain::PayoutState;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PayoutsPage() -> impl IntoView {
    let version = RwSignal::new(0_u32);
    let page = Resource::new(move || version.get(), |_| load_payouts());
    let create = Action::new(|_: &()| create_payout_run());
    Effect::new(move || {
        if create.value().get().is_some_and(|r| r.is_ok()) {
            version.update(|v| *v += 1);
        }
    });
    let create_error = move || create.value().get().and_then(Result::err).map(|e| e.message);
    view! {
        <Title text="Payouts · Rekomi"/>
        <div class="page-head">
            <h1>"Payouts"</h1>
            <button on:click=move |_| { create.dispatch(()); } disabled=move || create.pending().get() data-testid="create-run">
                "Create payout run"
            </button>
        </div>
        {move || create_error().map(|m| view! { <div class="banner error" role="alert">{m}</div> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Payouts p version/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
        <Exports/>
    }
}

#[component]
fn Payouts(p: PayoutsPage, version: RwSignal<u32>) -> impl IntoView {
    view! {
        <section>
            <h2>"Owed"</h2>
            {if p.outstanding.is_empty() {
                view! { <p class="muted">"Nothing owed yet: commissions appear here once orders are attributed."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0">
                        <thead><tr><th>"Currency"</th><th>"Approved, ready to pay"</th><th>"In the hold period"</th></tr></thead>
                        <tbody>
                            {p.outstanding.into_iter().map(|o| view! {
                                <tr><td>{o.currency}</td><td>{o.approved}</td><td>{o.pending}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <p class="muted">"A run gathers each affiliate's approved commissions (minus refunds after an earlier payout), per currency, when they reach the campaign's minimum payout."</p>
        </section>
        <section>
            <h2>"Runs"</h2>
            {if p.runs.is_empty() {
                view! { <p class="muted">"No payout runs yet."</p> }.into_any()
            } else {
                p.runs.into_iter().map(|run| view! { <Run run version/> }.into_any()).collect_view().into_any()
            }}
        </section>
    }
}

#[component]
fn Run(run: RunView, version: RwSignal<u32>) -> impl IntoView {
    let id = run.id;
    let reference = RwSignal::new(String::new());
    let pay = Action::new(move |r: &String| mark_run_paid(id, r.clone()));
    let cancel = Action::new(move |_: &()| cancel_payout_run(id));
    let credit = Action::new(move |_: &()| pay_run_store_credit(id));
    let confirming_credit = RwSignal::new(false);
    Effect::new(move || {
        if pay.value().get().is_some_and(|r| r.is_ok())
            || cancel.value().get().is_some_and(|r| r.is_ok())
            || credit.value().get().is_some_and(|r| r.is_ok())
        {
            version.update(|v| *v += 1);
        }
    });
    // While Shopify credits the run, the page reads it again every two seconds.
    if run.credits_queued > 0 {
        let handle = set_timeout_with_handle(move || version.update(|v| *v += 1), std::time::Duration::from_secs(2));
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    }
    let credit_error = move || credit.value().get().and_then(Result::err).map(|e: AppError| e.message);
    let pay_error = Signal::derive(move || pay.value().get().and_then(Result::err));
    let cancel_error = move || cancel.value().get().and_then(Result::err).map(|e: AppError| e.message);
    let open = run.state == PayoutState::Open;
    let status = match (run.state, &run.reference) {
        (PayoutState::Paid, Some(r)) => format!("Paid {} (reference {r})", run.decided_at.clone().unwrap_or_default()),
        (PayoutState::Cancelled, _) => "Cancelled".to_owned(),
        _ if run.credits_queued > 0 => format!("Crediting in Shopify: {} to go", run.credits_queued),
        _ if run.credits_failed > 0 => {
            format!(
                "Shopify refused {} store credit(s): see the lines below, then send them again or pay them another way",
                run.credits_failed
            )
        }
        _ => "Open: export it, pay, then mark it paid".to_owned(),
    };
    let store_credit = run.store_credit_shop.clone().filter(|_| run.credits_queued == 0).map(|shop| {
        let label = if run.credits_failed > 0 { "Send the refused credits again".to_owned() } else { "Pay as Shopify store credit".to_owned() };
        view! {
            <div class="store-credit" data-testid="store-credit">
                <p class="muted">{format!("Credits each affiliate's customer account in {shop} (made for them if they have none). \
                    The run is marked paid once Shopify has taken every credit; a line Shopify refuses is shown and nothing is paid twice.")}</p>
                <Show when=move || confirming_credit.get() fallback=move || view! {
                    <button type="button" class="secondary" on:click=move |_| confirming_credit.set(true)>{label.clone()}</button>
                }>
                    <button type="button" data-testid="confirm-store-credit" disabled=move || credit.pending().get()
                        on:click=move |_| { confirming_credit.set(false); credit.dispatch(()); }>"Yes, credit them in Shopify"</button>
                    <button type="button" class="secondary" on:click=move |_| confirming_credit.set(false)>"Not now"</button>
                </Show>
                {move || credit_error().map(|m| view! { <div class="banner error" role="alert">{m}</div> })}
            </div>
        }
    });
    // A cancelled run's lines go into the next run: its files must not be paid.
    let exportable = if run.state == PayoutState::Cancelled { Vec::new() } else { run.currencies.clone() };
    let files = exportable
        .iter()
        .map(|c| {
            let lower = c.to_lowercase();
            view! {
                <li>
                    {c.clone()}": "
                    <a href=format!("/api/payouts/{id}/paypal?currency={c}") download data-testid=format!("paypal-{lower}")>"PayPal Payouts file"</a>" · "
                    <a href=format!("/api/payouts/{id}/wise?currency={c}") download>"Wise batch file"</a>" · "
                    <a href=format!("/api/payouts/{id}/csv?currency={c}") download>"CSV"</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <article class="card" data-testid=format!("run-{id}")>
            <h3>{format!("Run #{id} · {}", run.totals.join(" + "))}</h3>
            <p class="muted">{format!("Created {} by {}", run.created_at, run.created_by)}</p>
            <p data-testid="run-status">{status}</p>
            <PayoutTable payouts=run.payouts/>
            <ul class="files">{files.into_any()}</ul>
            {store_credit}
            {open.then(|| view! {
                <form on:submit=move |ev| { ev.prevent_default(); pay.dispatch(reference.get_untracked()); }>
                    <label for=format!("reference-{id}")>"Payment reference (your PayPal or Wise batch id)"</label>
                    <input id=format!("reference-{id}") bind:value=reference data-testid="reference"/>
                    <FieldError error=pay_error field="reference" input=format!("reference-{id}")/>
                    <button type="submit" disabled=move || pay.pending().get() data-testid="mark-paid">"Mark paid"</button>
                    <button type="button" class="secondary" on:click=move |_| { cancel.dispatch(()); }>"Cancel run"</button>
                </form>
                {move || cancel_error().map(|m| view! { <div class="banner error" role="alert">{m}</div> })}
            }.into_any())}
        </article>
    }
    .into_any()
}

#[component]
fn PayoutTable(payouts: Vec<crate::api::views::PayoutView>) -> impl IntoView {
    view! {
        <table tabindex="0">
            <thead><tr><th>"Affiliate"</th><th>"Pay to"</th><th>"Amount"</th><th>"Commissions"</th><th>"State"</th></tr></thead>
            <tbody>
                {payouts.into_iter().map(|p| view! {
                    <tr>
                        <td><a href=format!("/app/affiliates/{}", p.affiliate_id)>{p.affiliate_name}</a></td>
                        <td>{p.payout_email}</td>
                        <td>{p.amount}</td>
                        <td>{p.lines}</td>
                        <td data-testid="payout-state">{p.state.as_str()}
                            {p.credit.map(|c| view! { <br/><span class="muted">{format!("Store credit: {c}")}</span> })}
                            {p.credit_note.map(|n| view! { <br/><span class="muted">{n}</span> })}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Plain links with a date range: the browser downloads the file with the session cookie.
#[component]
fn Exports() -> impl IntoView {
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let href = move |what: &str| {
        let mut url = format!("/api/exports/{what}.csv");
        let (f, t) = (from.get(), to.get());
        let params: Vec<String> = [("from", f), ("to", t)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !params.is_empty() {
            url.push('?');
            url.push_str(&params.join("&"));
        }
        url
    };
    view! {
        <section>
            <h2>"Exports"</h2>
            <p>"CSV files for your books, over a date range (both days included; leave empty for everything)."</p>
            <label for="export-from">"From"</label>
            <input id="export-from" type="date" bind:value=from/>
            <label for="export-to">"To"</label>
            <input id="export-to" type="date" bind:value=to/>
            <p>
                <a href=move || href("affiliates") download>"Affiliates"</a>" · "
                <a href=move || href("commissions") download>"Commissions"</a>" · "
                <a href=move || href("payouts") download>"Payouts"</a>
            </p>
        </section>
    }
}
