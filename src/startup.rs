//! Building and running the application: open the store, warm the cache, bind, serve.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, OnceLock};

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Config;
use crate::gateway::{Gateway, Options};
use crate::history::Pruner;
use crate::routes::{dispatch, AppState};
use crate::store::StoreError;
use crate::web_config::{WebConfig, WebConfigError};

/// Why the gateway could not start.
#[derive(Debug)]
pub enum StartupError {
    Store(StoreError),
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    Routes(crate::router::PatternError),
    WebConfig(WebConfigError),
}

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartupError::Store(e) => write!(f, "{e}"),
            StartupError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartupError::Routes(e) => write!(f, "--web.route-prefix / --web.telemetry-path: {e}"),
            StartupError::WebConfig(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartupError {}

/// A gateway whose store is open, cache warm and listeners bound, ready to run.
pub struct Application {
    server: Server,
    addrs: Vec<SocketAddr>,
    gateway: Arc<Gateway>,
    pruner: Pruner,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the database, loads every group into the cache, then binds the listeners, so
    /// the port only answers once `/metrics` is complete. Port 0 picks a free port.
    pub fn build(config: Config) -> Result<Application, StartupError> {
        let web_config = match &config.web_config_file {
            Some(path) => WebConfig::load(path).map_err(StartupError::WebConfig)?,
            None => WebConfig::none(),
        };
        let tls = web_config.tls;
        let http_guard = web::Data::new(web_config.guard);
        let started = std::time::Instant::now();
        let options = Options {
            retention: config.retention,
            push_status: if config.disable_consistency_check {
                202
            } else {
                200
            },
            max_series_total: config.limits.max_series_total,
        };
        let gateway = Arc::new(
            Gateway::open(config.database.as_deref(), options).map_err(StartupError::Store)?,
        );
        {
            let cache = gateway.cache();
            log::info!(
                "loaded {} groups with {} series in {:?}",
                cache.group_count(),
                cache.series_count(),
                started.elapsed()
            );
        }
        let listeners = config
            .listen
            .iter()
            .map(|addr| {
                TcpListener::bind(addr).map_err(|source| StartupError::Bind {
                    addr: *addr,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let addrs = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect::<Vec<_>>();

        let handle = Arc::new(OnceLock::new());
        // Built once, outside the per-worker closure, so every worker shares it.
        let state = web::Data::new(
            AppState::new(gateway.clone(), config, handle.clone()).map_err(StartupError::Routes)?,
        );
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(http_guard.clone())
                .wrap(actix_web::middleware::from_fn(crate::web_config::guard))
                .default_service(web::to(dispatch))
        })
        .shutdown_timeout(30)
        // Blocking work (pushes, renders) is serialised by the writer lock or short; a small
        // pool keeps threads, and glibc's per-thread malloc arenas, few.
        .worker_max_blocking_threads(8);
        for (listener, addr) in listeners.into_iter().zip(&addrs) {
            let listening = match &tls {
                Some(tls) => server.listen_rustls_0_23(listener, tls.clone()),
                None => server.listen(listener),
            };
            server = listening.map_err(|source| StartupError::Bind {
                addr: *addr,
                source,
            })?;
        }
        let server = server.run();
        let pruner = Pruner::start(gateway.clone());
        let _ = handle.set(server.handle());
        for addr in &addrs {
            log::info!("listening on {addr}");
        }
        Ok(Application {
            server,
            addrs,
            gateway,
            pruner,
        })
    }

    /// The bound addresses (with the real port when 0 was asked for).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Serves until SIGINT, SIGTERM or `/-/quit`; in-flight requests finish first. The
    /// database closes when the last handle to it is dropped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.pruner.stop();
        drop(self.gateway);
        log::info!("stopped");
        result
    }
}
