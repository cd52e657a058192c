//! How a campaign's landing page looks: a brand colour and two images (a logo and an optional hero
//! picture), uploaded by the merchant and served by Rekomi itself, so the page stays script-free
//! and asks no third party for anything.

use serde::{Deserialize, Serialize};

/// A colour as `#rrggbb` (lower case). The landing page paints its band and buttons with it and
/// writes on it in whichever of near-black or white reads better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BrandColor([u8; 3]);

impl BrandColor {
    /// Accepts `#rrggbb`, `#rgb` and either without the `#`, in any case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let hex = raw.trim().trim_start_matches('#');
        let digits: Vec<u8> =
            hex.chars().map(|c| c.to_digit(16).map(|d| d as u8)).collect::<Option<_>>().ok_or_else(|| {
                format!("\u{201c}{}\u{201d} is not a colour: use six hex digits such as #1f6feb.", raw.trim())
            })?;
        match digits.as_slice() {
            [r, g, b] => Ok(Self([r * 17, g * 17, b * 17])),
            [r1, r2, g1, g2, b1, b2] => Ok(Self([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2])),
            _ => Err(format!("\u{201c}{}\u{201d} is not a colour: use six hex digits such as #1f6feb.", raw.trim())),
        }
    }

    pub fn hex(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// WCAG 2 relative luminance.
    fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    fn contrast(a: f64, b: f64) -> f64 {
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// A darker shade, for a button under the pointer.
    pub fn darker(self) -> Self {
        Self(self.0.map(|c| (u16::from(c) * 4 / 5) as u8))
    }

    /// Links on the white page: the colour itself when it reads well enough there (WCAG AA,
    /// 4.5:1), near-black otherwise.
    pub fn link_on_white(self) -> String {
        if Self::contrast(self.luminance(), 1.0) >= 4.5 {
            self.hex()
        } else {
            "#1a1a1a".to_owned()
        }
    }

    /// The text colour for this background: white or near-black, whichever contrasts more.
    pub fn text_on(self) -> &'static str {
        const INK: f64 = 0.010_3; // #1a1a1a
        let l = self.luminance();
        if Self::contrast(l, 1.0) >= Self::contrast(l, INK) {
            "#ffffff"
        } else {
            "#1a1a1a"
        }
    }
}

impl TryFrom<String> for BrandColor {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<BrandColor> for String {
    fn from(c: BrandColor) -> String {
        c.hex()
    }
}

/// Where on the landing page an image goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSlot {
    /// Beside the merchant's name at the top.
    Logo,
    /// A wide picture above the pitch.
    Hero,
}

impl ImageSlot {
    pub const ALL: [ImageSlot; 2] = [Self::Logo, Self::Hero];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logo => "logo",
            Self::Hero => "hero",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The largest file taken for this slot.
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Logo => 512 * 1024,
            Self::Hero => 3 * 1024 * 1024,
        }
    }

    /// The smallest width and height that still looks sharp where the image is shown.
    pub fn min_size(self) -> (u32, u32) {
        match self {
            Self::Logo => (32, 32),
            Self::Hero => (640, 160),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Logo => "logo",
            Self::Hero => "hero image",
        }
    }
}

/// Neither side of an image may exceed this: bigger only costs the visitor's data plan.
pub const MAX_SIDE: u32 = 6_000;

/// The formats a browser shows everywhere. SVG is refused: it can carry script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageFormat {
    const ALL: [ImageFormat; 4] = [Self::Png, Self::Jpeg, Self::Webp, Self::Gif];

    /// The name stored with the image.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    /// The format named by a served file's extension.
    pub fn from_extension(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == raw)
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }
}

/// An uploaded file that is a whole image of an accepted format and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// The format an image's own bytes say it is (its name and the browser's label can lie).
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some(ImageFormat::Png),
        [0xff, 0xd8, 0xff, ..] => Some(ImageFormat::Jpeg),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(ImageFormat::Webp),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(ImageFormat::Gif),
        _ => None,
    }
}

/// Checks a file for `slot`: an accepted format by its content, not too large in bytes or pixels,
/// large enough to look sharp. `dimensions` reads the width and height from the file's header.
pub fn check_image(
    slot: ImageSlot,
    bytes: &[u8],
    dimensions: impl FnOnce(&[u8]) -> Option<(u32, u32)>,
) -> Result<CheckedImage, String> {
    let name = slot.label();
    if bytes.is_empty() {
        return Err(format!("The {name} file is empty. Choose a PNG, JPEG, WebP or GIF image."));
    }
    if bytes.len() > slot.max_bytes() {
        return Err(format!(
            "The {name} is {} KB; the largest taken is {} KB. Save it smaller (or as JPEG or WebP) and upload it again.",
            bytes.len().div_ceil(1024),
            slot.max_bytes() / 1024
        ));
    }
    let format = match sniff(bytes) {
        Some(format) => format,
        None if bytes.trim_ascii_start().starts_with(b"<") => {
            return Err(format!(
                "SVG and other text files can't be used as the {name}: upload a PNG, JPEG, WebP or GIF image."
            ))
        }
        None => return Err(format!("This file is not a PNG, JPEG, WebP or GIF image, so it can't be the {name}.")),
    };
    let (width, height) = dimensions(bytes)
        .filter(|(w, h)| *w > 0 && *h > 0)
        .ok_or_else(|| format!("The {name} file is damaged or incomplete: its size can't be read."))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "The {name} is {width}×{height} pixels; neither side may exceed {MAX_SIDE}. Resize it and upload it again."
        ));
    }
    let (min_w, min_h) = slot.min_size();
    if width < min_w || height < min_h {
        return Err(format!("The {name} is {width}×{height} pixels; it needs at least {min_w}×{min_h} to look sharp."));
    }
    Ok(CheckedImage { format, width, height })
}

/// What the browser can judge before sending a file: its declared type and its size, in the same
/// words as [`check_image`] (the server still judges the bytes themselves).
pub fn pre_check(slot: ImageSlot, content_type: &str, size: usize) -> Result<(), String> {
    let name = slot.label();
    if size == 0 {
        return Err(format!("The {name} file is empty. Choose a PNG, JPEG, WebP or GIF image."));
    }
    if size > slot.max_bytes() {
        return Err(format!(
            "The {name} is {} KB; the largest taken is {} KB. Save it smaller (or as JPEG or WebP) and upload it again.",
            size.div_ceil(1024),
            slot.max_bytes() / 1024
        ));
    }
    let accepted = ["image/png", "image/jpeg", "image/webp", "image/gif"];
    match content_type {
        "" => Ok(()),
        t if accepted.contains(&t) => Ok(()),
        t if t == "image/svg+xml" || t.starts_with("text/") => {
            Err(format!("SVG and other text files can't be used as the {name}: upload a PNG, JPEG, WebP or GIF image."))
        }
        _ => Err(format!("This file is not a PNG, JPEG, WebP or GIF image, so it can't be the {name}.")),
    }
}

/// An image as pages show it: its address (named by its content, so it is cached for ever) and
/// its size (so the page doesn't jump as it loads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandImage {
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// Bytes, for the merchant's screen.
    pub size: i64,
}

/// The path an image is served at: its SHA-256 and its format's extension.
pub fn image_path(sha256: &str, format: ImageFormat) -> String {
    format!("/media/{sha256}.{}", format.extension())
}

/// A campaign's look as the merchant edits it and the landing page uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    pub color: Option<BrandColor>,
    pub logo: Option<BrandImage>,
    pub hero: Option<BrandImage>,
}

impl Branding {
    /// The inline style that sets the page's brand colours, if a colour is chosen. Built from a
    /// parsed colour only, so nothing a person typed reaches the attribute.
    pub fn style(&self) -> Option<String> {
        self.color.map(|c| {
            format!(
                "--brand:{};--brand-dark:{};--brand-ink:{};--brand-link:{}",
                c.hex(),
                c.darker().hex(),
                c.text_on(),
                c.link_on_white()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
        b.extend(w.to_be_bytes());
        b.extend(h.to_be_bytes());
        b.extend([8, 6, 0, 0, 0]);
        b
    }

    fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
        let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
        let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
        Some((w, h))
    }

    #[test]
    fn colours_parse_in_the_usual_spellings() {
        assert_eq!(BrandColor::parse("#1F6FEB").unwrap().hex(), "#1f6feb");
        assert_eq!(BrandColor::parse(" 1f6feb ").unwrap().hex(), "#1f6feb");
        assert_eq!(BrandColor::parse("#fa0").unwrap().hex(), "#ffaa00");
        assert!(BrandColor::parse("red").unwrap_err().contains("six hex digits"));
        assert!(BrandColor::parse("#12345").is_err());
        assert!(BrandColor::parse("#1f6feb;background:url(x)").is_err());
    }

    #[test]
    fn text_on_a_brand_colour_is_the_more_readable_of_white_and_ink() {
        assert_eq!(BrandColor::parse("#000000").unwrap().text_on(), "#ffffff");
        assert_eq!(BrandColor::parse("#1f6feb").unwrap().text_on(), "#ffffff");
        assert_eq!(BrandColor::parse("#ffd60a").unwrap().text_on(), "#1a1a1a");
        assert_eq!(BrandColor::parse("#ffffff").unwrap().text_on(), "#1a1a1a");
    }

    #[test]
    fn images_are_judged_by_their_bytes_and_size() {
        let ok = check_image(ImageSlot::Logo, &png(200, 80), png_size).unwrap();
        assert_eq!((ok.format, ok.width, ok.height), (ImageFormat::Png, 200, 80));
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
        assert!(check_image(ImageSlot::Logo, svg, |_| None).unwrap_err().contains("SVG"));
        assert!(check_image(ImageSlot::Logo, b"MZ\x90\x00", |_| None).unwrap_err().contains("not a PNG"));
        assert!(check_image(ImageSlot::Hero, &png(300, 300), png_size).unwrap_err().contains("at least 640×160"));
        assert!(check_image(ImageSlot::Logo, &png(9000, 100), png_size).unwrap_err().contains("exceed 6000"));
        assert!(check_image(ImageSlot::Logo, &png(100, 100)[..12], |_| None).unwrap_err().contains("damaged"));
        let big = [png(100, 100), vec![0; 600 * 1024]].concat();
        assert!(check_image(ImageSlot::Logo, &big, png_size).unwrap_err().contains("largest taken is 512 KB"));
        assert!(check_image(ImageSlot::Logo, &[], png_size).unwrap_err().contains("empty"));
    }

    #[test]
    fn the_browser_judges_type_and_size_in_the_server_s_words() {
        assert!(pre_check(ImageSlot::Logo, "image/png", 10_000).is_ok());
        assert!(pre_check(ImageSlot::Logo, "", 10_000).is_ok(), "no type: the server decides");
        assert!(pre_check(ImageSlot::Logo, "image/svg+xml", 100).unwrap_err().contains("SVG"));
        assert!(pre_check(ImageSlot::Hero, "application/pdf", 100).unwrap_err().contains("not a PNG"));
        assert!(pre_check(ImageSlot::Logo, "image/png", 600 * 1024).unwrap_err().contains("largest taken is 512 KB"));
        assert!(pre_check(ImageSlot::Logo, "image/png", 0).unwrap_err().contains("empty"));
    }

    #[test]
    fn the_style_holds_only_parsed_colours() {
        let b = Branding { color: Some(BrandColor::parse("#ffd60a").unwrap()), ..Default::default() };
        assert_eq!(b.style().unwrap(), "--brand:#ffd60a;--brand-dark:#ccab08;--brand-ink:#1a1a1a;--brand-link:#1a1a1a");
        let blue = Branding { color: Some(BrandColor::parse("#1f6feb").unwrap()), ..Default::default() };
        assert!(blue.style().unwrap().ends_with("--brand-link:#1f6feb"));
        assert_eq!(Branding::default().style(), None);
    }
}
