//! `GET P/static/*filepath`: the status page's own CSS, script and icon, built into the binary
//! so the gateway serves them from any working directory and without network access.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

use crate::error::plain_text;

/// Every asset: path below `static/`, Content-Type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/status.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/status.css"),
    ),
    (
        "/status.js",
        "application/javascript; charset=utf-8",
        include_bytes!("../../static/status.js"),
    ),
    (
        "/delete_groups.js",
        "application/javascript; charset=utf-8",
        include_bytes!("../../static/delete_groups.js"),
    ),
    (
        "/charts.js",
        "application/javascript; charset=utf-8",
        include_bytes!("../../static/charts.js"),
    ),
    (
        "/charts.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/charts.css"),
    ),
    (
        "/favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
];

/// The asset at `filepath` (the catch-all value, starting with `/`), or upstream's 404.
pub fn serve(filepath: &str) -> HttpResponse {
    match ASSETS.iter().find(|(path, _, _)| *path == filepath) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *content_type))
            .body(*bytes),
        None => plain_text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_assets_have_their_types_and_others_are_404() {
        let r = serve("/status.css");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/css; charset=utf-8"
        );
        assert_eq!(serve("/nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("/").status(), StatusCode::NOT_FOUND);
    }
}
