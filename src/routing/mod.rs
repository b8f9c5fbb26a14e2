//! Which route a request takes, with upstream's observable answers.
//!
//! Upstream puts Go's `net/http.ServeMux` in front of two `julienschmidt/httprouter` v1.3.0
//! routers (the main one, and the JSON API's mounted at `P/api/v1/`), and clients see what
//! those libraries answer on their own: `404`, `405` with an `Allow` header, an automatic
//! `OPTIONS` answer, trailing-slash and case-fixing redirects, redirects to a cleaned path,
//! and `400` for a malformed `%` escape. actix-web's router answers differently, so every
//! request goes to one default service that asks [`Routes::resolve`] what to do:
//!
//! 1. ServeMux ([`servemux`]): an unclean escaped path is redirected; the path is
//!    percent-decoded ([`path`]); a path under `P/api/v1/` goes to the API router.
//! 2. httprouter ([`httprouter`]): the decision on the decoded path.
//! 3. A group route whose group part holds an encoded slash ([`encoded_slash`]) is redirected
//!    as upstream 1.5.1 does where that cleans the path; the push handler refuses the rest.
//!
//! Everything here is a pure function of the method and the path.

pub(crate) mod encoded_slash;
pub(crate) mod httprouter;
pub(crate) mod path;
pub(crate) mod servemux;

use crate::config::Config;
use httprouter::{PatternError, Resolution, Router};
use servemux::{clean_path, mount, Mount};

/// What a route of the main router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Healthy,
    Ready,
    Metrics,
    /// PUT, POST or DELETE of a group; `base64_job` for the `job@base64` form.
    Group {
        base64_job: bool,
    },
    Quit,
    /// `GET /-/quit`, unprefixed whatever the route prefix, as upstream.
    QuitGet,
    /// `GET P/` and `GET P/status`: the status page.
    Status,
    /// `GET P/status/group/job@base64/…`: one group's families for the status page.
    StatusGroup,
    /// `GET P/static/*filepath`: the status page's assets.
    Static,
}

/// What a route of the API router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiRoute {
    /// `OPTIONS /*path`: the CORS answer.
    Options,
    Status,
    Metrics,
    /// `PUT /admin/wipe`, routed only with `--web.enable-admin-api`.
    Wipe,
    /// `GET /history`: the pushed history (not in upstream).
    History,
    /// `POST /admin/delete_groups`: delete by label matcher (not in upstream), routed only
    /// with `--web.enable-admin-api`.
    DeleteGroups,
    /// `GET /history/series`: a group's pushed values over time (not in upstream).
    HistorySeries,
}

/// Where a request goes.
#[derive(Debug)]
pub(crate) enum Routed {
    /// ServeMux's redirect to this cleaned path (the caller appends the query).
    CleanPath(String),
    /// A malformed `%` escape: Go's server answers `400 Bad Request` and closes.
    MalformedEscape,
    /// The decoded path is not UTF-8.
    NotUtf8,
    /// A group route's path whose encoded slashes make the decoded path unclean: upstream
    /// 1.5.1's ServeMux answers 301 to this cleaned path (the caller appends the query).
    EncodedSlashRedirect(String),
    /// Exactly `P/api/v1`: ServeMux redirects (301) to this path with a slash.
    ApiAddSlash(String),
    /// Under the API mount, but `StripPrefix` cannot strip the prefix: 404.
    ApiNotFound,
    /// The API router's decision.
    Api(Resolution<ApiRoute>),
    /// The main router's decision.
    Main(Resolution<Route>),
}

/// Both route tables under the configured route prefix.
#[derive(Debug)]
pub(crate) struct Routes {
    prefix: String,
    main: Router<Route>,
    api: Router<ApiRoute>,
}

impl Routes {
    /// Upstream's tables for `config`; a prefix that cannot form a route pattern is an error.
    pub(crate) fn new(config: &Config) -> Result<Routes, PatternError> {
        Ok(Routes {
            prefix: config.route_prefix.clone(),
            main: main_table(config)?,
            api: api_table(config)?,
        })
    }

    /// Where a request with `method` and the raw (still escaped) `raw_path` goes.
    pub(crate) fn resolve(&self, method: &str, raw_path: &str) -> Routed {
        if let Some(cleaned) = clean_path(raw_path) {
            return Routed::CleanPath(cleaned);
        }
        let Ok(decoded) = path::percent_decode(raw_path) else {
            return Routed::MalformedEscape;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return Routed::NotUtf8;
        };
        match mount(raw_path, &decoded, &self.prefix) {
            Mount::Outside => {
                let resolution = self.main.resolve(method, &decoded);
                if let Resolution::Matched {
                    value: Route::Group { .. },
                    params,
                } = &resolution
                {
                    let job = params.get("job").unwrap_or_default();
                    let labels = params.get("labels").unwrap_or_default();
                    if let Some(location) =
                        encoded_slash::legacy_redirect(raw_path, &decoded, job, labels)
                    {
                        return Routed::EncodedSlashRedirect(location);
                    }
                }
                Routed::Main(resolution)
            }
            Mount::AddSlash(location) => Routed::ApiAddSlash(location),
            Mount::NotFound => Routed::ApiNotFound,
            Mount::Inside(path) => Routed::Api(self.api.resolve(method, &path)),
        }
    }

    /// The main router's decision on a decoded path (before the cache is warm, only
    /// `/-/healthy` is told apart this way).
    pub(crate) fn resolve_main(&self, method: &str, decoded_path: &str) -> Resolution<Route> {
        self.main.resolve(method, decoded_path)
    }
}

/// Upstream's main router under the route prefix.
fn main_table(config: &Config) -> Result<Router<Route>, PatternError> {
    let p = &config.route_prefix;
    let mut r = Router::new();
    r.add("GET", &format!("{p}/-/healthy"), Route::Healthy)?;
    r.add("GET", &format!("{p}/-/ready"), Route::Ready)?;
    r.add("GET", &config.telemetry_path, Route::Metrics)?;
    for (segment, base64_job) in [("job", false), ("job@base64", true)] {
        for method in ["PUT", "POST", "DELETE"] {
            let route = Route::Group { base64_job };
            r.add(method, &format!("{p}/metrics/{segment}/:job"), route)?;
            r.add(
                method,
                &format!("{p}/metrics/{segment}/:job/*labels"),
                route,
            )?;
        }
    }
    r.add("PUT", &format!("{p}/-/quit"), Route::Quit)?;
    r.add("POST", &format!("{p}/-/quit"), Route::Quit)?;
    r.add("GET", "/-/quit", Route::QuitGet)?;
    r.add("GET", &format!("{p}/"), Route::Status)?;
    r.add("GET", &format!("{p}/status"), Route::Status)?;
    r.add(
        "GET",
        &format!("{p}/status/group/*path"),
        Route::StatusGroup,
    )?;
    r.add("GET", &format!("{p}/static/*filepath"), Route::Static)?;
    Ok(r)
}

/// Upstream's API router; patterns are relative to the `P/api/v1` mount.
fn api_table(config: &Config) -> Result<Router<ApiRoute>, PatternError> {
    let mut r = Router::new();
    r.add("OPTIONS", "/*path", ApiRoute::Options)?;
    r.add("GET", "/status", ApiRoute::Status)?;
    r.add("GET", "/metrics", ApiRoute::Metrics)?;
    r.add("GET", "/history", ApiRoute::History)?;
    r.add("GET", "/history/series", ApiRoute::HistorySeries)?;
    if config.enable_admin_api {
        r.add("PUT", "/admin/wipe", ApiRoute::Wipe)?;
        r.add("POST", "/admin/delete_groups", ApiRoute::DeleteGroups)?;
    }
    Ok(r)
}
