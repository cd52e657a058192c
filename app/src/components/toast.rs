//! Short confirmations ("Campaign saved") and failures that are not about one field, shown in one
//! corner of every merchant page. The region is a live region, so screen readers announce them.

use leptos::prelude::*;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ToastKind {
    Success,
    Error,
}

#[derive(Clone, Debug)]
struct Toast {
    id: u64,
    kind: ToastKind,
    message: String,
}

/// The page's toasts; get it with `use_toasts()`.
#[derive(Clone, Copy)]
pub struct Toasts {
    items: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

/// How long a toast stays. Errors stay until dismissed: a merchant may be looking elsewhere.
const SUCCESS_FOR: Duration = Duration::from_secs(5);

impl Toasts {
    pub fn success(&self, message: impl Into<String>) {
        self.push(ToastKind::Success, message.into());
    }

    pub fn error(&self, message: impl Into<String>) {
        self.push(ToastKind::Error, message.into());
    }

    fn push(&self, kind: ToastKind, message: String) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        // The same message twice in a row (a double click) shows once.
        self.items.update(|items| {
            items.retain(|t| t.message != message);
            items.push(Toast { id, kind, message });
            if items.len() > 3 {
                items.remove(0);
            }
        });
        if kind == ToastKind::Success {
            let items = self.items;
            set_timeout(move || items.update(|items| items.retain(|t| t.id != id)), SUCCESS_FOR);
        }
    }

    fn dismiss(&self, id: u64) {
        self.items.update(|items| items.retain(|t| t.id != id));
    }
}

pub fn provide_toasts() {
    provide_context(Toasts { items: RwSignal::new(Vec::new()), next: StoredValue::new(0) });
}

/// The toasts of the merchant layout. A component outside it gets a detached set (nothing shows),
/// so a page works the same in a test without the layout.
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(|| Toasts { items: RwSignal::new(Vec::new()), next: StoredValue::new(0) })
}

#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    // Two regions: polite for confirmations, assertive for failures.
    let list = move |kind: ToastKind| {
        move || {
            toasts
                .items
                .get()
                .into_iter()
                .filter(|t| t.kind == kind)
                .map(|t| {
                    let id = t.id;
                    let class = match t.kind {
                        ToastKind::Success => "toast success",
                        ToastKind::Error => "toast error",
                    };
                    view! {
                        <div class=class>
                            <span>{t.message}</span>
                            <button type="button" class="link" aria-label="Dismiss" on:click=move |_| toasts.dismiss(id)>
                                "×"
                            </button>
                        </div>
                    }
                })
                .collect_view()
        }
    };
    view! {
        <div class="toasts">
            <div role="status" aria-live="polite">{list(ToastKind::Success)}</div>
            <div role="alert" aria-live="assertive">{list(ToastKind::Error)}</div>
        </div>
    }
}
