//! The HTML of a view: one file with its style, script and data inline, so that it
//! works opened from disk with no network. One pane per run (two for `epsim diff`),
//! and optionally an aside (the tour's quotation) and links to other pages.

/// What a page holds besides its runs' data.
#[derive(Clone, Debug, Default)]
pub struct PageExtras {
    /// HTML shown beside the panes (a tour page's quotation), already escaped.
    pub aside_html: Option<String>,
    /// Links in the header: (text, href).
    pub links: Vec<(String, String)>,
    /// For two panes: the record of each at which the runs first differ.
    pub divergence: Option<(usize, usize)>,
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = include_str!("view.css");
const SCRIPT: &str = include_str!("view.js");

const HELP: &str = "<div class=\"help\" role=\"dialog\"><b>Keys</b><br>\
<kbd>→</kbd> <kbd>←</kbd> next / previous record · <kbd>PgDn</kbd> <kbd>PgUp</kbd> 100 records · <kbd>Home</kbd> <kbd>End</kbd><br>\
<kbd>n</kbd> <kbd>N</kbd> next / previous step of this CPU · <kbd>c</kbd> choose the CPU <kbd>n</kbd> follows<br>\
<kbd>s</kbd> <kbd>S</kbd> next / previous system call · <kbd>r</kbd> <kbd>R</kbd> next / previous report<br>\
<kbd>+</kbd> <kbd>-</kbd> zoom the lanes around the cursor · <kbd>g</kbd> go to a step · <kbd>?</kbd> this help<br>\
two panes: <kbd>Tab</kbd> the other pane · <kbd>l</kbd> link / unlink the cursors · <kbd>d</kbd> the first divergence</div>";

/// The page of `panes` (each [`crate::view::encode::encode_run`]'s packed data) titled
/// `title`.
pub fn render(title: &str, panes: &[String], extras: &PageExtras) -> String {
    let mut html = String::with_capacity(panes.iter().map(String::len).sum::<usize>() + 64 * 1024);
    html.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!(
        "<title>{}</title><style>{CSS}</style></head><body>",
        escape(title)
    ));
    html.push_str(&format!(
        "<header><h1>{}</h1><span class=\"sub\">epsim step-through view · <kbd>?</kbd> keys</span><span id=\"status\" class=\"sub\"></span><nav>",
        escape(title)
    ));
    for (text, href) in &extras.links {
        html.push_str(&format!(
            "<a href=\"{}\">{}</a>",
            escape(href),
            escape(text)
        ));
    }
    html.push_str("</nav></header>");
    html.push_str(HELP);
    html.push_str("<div id=\"panes\">");
    if let Some(aside) = &extras.aside_html {
        html.push_str(&format!("<aside class=\"aside\">{aside}</aside>"));
    }
    for index in 0..panes.len() {
        html.push_str(&format!("<div class=\"pane\" id=\"pane{index}\"></div>"));
    }
    html.push_str("</div>");
    if let Some((a, b)) = extras.divergence {
        html.push_str(&format!(
            "<script>window.EPSIM_DIVERGENCE=[{a},{b}];</script>"
        ));
    }
    // Each pane's packed data (base64, no spaces), one after another, space-separated.
    html.push_str("<script id=\"epsim-data\" type=\"application/octet-stream\">");
    html.push_str(&panes.join(" "));
    html.push_str("</script><script>");
    html.push_str(SCRIPT);
    html.push_str("</script></body></html>\n");
    html
}
