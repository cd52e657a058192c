//! Where the built stylesheet is served from. With `hash-files` cargo-leptos renames the css, js
//! and wasm to `name.<hash>.ext` (so they can be cached for ever) and writes the hashes to a file
//! beside the server binary; leptos reads that file for the scripts, and this does the same for
//! the stylesheet, which the merchant shell and the server-rendered public pages both link.

use leptos::config::LeptosOptions;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The hash file cargo-leptos writes beside the binary, when there is one.
pub fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.parent()?.join(options.hash_file.as_ref());
    path.is_file().then_some(path)
}

static HREF: OnceLock<String> = OnceLock::new();

/// The stylesheet's address as the first call to `stylesheet_href` found it (the router makes that
/// call when it is built), for pages rendered without the leptos options at hand.
pub fn stylesheet() -> &'static str {
    HREF.get().map_or("/pkg/rekomi.css", String::as_str)
}

/// `/pkg/rekomi.css`, or `/pkg/rekomi.<hash>.css` when the files are hashed.
pub fn stylesheet_href(options: &LeptosOptions) -> &'static str {
    HREF.get_or_init(|| {
        let hash = options
            .hash_files
            .then(|| hash_file(options))
            .flatten()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| css_hash(&text));
        let name = match hash {
            Some(hash) => format!("{}.{hash}", options.output_name),
            None => options.output_name.to_string(),
        };
        format!("/{}/{name}.css", options.site_pkg_dir)
    })
}

fn css_hash(hash_file: &str) -> Option<String> {
    hash_file.lines().find_map(|line| {
        let (kind, hash) = line.split_once(':')?;
        (kind.trim() == "css").then(|| hash.trim().to_owned()).filter(|h| !h.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::css_hash;

    #[test]
    fn the_css_line_of_the_hash_file_names_the_stylesheet() {
        assert_eq!(css_hash("js: abc\nwasm: def\ncss: Xy-z_1\n").as_deref(), Some("Xy-z_1"));
        assert_eq!(css_hash("js: abc\n"), None);
        assert_eq!(css_hash("css: \n"), None);
    }
}
