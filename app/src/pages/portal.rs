//! The affiliate portal: server-rendered like the landing page, plain forms that work without
//! JavaScript (the copy buttons are the only script, and the text stays selectable without it).

pub use crate::api::views::PortalDashboard;
use leptos::prelude::*;

/// What the portal page shows.
#[derive(Debug, Clone)]
pub enum PortalState {
    /// Ask for an email; `notice` answers a previous request, `error` says what was wrong.
    /// `emailed`: the merchant's Klaviyo is connected to carry links (else the merchant hands them out).
    SignIn {
        notice: Option<String>,
        error: Option<String>,
        email: String,
        emailed: bool,
    },
    /// The link from the email: one button that signs in (a POST, so link scanners can't use it up).
    Confirm {
        token: String,
    },
    Dashboard {
        dashboard: Box<PortalDashboard>,
        notice: Option<String>,
        error: Option<String>,
    },
}

#[component]
pub fn PortalPage(merchant_name: String, base: String, state: PortalState) -> impl IntoView {
    match state {
        PortalState::SignIn { notice, error, email, emailed } => view! {
            <main class="join portal">
                <p class="eyebrow">{merchant_name.clone()}" affiliate portal"</p>
                <h1>"Sign in"</h1>
                <p>{if emailed {
                    format!("Enter the email you joined with: {merchant_name} emails you a sign-in link that works once, for 15 minutes.")
                } else {
                    format!("{merchant_name} hands out sign-in links personally: ask them for one. Each works once, for 15 minutes.")
                }}</p>
                {notice.map(|n| view! { <p class="notice" role="status">{n}</p> })}
                {error.clone().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {emailed.then(|| view! {
                    <form method="post" action=format!("{base}/link")>
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="email" required value=email/>
                        <button type="submit">"Email me a sign-in link"</button>
                    </form>
                })}
            </main>
        }
        .into_any(),
        PortalState::Confirm { token } => view! {
            <main class="join portal">
                <p class="eyebrow">{merchant_name.clone()}" affiliate portal"</p>
                <h1>"Sign in"</h1>
                <form method="post" action=format!("{base}/login")>
                    <input type="hidden" name="token" value=token/>
                    <button type="submit">"Sign in to your dashboard"</button>
                </form>
            </main>
        }
        .into_any(),
        PortalState::Dashboard { dashboard, notice, error } => {
            view! { <Dashboard merchant_name base dashboard=*dashboard notice error/> }.into_any()
        }
    }
}

#[component]
fn Dashboard(
    merchant_name: String,
    base: String,
    dashboard: PortalDashboard,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    let d = dashboard;
    let copy = |id: &'static str, value: String| {
        view! {
            <div class="copy-field">
                <input id=id readonly value=value/>
                <button type="button" class="secondary" data-copy=id>"Copy"</button>
            </div>
        }
    };
    view! {
        <main class="join portal">
            <p class="eyebrow">{merchant_name}" affiliate portal"</p>
            <h1>{format!("Hi {}", d.first_name)}</h1>
            {notice.map(|n| view! { <p class="notice" role="status">{n}</p> })}
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {d.paused.then(|| view! {
                <p class="error" role="status" data-testid="paused">
                    {format!("{} has paused your affiliate account: your link and code don't earn commissions \
                      right now. What you earned before stays below; ask the shop if you have questions.", d.merchant_name.clone())}
                </p>
            })}
            {d.closed.then(|| view! {
                <p class="error" role="status" data-testid="closed">
                    {format!("{} has closed your affiliate account: your link and code no longer earn commissions. \
                      What you earned before stays below; ask the shop if you have questions.", d.merchant_name.clone())}
                </p>
            })}
            <p>{format!("{}: {}. Cookie window {} days; commissions are approved {} days after the order.",
                d.campaign_name, d.commission, d.cookie_days, d.hold_days)}</p>
            <section>
                <h2>"Your link"</h2>
                {match (d.link, d.code) {
                    (Some(link), Some(code)) => view! {
                        <label for="link">"Tracking link"</label>
                        {copy("link", link)}
                        <label for="code">"Referral code (works as ?ref= on any shop page)"</label>
                        {copy("code", code)}
                    }.into_any(),
                    _ => view! { <p>"Your link appears here once the shop sets up its tracking."</p> }.into_any(),
                }}
                {d.coupon.map(|c| view! {
                    <label for="coupon">{match d.coupon_terms.clone() {
                        Some(terms) => format!("Discount code for your audience ({terms})"),
                        None => "Coupon code".to_owned(),
                    }}</label>
                    {copy("coupon", c)}
                })}
                {d.coupon_link.map(|l| view! {
                    <label for="coupon-link">"Link that applies your code in the shop (and counts as yours)"</label>
                    {copy("coupon-link", l)}
                })}
            </section>
            <section>
                <h2>"Results"</h2>
                <dl class="stats" data-testid="portal-stats">
                    <div><dt>"Clicks"</dt><dd>{d.clicks}</dd></div>
                    <div><dt>"Conversions"</dt><dd>{d.conversions}</dd></div>
                    <div><dt>"Pending"</dt><dd data-testid="pending">{d.earnings.pending.clone()}</dd></div>
                    <div><dt>"Approved"</dt><dd>{d.earnings.approved.clone()}</dd></div>
                    <div><dt>"Paid"</dt><dd>{d.earnings.paid.clone()}</dd></div>
                </dl>
                {(!d.recent.is_empty()).then(|| view! {
                    <table tabindex="0">
                        <thead><tr><th>"Order"</th><th>"Date"</th><th>"Commission"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {d.recent.into_iter().map(|c| view! {
                                <tr>
                                    <td>{c.order}</td>
                                    <td>{c.date}</td>
                                    <td>{c.amount}</td>
                                    <td>{c.state_label}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </section>
            <section>
                <h2>"Payouts"</h2>
                {if d.payouts.is_empty() {
                    view! { <p class="muted">"No payouts yet: approved commissions are paid in the shop's next payout run."</p> }.into_any()
                } else {
                    view! {
                        <table tabindex="0" data-testid="payouts">
                            <thead><tr><th>"Payout"</th><th>"Amount"</th><th>"Commissions"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {d.payouts.into_iter().map(|p| view! {
                                    <tr>
                                        <td>{format!("#{}", p.id)}</td>
                                        <td>{p.amount}</td>
                                        <td>{p.lines}</td>
                                        <td>{match (p.state.as_str(), p.paid_at) {
                                            ("paid", Some(at)) if p.credit.is_some() => format!("Paid {at} as store credit in the shop, on the customer account with your email"),
                                            ("paid", Some(at)) => format!("Paid {at} to {}", p.payout_email),
                                            _ => format!("On its way to {}", p.payout_email),
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <form method="post" action=format!("{base}/payout")>
                    <label for="payout_email">"PayPal email for payouts"</label>
                    <input id="payout_email" name="payout_email" type="email" placeholder=d.own_email value=d.payout_email/>
                    <p class="hint">"Leave it empty to be paid at the address you joined with."</p>
                    <button type="submit">"Save payout email"</button>
                </form>
                <form method="post" action=format!("{base}/logout")>
                    <button type="submit" class="secondary">"Sign out"</button>
                </form>
            </section>
            <script inner_html=COPY_SCRIPT></script>
        </main>
    }
}

const COPY_SCRIPT: &str = "document.addEventListener('click',function(e){var b=e.target.closest('[data-copy]');\
if(!b)return;var i=document.getElementById(b.getAttribute('data-copy'));i.select();\
(navigator.clipboard?navigator.clipboard.writeText(i.value):Promise.reject()).then(function(){b.textContent='Copied';},\
function(){document.execCommand('copy');b.textContent='Copied';});});";
