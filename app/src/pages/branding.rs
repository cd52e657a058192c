//! The campaign's landing-page look, edited beside the campaign: a brand colour (saved with a
//! server function) and the logo and hero image (each file sent as it is chosen, checked and
//! stored by the server), with a preview of the page's top.

use crate::api::campaigns::{campaign_branding, save_brand_color};
use crate::components::form::ErrorBanner;
use crate::components::toast::use_toasts;
use crate::domain::branding::{BrandColor, BrandImage, Branding, ImageSlot};
use crate::domain::CampaignId;
use crate::error::AppError;
use leptos::prelude::*;

#[component]
pub fn BrandingEditor(campaign: CampaignId) -> impl IntoView {
    let loaded = Resource::new(|| (), move |_| campaign_branding(campaign));
    let session = crate::pages::session::use_session().0;
    view! {
        <section class="card branding" data-testid="branding">
            <h2>"Landing page look"</h2>
            <p class="muted">"Your colour, logo and an optional hero picture on the campaign's public page. \
                Rekomi stores and serves the images itself (no third party), and the page stays script-free."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading the page's look…"</p> }>
                {move || Suspend::new(async move {
                    let merchant_name = session.await.ok().flatten().map(|s| s.merchant_name).unwrap_or_default();
                    match loaded.await {
                        Ok(initial) => view! { <BrandingForm campaign initial merchant_name/> }.into_any(),
                        Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn BrandingForm(campaign: CampaignId, initial: Branding, merchant_name: String) -> impl IntoView {
    let toasts = use_toasts();
    let branding = RwSignal::new(initial.clone());
    let color = RwSignal::new(initial.color.map(BrandColor::hex).unwrap_or_default());
    let save = Action::new(move |c: &String| save_brand_color(campaign, c.clone()));
    // A colour that doesn't parse is named here, with the server's own words, without a request.
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || local_error.get().or_else(|| save.value().get().and_then(Result::err)));
    let submit = move |raw: String| match raw.trim() {
        "" => {
            local_error.set(None);
            save.dispatch(String::new());
        }
        typed => match BrandColor::parse(typed) {
            Ok(c) => {
                local_error.set(None);
                save.dispatch(c.hex());
            }
            Err(message) => local_error.set(Some(AppError::field("color", message))),
        },
    };
    Effect::new(move || {
        if let Some(Ok(saved)) = save.value().get() {
            color.set(saved.color.map(BrandColor::hex).unwrap_or_default());
            toasts.success(match saved.color {
                Some(c) => format!("Brand colour {} saved.", c.hex()),
                None => "The page uses Rekomi's colours again.".to_owned(),
            });
            branding.update(|b| b.color = saved.color);
        }
    });
    // The preview follows what is typed once it is a colour; the saved one otherwise.
    let preview = move || {
        let typed = BrandColor::parse(&color.get()).ok();
        Branding { color: typed.or(branding.with(|b| b.color)), ..branding.get() }
    };
    let picker_value =
        move || BrandColor::parse(&color.get()).map(BrandColor::hex).unwrap_or_else(|_| "#4f46e5".into());
    let logo_alt = format!("{merchant_name} logo");
    view! {
        <div class="brand-preview join" class:branded=move || preview().color.is_some()
            style=move || preview().style() aria-label="Preview of the page's top" data-testid="brand-preview">
            <header class="brand-band">
                {move || branding.with(|b| b.logo.clone()).map(|logo| view! {
                    <img class="brand-logo" src=logo.url width=logo.width height=logo.height alt=logo_alt.clone()/>
                })}
                <p class="eyebrow">{merchant_name.clone()}" affiliate program"</p>
            </header>
        </div>
        <ErrorBanner error/>
        <label for="brand-color">"Brand colour"</label>
        <div class="color-row">
            <input type="color" aria-label="Pick the brand colour" prop:value=picker_value
                on:input=move |ev| color.set(event_target_value(&ev))/>
            <input id="brand-color" placeholder="#1f6feb" maxlength="7" bind:value=color/>
            <button type="button" on:click=move |_| submit(color.get_untracked())
                disabled=move || save.pending().get()>"Save colour"</button>
            <button type="button" class="secondary" on:click=move |_| submit(String::new())
                disabled=move || save.pending().get() || branding.with(|b| b.color.is_none())>"Use Rekomi's colours"</button>
        </div>
        <p class="hint">"The band at the top and the buttons take this colour; text on them is white or black, whichever reads better."</p>
        <ImageField campaign place=ImageSlot::Logo branding/>
        <ImageField campaign place=ImageSlot::Hero branding/>
    }
}

#[component]
// `place`, not `slot`: the view macro reads a `slot` attribute as leptos's own slot syntax.
fn ImageField(campaign: CampaignId, place: ImageSlot, branding: RwSignal<Branding>) -> impl IntoView {
    let slot = place;
    let toasts = use_toasts();
    let input = NodeRef::<leptos::html::Input>::new();
    let busy = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let current = move || branding.with(|b| if slot == ImageSlot::Logo { b.logo.clone() } else { b.hero.clone() });
    let url = format!("/api/campaigns/{campaign}/images/{}", slot.as_str());
    let send = move |method: &'static str, file: Option<web_sys::File>| {
        busy.set(true);
        problem.set(None);
        crate::components::streaming::send_file(method, &url, file, move |status, text| {
            busy.set(false);
            match (status, serde_json::from_str::<Branding>(&text), serde_json::from_str::<AppError>(&text)) {
                (200, Ok(saved), _) => {
                    let what = slot.label();
                    toasts.success(if method == "PUT" {
                        format!("The {what} is on the page.")
                    } else {
                        format!("The {what} was removed.")
                    });
                    branding.set(saved);
                }
                (_, _, Ok(e)) => {
                    problem.set(Some(e.fields.iter().next().map(|(_, m)| m.to_owned()).unwrap_or(e.message)))
                }
                (0, _, _) => problem.set(Some("Rekomi can't be reached. Check your connection and try again.".into())),
                _ => problem.set(Some(AppError::internal().message)),
            }
        });
    };
    let send_upload = send.clone();
    let on_change = move |_| {
        if let Some(file) = crate::pages::import::chosen_file(input) {
            // Judged here first (type and size), so an obvious mistake costs no upload.
            let size = usize::try_from(file_size(&file)).unwrap_or(usize::MAX);
            match crate::domain::branding::pre_check(slot, &file_type(&file), size) {
                Ok(()) => send_upload("PUT", Some(file)),
                Err(message) => problem.set(Some(message)),
            }
        }
        if let Some(el) = input.get_untracked() {
            el.set_value("");
        }
    };
    let id = format!("{}-file", slot.as_str());
    let (heading, hint) = match slot {
        ImageSlot::Logo => {
            ("Logo", "PNG, JPEG, WebP or GIF up to 512 KB, at least 32×32 pixels; shown up to 3 rem high.")
        }
        ImageSlot::Hero => (
            "Hero image (optional)",
            "PNG, JPEG, WebP or GIF up to 3 MB, at least 640×160 pixels; shown full width above the pitch.",
        ),
    };
    view! {
        <fieldset class="image-field" data-testid=format!("{}-field", slot.as_str())>
            <legend>{heading}</legend>
            {move || match current() {
                Some(BrandImage { url, width, height, size }) => view! {
                    <p class="image-current">
                        <img src=url.clone() width=width height=height alt="" class=format!("preview-{}", slot.as_str())/>
                        <span class="muted">{format!("{width}×{height} px · {} KB", (size + 1023) / 1024)}</span>
                    </p>
                }.into_any(),
                None => view! { <p class="muted">{format!("No {} yet.", slot.label())}</p> }.into_any(),
            }}
            <label for=id.clone()>{move || if current().is_some() { "Replace with" } else { "Upload" }}</label>
            <input id=id type="file" accept="image/png,image/jpeg,image/webp,image/gif" node_ref=input
                on:change=on_change disabled=move || busy.get()/>
            <p class="hint">{hint}</p>
            {move || busy.get().then(|| view! { <p class="loading" role="status">"Uploading…"</p> })}
            {move || problem.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            <Show when=move || current().is_some()>
                <button type="button" class="secondary" disabled=move || busy.get()
                    on:click={
                        let send = send.clone();
                        move |_| send("DELETE", None)
                    }>{format!("Remove the {}", slot.label())}</button>
            </Show>
        </fieldset>
    }
}

fn file_type(file: &web_sys::File) -> String {
    #[cfg(feature = "hydrate")]
    {
        file.type_()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = file;
        String::new()
    }
}

fn file_size(file: &web_sys::File) -> u64 {
    #[cfg(feature = "hydrate")]
    {
        file.size() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = file;
        0
    }
}
