//! Campaigns: the list, the new-campaign page and the editor.

use crate::api::campaigns::{
    campaign_questions, create_campaign, get_campaign, list_campaigns, save_campaign_questions, update_campaign,
};
use crate::api::views::CampaignView;
use crate::components::form::{toast_on_success, ErrorBanner, FieldError};
use crate::components::toast::use_toasts;
use crate::domain::questions::QuestionForm;
use crate::domain::{CampaignForm, CampaignId, Currency};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn CampaignList() -> impl IntoView {
    crate::pages::layout::page_ready();
    let campaigns = Resource::new(|| (), |_| list_campaigns());
    view! {
        <Title text="Campaigns · Rekomi"/>
        <div class="page-head">
            <h1>"Campaigns"</h1>
            <A href="/app/campaigns/new" attr:class="button">"New campaign"</A>
        </div>
        <Suspense fallback=|| view! { <p class="loading">"Loading campaigns…"</p> }>
            {move || Suspend::new(async move {
                match campaigns.await {
                    Ok(list) if list.is_empty() => view! {
                        <div class="empty">
                            <p>"No campaigns yet. A campaign holds your program's terms and commission, and gets a public page where affiliates apply."</p>
                            <A href="/app/campaigns/new" attr:class="button">"Create your first campaign"</A>
                        </div>
                    }.into_any(),
                    Ok(list) => view! { <CampaignTable list/> }.into_any(),
                    Err(e) => view! { <div class="banner error">{e.message}</div> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CampaignTable(list: Vec<CampaignView>) -> impl IntoView {
    view! {
        <table tabindex="0" class="grid">
            <thead><tr>
                <th>"Campaign"</th><th>"Commission"</th><th>"Applications"</th><th>"Approval"</th><th>"Public page"</th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|c| view! {
                    <tr>
                        <td><A href=format!("/app/campaigns/{}", c.id)>{c.name.clone()}</A></td>
                        <td>{c.commission.describe()}</td>
                        <td>{format!("{} pending · {} approved", c.pending, c.approved)}</td>
                        <td>{if c.auto_approve { "Automatic" } else { "Manual" }}</td>
                        <td>
                            {if c.accepting {
                                view! { <a href=c.landing_path.clone() target="_blank" rel="noopener">{c.landing_path.clone()}</a> }.into_any()
                            } else {
                                view! { <span class="muted">"Closed"</span> }.into_any()
                            }}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn NewCampaign() -> impl IntoView {
    let action = Action::new(|form: &CampaignForm| create_campaign(form.clone()));
    let navigate = use_navigate();
    let toasts = use_toasts();
    Effect::new(move || {
        if let Some(Ok(created)) = action.value().get() {
            toasts.success(format!(
                "Campaign \u{201c}{}\u{201d} created. Share its public page to get applications.",
                created.name
            ));
            navigate(&format!("/app/campaigns/{}", created.id), Default::default());
        }
    });
    view! {
        <Title text="New campaign · Rekomi"/>
        <h1>"New campaign"</h1>
        <CampaignEditor initial=CampaignForm::default() action submit_label="Create campaign"/>
    }
}

#[component]
pub fn EditCampaign() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<CampaignId>().ok());
    let campaign = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_campaign(id).await,
            None => Err(AppError::not_found("campaign")),
        }
    });
    view! {
        <Title text="Edit campaign · Rekomi"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading campaign…"</p> }>
            {move || Suspend::new(async move {
                match campaign.await {
                    Ok(c) => {
                        let id = c.id;
                        let action = Action::new(move |form: &CampaignForm| update_campaign(id, form.clone()));
                        toast_on_success(action, |c: &CampaignView| format!("Campaign \u{201c}{}\u{201d} saved.", c.name));
                        view! {
                            <div class="page-head">
                                <h1>{c.name.clone()}</h1>
                                <a class="button secondary" href=c.landing_path.clone() target="_blank" rel="noopener">"Open public page"</a>
                            </div>
                            <p class="muted">
                                "Public page: "<code class="landing-path">{c.landing_path.clone()}</code>
                                " · terms version "{c.terms_version}
                            </p>
                            <CampaignEditor initial=c.to_form() action submit_label="Save changes"/>
                            <crate::pages::branding::BrandingEditor campaign=id/>
                            <crate::pages::discounts::DiscountEditor campaign=id/>
                            <QuestionsEditor campaign=id/>
                            <crate::pages::klaviyo::CampaignListChoice campaign=id current=c.klaviyo_list.clone()/>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <h1>"Campaign not found"</h1>
                        <div class="banner error" role="alert">{e.message}</div>
                        <A href="/app/campaigns">"Back to campaigns"</A>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The campaign form. Checks run in the browser first (the same parser the server uses), so most
/// mistakes show without a round trip; the server's verdict is shown the same way.
#[component]
fn CampaignEditor(
    initial: CampaignForm,
    action: Action<CampaignForm, Result<CampaignView, AppError>>,
    submit_label: &'static str,
) -> impl IntoView {
    let name = RwSignal::new(initial.name);
    let slug = RwSignal::new(initial.slug);
    let pitch = RwSignal::new(initial.pitch);
    let terms = RwSignal::new(initial.terms);
    let kind = RwSignal::new(initial.commission_kind);
    let rate = RwSignal::new(initial.commission_rate);
    let amount = RwSignal::new(initial.commission_amount);
    let currency = RwSignal::new(initial.currency);
    let cookie_days = RwSignal::new(initial.cookie_days);
    let attribution = RwSignal::new(initial.attribution);
    let hold_days = RwSignal::new(initial.hold_days);
    let min_payout = RwSignal::new(initial.min_payout);
    let destination_url = RwSignal::new(initial.destination_url);
    let auto_approve = RwSignal::new(initial.auto_approve);
    let accepting = RwSignal::new(initial.accepting);
    let snapshot = move || CampaignForm {
        name: name.get_untracked(),
        slug: slug.get_untracked(),
        pitch: pitch.get_untracked(),
        terms: terms.get_untracked(),
        commission_kind: kind.get_untracked(),
        commission_rate: rate.get_untracked(),
        commission_amount: amount.get_untracked(),
        currency: currency.get_untracked(),
        cookie_days: cookie_days.get_untracked(),
        attribution: attribution.get_untracked(),
        hold_days: hold_days.get_untracked(),
        min_payout: min_payout.get_untracked(),
        destination_url: destination_url.get_untracked(),
        auto_approve: auto_approve.get_untracked(),
        accepting: accepting.get_untracked(),
    };
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || local_error.get().or_else(|| action.value().get().and_then(Result::err)));
    Effect::new(move || {
        if let Some(Ok(view)) = action.value().get() {
            slug.set(view.slug);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = snapshot();
        match form.parse() {
            Err(fields) => local_error.set(Some(AppError::invalid(fields))),
            Ok(_) => {
                local_error.set(None);
                action.dispatch(form);
            }
        }
    };
    view! {
        <form class="campaign-form" on:submit=on_submit novalidate>
            <ErrorBanner error/>
            <fieldset>
                <legend>"Program"</legend>
                <label for="name">"Campaign name"</label>
                <input id="name" bind:value=name maxlength="80"/>
                <FieldError error field="name"/>
                <label for="slug">"Web address name"</label>
                <input id="slug" bind:value=slug placeholder="derived from the name"/>
                <p class="hint">"Lower-case letters, digits and hyphens; the public page is /join/your-shop/this-name."</p>
                <FieldError error field="slug"/>
                <label for="pitch">"Pitch"</label>
                <textarea id="pitch" rows="4" bind:value=pitch></textarea>
                <FieldError error field="pitch"/>
                <label for="terms">"Program terms"</label>
                <textarea id="terms" rows="8" bind:value=terms></textarea>
                <p class="hint">"Affiliates must accept these to apply. Changing them starts a new terms version."</p>
                <FieldError error field="terms"/>
            </fieldset>
            <fieldset>
                <legend>"Commission"</legend>
                <div class="radio-row">
                    <label><input type="radio" name="commission_kind" value="percent" bind:group=kind/>" Percentage of each order"</label>
                    <label><input type="radio" name="commission_kind" value="flat" bind:group=kind/>" Flat amount per order"</label>
                </div>
                <FieldError error field="commission_kind"/>
                <Show when=move || kind.get() == "percent">
                    <label for="commission_rate">"Rate (%)"</label>
                    <input id="commission_rate" inputmode="decimal" bind:value=rate/>
                    <FieldError error field="commission_rate"/>
                </Show>
                <Show when=move || kind.get() == "flat">
                    <label for="commission_amount">"Amount"</label>
                    <input id="commission_amount" inputmode="decimal" bind:value=amount/>
                    <FieldError error field="commission_amount"/>
                </Show>
                <label for="currency">"Currency"</label>
                <select id="currency" prop:value=move || currency.get() on:change=move |ev| currency.set(event_target_value(&ev))>
                    {Currency::all().map(|c| view! { <option value=c selected=move || currency.get() == c>{c}</option> }).collect_view()}
                </select>
                <FieldError error field="currency"/>
                <label for="cookie_days">"Cookie window (days)"</label>
                <input id="cookie_days" inputmode="numeric" bind:value=cookie_days/>
                <FieldError error field="cookie_days"/>
                <label for="attribution">"When a visitor followed several affiliates' links"</label>
                <select id="attribution" prop:value=move || attribution.get() on:change=move |ev| attribution.set(event_target_value(&ev))>
                    <option value="last" selected=move || attribution.get() == "last">"Last click earns the sale"</option>
                    <option value="first" selected=move || attribution.get() == "first">"First click earns the sale"</option>
                </select>
                <FieldError error field="attribution"/>
                <label for="hold_days">"Hold commissions for (days, past your refund window)"</label>
                <input id="hold_days" inputmode="numeric" bind:value=hold_days/>
                <FieldError error field="hold_days"/>
                <label for="min_payout">"Minimum payout (empty: any amount)"</label>
                <input id="min_payout" inputmode="decimal" placeholder="e.g. 50.00" bind:value=min_payout/>
                <FieldError error field="min_payout"/>
                <label for="destination_url">"Shop address (where tracking links send visitors)"</label>
                <input id="destination_url" type="url" placeholder="https://shop.example.com" bind:value=destination_url/>
                <FieldError error field="destination_url"/>
            </fieldset>
            <fieldset>
                <legend>"Applications"</legend>
                <label class="check"><input type="checkbox" id="accepting" bind:checked=accepting/>" Accepting applications"</label>
                <label class="check"><input type="checkbox" id="auto_approve" bind:checked=auto_approve/>" Approve applications automatically"</label>
            </fieldset>
            <div class="actions">
                <button type="submit" disabled=move || action.pending().get()>{submit_label}</button>
            </div>
        </form>
    }
}

/// The campaign's own application questions: added, edited, reordered by removing and adding,
/// saved together. Each row keeps a local key, so removing one leaves the others' typing alone.
#[component]
fn QuestionsEditor(campaign: CampaignId) -> impl IntoView {
    let loaded = Resource::new(|| (), move |_| campaign_questions(campaign));
    view! {
        <section class="card questions" data-testid="questions">
            <h2>"Application questions"</h2>
            <p class="muted">"Asked on the landing page after the standard fields (it stays script-free). \
                The answers show in the approval queue, on each affiliate's page and in the affiliates export."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading questions…"</p> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(initial) => view! { <QuestionList campaign initial/> }.into_any(),
                        Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

type QuestionRows = RwSignal<Vec<(usize, RwSignal<QuestionForm>)>>;

#[component]
fn QuestionList(campaign: CampaignId, initial: Vec<QuestionForm>) -> impl IntoView {
    let next = StoredValue::new(initial.len());
    let keyed = |list: Vec<QuestionForm>| list.into_iter().enumerate().map(|(k, q)| (k, RwSignal::new(q))).collect();
    let rows: QuestionRows = RwSignal::new(keyed(initial));
    let save = Action::new(move |list: &Vec<QuestionForm>| save_campaign_questions(campaign, list.clone()));
    toast_on_success(save, |saved: &Vec<QuestionForm>| {
        crate::components::count_of(i64::try_from(saved.len()).unwrap_or(0), "question", "questions") + " saved."
    });
    // Saved: each row takes its stored id (same order), so a second save updates rather than adds.
    Effect::new(move || {
        if let Some(Ok(saved)) = save.value().get() {
            let same = rows.with_untracked(|r| r.len() == saved.len());
            if same {
                rows.with_untracked(|r| r.iter().zip(saved).for_each(|((_, q), stored)| q.set(stored)));
            } else {
                let first = next.get_value();
                next.set_value(first + saved.len());
                rows.set(saved.into_iter().enumerate().map(|(i, q)| (first + i, RwSignal::new(q))).collect());
            }
        }
    });
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let add = move |_| {
        let k = next.get_value();
        next.set_value(k + 1);
        let blank = QuestionForm { kind: "short_text".into(), ..Default::default() };
        rows.update(|r| r.push((k, RwSignal::new(blank))));
    };
    let submit = move |_| {
        save.dispatch(rows.get_untracked().iter().map(|(_, q)| q.get_untracked()).collect());
    };
    view! {
        <ErrorBanner error/>
        {move || rows.with(Vec::is_empty).then(|| view! { <p class="muted">"No questions yet: applicants fill in only the standard fields."</p> })}
        <ol class="question-list">
            <For each=move || rows.get() key=|(k, _)| *k let:row>
                <QuestionRow row_key=row.0 question=row.1 rows error/>
            </For>
        </ol>
        <div class="actions">
            <button type="button" class="secondary" on:click=add
                disabled=move || rows.with(|r| r.len() >= crate::domain::questions::MAX_QUESTIONS)>"Add a question"</button>
            <button type="button" on:click=submit disabled=move || save.pending().get()>"Save questions"</button>
        </div>
    }
}

#[component]
fn QuestionRow(
    row_key: usize,
    question: RwSignal<QuestionForm>,
    rows: QuestionRows,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    use crate::domain::questions::QuestionKind;
    let position = move || rows.with(|r| r.iter().position(|(k, _)| *k == row_key).unwrap_or(0));
    let message =
        move || error.get().and_then(|e| e.fields.get(&format!("questions.{}", position())).map(str::to_owned));
    let is_choice = move || question.with(|q| q.kind == QuestionKind::Choice.as_str());
    view! {
        <li class="question" data-question=row_key>
            <label for=format!("question-label-{row_key}")>{move || format!("Question {}", position() + 1)}</label>
            <input id=format!("question-label-{row_key}") maxlength="200"
                prop:value=move || question.with(|q| q.label.clone())
                on:input=move |ev| question.update(|q| q.label = event_target_value(&ev))/>
            <label for=format!("question-kind-{row_key}")>"Answered with"</label>
            <select id=format!("question-kind-{row_key}") on:change=move |ev| question.update(|q| q.kind = event_target_value(&ev))>
                {QuestionKind::ALL.into_iter().map(|k| view! {
                    <option value=k.as_str() selected=move || question.with(|q| q.kind == k.as_str())>{k.label()}</option>
                }).collect_view()}
            </select>
            <Show when=is_choice>
                <label for=format!("question-choices-{row_key}")>"Choices, one a line"</label>
                <textarea id=format!("question-choices-{row_key}") rows="3"
                    prop:value=move || question.with(|q| q.choices.clone())
                    on:input=move |ev| question.update(|q| q.choices = event_target_value(&ev))></textarea>
            </Show>
            <label class="check">
                <input type="checkbox" prop:checked=move || question.with(|q| q.required)
                    on:change=move |ev| question.update(|q| q.required = event_target_checked(&ev))/>
                " Required"
            </label>
            {move || message().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            <button type="button" class="secondary" on:click=move |_| rows.update(|r| r.retain(|(k, _)| *k != row_key))>
                "Remove"
            </button>
        </li>
    }
}
