//! A daily chart drawn as SVG by the app itself: clicks and conversions as bars on one scale,
//! commission as a line on its own. No chart library, no CDN.

use crate::api::views::DailyPoint;
use crate::components::count_of;
use leptos::prelude::*;

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD_L: f64 = 44.0;
const PAD_B: f64 = 28.0;
const PAD_T: f64 = 12.0;

fn nice_max(v: i64) -> i64 {
    let v = v.max(1);
    let mag = 10_i64.pow(v.ilog10());
    let lead = (v + mag - 1) / mag;
    lead * mag
}

#[component]
pub fn DailyChart(
    days: Vec<DailyPoint>,
    currency: Option<String>,
    exponent: u8,
    /// Commission earned in the range per currency ("120.00 USD"): the line charts one currency,
    /// the caption names them all.
    #[prop(optional)]
    totals: Vec<String>,
) -> impl IntoView {
    let n = days.len().max(1) as f64;
    let counts_max = nice_max(days.iter().map(|d| d.clicks.max(d.conversions)).max().unwrap_or(0));
    let money_max = nice_max(days.iter().map(|d| d.commission_minor).max().unwrap_or(0));
    let plot_w = W - PAD_L - 8.0;
    let plot_h = H - PAD_B - PAD_T;
    let slot = plot_w / n;
    let y = move |v: i64, max: i64| PAD_T + plot_h - plot_h * (v as f64) / (max as f64);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = PAD_L + slot * i as f64;
            let bw = (slot * 0.38).max(1.0);
            let commission = currency
                .as_deref()
                .map(|c| format!(", {:.*} {c} commission", usize::from(exponent), d.commission_minor as f64 / 10_f64.powi(i32::from(exponent))))
                .unwrap_or_default();
            let title = format!(
                "{}: {}, {}{commission}",
                d.day,
                count_of(d.clicks, "click", "clicks"),
                count_of(d.conversions, "conversion", "conversions")
            );
            view! {
                <g>
                    <title>{title}</title>
                    <rect class="bar clicks" x=format!("{:.1}", x + slot * 0.1) y=format!("{:.1}", y(d.clicks, counts_max))
                        width=format!("{bw:.1}") height=format!("{:.1}", PAD_T + plot_h - y(d.clicks, counts_max))/>
                    <rect class="bar conversions" x=format!("{:.1}", x + slot * 0.1 + bw) y=format!("{:.1}", y(d.conversions, counts_max))
                        width=format!("{bw:.1}") height=format!("{:.1}", PAD_T + plot_h - y(d.conversions, counts_max))/>
                </g>
            }
        })
        .collect_view();
    let line: String = days
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{:.1},{:.1}", PAD_L + slot * (i as f64 + 0.5), y(d.commission_minor, money_max)))
        .collect::<Vec<_>>()
        .join(" ");
    let dots: Vec<(String, String)> = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.commission_minor != 0 || days.len() == 1)
        .map(|(i, d)| {
            (format!("{:.1}", PAD_L + slot * (i as f64 + 0.5)), format!("{:.1}", y(d.commission_minor, money_max)))
        })
        .collect();
    let scale = 10_f64.powi(i32::from(exponent));
    let money_label = format!("{:.0} {}", money_max as f64 / scale, currency.clone().unwrap_or_default());
    let first = days.first().map(|d| d.day.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.day.clone()).unwrap_or_default();
    // A middle date on the time axis once there is room between the ends.
    let middle = (days.len() > 6).then(|| {
        let i = days.len() / 2;
        (PAD_L + slot * (i as f64 + 0.5), days[i].day.clone())
    });
    let counts_mid = counts_max / 2;
    let others: Vec<String> =
        totals.iter().filter(|t| currency.as_deref().is_none_or(|c| !t.ends_with(c))).cloned().collect();
    let total_clicks: i64 = days.iter().map(|d| d.clicks).sum();
    let total_conversions: i64 = days.iter().map(|d| d.conversions).sum();
    let summary = format!(
        "{} from {first} to {last}: {}, {}.",
        count_of(i64::try_from(days.len()).unwrap_or(i64::MAX), "day", "days"),
        count_of(total_clicks, "click", "clicks"),
        count_of(total_conversions, "conversion", "conversions")
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=summary.clone()>
                <line class="axis" x1=PAD_L y1=PAD_T + plot_h x2=W - 8.0 y2=PAD_T + plot_h/>
                <text class="tick" x=PAD_L - 6.0 y=PAD_T + 4.0 text-anchor="end">{counts_max}</text>
                <text class="tick" x=PAD_L - 6.0 y=PAD_T + plot_h text-anchor="end">"0"</text>
                {(counts_mid > 0 && counts_mid * 2 == counts_max).then(|| view! {
                    <line class="grid" x1=PAD_L y1=y(counts_mid, counts_max) x2=W - 8.0 y2=y(counts_mid, counts_max)/>
                    <text class="tick" x=PAD_L - 6.0 y=y(counts_mid, counts_max) + 4.0 text-anchor="end">{counts_mid}</text>
                })}
                {middle.map(|(x, day)| view! { <text class="tick" x=x y=H - 8.0 text-anchor="middle">{day}</text> })}
                <text class="tick" x=PAD_L y=H - 8.0>{first}</text>
                <text class="tick" x=W - 8.0 y=H - 8.0 text-anchor="end">{last}</text>
                {bars}
                {currency.is_some().then(|| view! {
                    <polyline class="line commission" points=line fill="none"/>
                    // A dot per day, so a one-day range (or a lone earning day) still shows its point.
                    {dots.clone().into_iter().map(|(x, y)| view! { <circle class="dot commission" cx=x cy=y r="3"/> }).collect_view()}
                    <text class="tick commission" x=W - 8.0 y=PAD_T + 4.0 text-anchor="end">{money_label}</text>
                })}
            </svg>
            <figcaption>
                <span class="key clicks">"Clicks"</span>
                <span class="key conversions">"Conversions"</span>
                {currency.map(|c| view! { <span class="key commission">{format!("Commission ({c}, own scale)")}</span> })}
                {(!others.is_empty()).then(|| view! {
                    <span class="muted" data-testid="other-currencies">
                        {format!("Also earned in other currencies (not on the line): {}.", others.join(", "))}
                    </span>
                })}
                <span class="muted">{summary}</span>
            </figcaption>
        </figure>
    }
}
