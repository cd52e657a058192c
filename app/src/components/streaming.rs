//! Posting a file and reading the NDJSON answer as it streams in, for the import page's progress
//! bar: upload progress from the request, then the server's progress lines, then the report.

use crate::api::views::ImportProgress;

/// What a streaming post reports, in order.
pub enum StreamEvent {
    /// Bytes of the file sent so far, of the total.
    Uploaded(f64, f64),
    Line(ImportProgress),
    /// The request failed before the server answered with a report or an error.
    Failed(String),
}

/// Posts `file` (or nothing) to `url` and calls `on_event` as things happen.
#[cfg(feature = "hydrate")]
pub fn post(url: &str, file: Option<web_sys::File>, on_event: impl Fn(StreamEvent) + 'static) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let on_event = Rc::new(on_event);
    let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
        on_event(StreamEvent::Failed("This browser can't upload files here.".into()));
        return;
    };
    if xhr.open("POST", url).is_err() {
        on_event(StreamEvent::Failed("The upload could not start.".into()));
        return;
    }
    let _ = xhr.set_request_header("Content-Type", "text/csv");
    // How much of the answer was already read: lines arrive as the text grows.
    let read = Rc::new(Cell::new(0_usize));
    let answered = Rc::new(Cell::new(false));
    let drain = {
        let (xhr, read, answered, on_event) = (xhr.clone(), read.clone(), answered.clone(), on_event.clone());
        move |finished: bool| {
            let text = xhr.response_text().ok().flatten().unwrap_or_default();
            let start = read.get().min(text.len());
            let rest = &text[start..];
            let end = if finished { rest.len() } else { rest.rfind('\n').map_or(0, |i| i + 1) };
            for line in rest[..end].lines().filter(|l| !l.trim().is_empty()) {
                if let Ok(progress) = serde_json::from_str::<ImportProgress>(line) {
                    if !matches!(progress, ImportProgress::Progress { .. }) {
                        answered.set(true);
                    }
                    on_event(StreamEvent::Line(progress));
                }
            }
            read.set(start + end);
        }
    };
    let drain = Rc::new(drain);
    let on_progress = {
        let drain = drain.clone();
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |_| drain(false))
    };
    xhr.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    on_progress.forget();
    let on_load = {
        let (drain, answered, on_event) = (drain.clone(), answered.clone(), on_event.clone());
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |_| {
            drain(true);
            if !answered.get() {
                on_event(StreamEvent::Failed("The server ended the answer early; try again.".into()));
            }
        })
    };
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();
    let on_error = {
        let on_event = on_event.clone();
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |_| {
            on_event(StreamEvent::Failed("The connection was lost; check it and try again.".into()))
        })
    };
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    if let Ok(upload) = xhr.upload() {
        let on_event = on_event.clone();
        let on_upload = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            on_event(StreamEvent::Uploaded(e.loaded(), e.total()))
        });
        upload.set_onprogress(Some(on_upload.as_ref().unchecked_ref()));
        on_upload.forget();
    }
    let sent = match &file {
        Some(f) => xhr.send_with_opt_blob(Some(f.as_ref())),
        None => xhr.send(),
    };
    if sent.is_err() {
        on_event(StreamEvent::Failed("The upload could not start.".into()));
    }
}

/// On the server nothing is posted: pages only call this from event handlers.
#[cfg(not(feature = "hydrate"))]
pub fn post(_url: &str, _file: Option<web_sys::File>, _on_event: impl Fn(StreamEvent) + 'static) {}

/// Sends `file` (or an empty body) with `method` to `url` and calls `done` with the answer's status
/// and text once it has arrived; status 0 means the request never got an answer.
#[cfg(feature = "hydrate")]
pub fn send_file(method: &str, url: &str, file: Option<web_sys::File>, done: impl FnOnce(u16, String) + 'static) {
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let done: Rc<RefCell<Option<Box<dyn FnOnce(u16, String)>>>> = Rc::new(RefCell::new(Some(Box::new(done))));
    let finish = {
        let done = done.clone();
        move |status: u16, text: String| {
            if let Some(done) = done.borrow_mut().take() {
                done(status, text);
            }
        }
    };
    let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
        finish(0, String::new());
        return;
    };
    if xhr.open(method, url).is_err() {
        finish(0, String::new());
        return;
    }
    if let Some(kind) = file.as_ref().map(|f| f.type_()).filter(|t| !t.is_empty()) {
        let _ = xhr.set_request_header("Content-Type", &kind);
    }
    let finish = Rc::new(finish);
    let on_load = {
        let (xhr, finish) = (xhr.clone(), finish.clone());
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |_| {
            finish(xhr.status().unwrap_or(0), xhr.response_text().ok().flatten().unwrap_or_default())
        })
    };
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();
    let on_error = {
        let finish = finish.clone();
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |_| finish(0, String::new()))
    };
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let sent = match &file {
        Some(f) => xhr.send_with_opt_blob(Some(f.as_ref())),
        None => xhr.send(),
    };
    if sent.is_err() {
        finish(0, String::new());
    }
}

/// On the server nothing is sent: pages only call this from event handlers.
#[cfg(not(feature = "hydrate"))]
pub fn send_file(_method: &str, _url: &str, _file: Option<web_sys::File>, _done: impl FnOnce(u16, String) + 'static) {}
