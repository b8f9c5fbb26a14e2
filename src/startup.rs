//! Building and running the application: open and migrate the store, bind, serve, and warm
//! the cache in the background (`/-/ready` answers 503 until it is warm).

use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc, OnceLock};

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};

use crate::config::Config;
use crate::gateway::{Gateway, Options};
use crate::routes::{serve, AppState, Readiness};
use crate::store::prune::Pruner;
use crate::store::{self, Pool, StoreError};
use crate::upgrade::{self, UpgradeError};
use crate::web_config::WebConfig;

/// Why the gateway could not start.
#[derive(Debug)]
pub enum StartupError {
    Store(StoreError),
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The route prefix or telemetry path cannot form a route.
    Routes(String),
    /// `--web.config.file` cannot be used.
    WebConfig(String),
    /// `--persistence.file` holds something that cannot be used or imported.
    Persistence(UpgradeError),
}

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartupError::Store(e) => write!(f, "{e}"),
            StartupError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartupError::Routes(e) => write!(f, "--web.route-prefix / --web.telemetry-path: {e}"),
            StartupError::WebConfig(e) => write!(f, "{e}"),
            StartupError::Persistence(e) => write!(f, "--persistence.file: {e}"),
        }
    }
}

impl std::error::Error for StartupError {}

/// A gateway whose store is open and listeners bound; the cache warms in the background.
pub struct Application {
    server: Server,
    addrs: Vec<SocketAddr>,
    readiness: web::Data<Readiness>,
    /// What warming the cache gave; sent before the server is stopped on failure.
    warmed: mpsc::Receiver<Result<Warm, StartupError>>,
}

/// What runs once the cache is warm, stopped when the server stops.
struct Warm {
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
    /// Imports the original Pushgateway's file found at `--persistence.file`
    /// ([`crate::upgrade`]), opens and migrates the database, binds the listeners and starts loading every group
    /// into the cache on a thread of its own. A database that cannot be opened or migrated,
    /// or an address that cannot be bound, fails here, before anything is served. Until the
    /// cache is warm only `/-/healthy` answers 200 and every other route 503
    /// ([`crate::routes::Readiness`]); a database that fails to load then stops the server,
    /// and [`Application::run_until_stopped`] returns the reason. Port 0 picks a free port.
    pub fn build(config: Config) -> Result<Application, StartupError> {
        let web_config = match &config.web_config_file {
            Some(path) => {
                WebConfig::load(path).map_err(|e| StartupError::WebConfig(e.to_string()))?
            }
            None => WebConfig::none(),
        };
        let tls = web_config.tls;
        let http_guard = web::Data::new(web_config.guard.with_body_limits(config.limits));
        let options = Options {
            retention: config.retention,
            push_status: if config.disable_consistency_check {
                202
            } else {
                200
            },
            max_series_total: config.limits.max_series_total,
            expire_after: config.expire_after,
        };
        if let Some(path) = &config.database {
            let import = upgrade::ImportOptions {
                record_values: config.retention.records_values(),
                max_series_total: config.limits.max_series_total,
            };
            upgrade::prepare_persistence_file(path, import).map_err(StartupError::Persistence)?;
        }
        let pool = store::open(config.database.as_deref()).map_err(StartupError::Store)?;
        let readiness = web::Data::new(
            Readiness::new(&config).map_err(|e| StartupError::Routes(e.to_string()))?,
        );
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

        // Built once, outside the per-worker closure, so every worker shares it.
        let shared = readiness.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(http_guard.clone())
                .wrap(actix_web::middleware::from_fn(crate::web_config::guard))
                .default_service(web::to(serve))
        })
        .shutdown_timeout(30)
        // Blocking work (preparing large pushes, renders) is short, and commits run on the
        // writer thread, not here; a small pool keeps threads, and the allocator's per-thread
        // caches, few.
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
        let handle = Arc::new(OnceLock::new());
        let _ = handle.set(server.handle());
        for addr in &addrs {
            log::info!("listening on {addr}");
        }

        let (sender, warmed) = mpsc::channel();
        let ready = readiness.clone();
        let stop = server.handle();
        std::thread::Builder::new()
            .name("cache-warm-up".into())
            .spawn(move || {
                let result = warm_up(pool, options, config, handle, &ready);
                let failed = result.is_err();
                // Sent first, so run_until_stopped finds the reason once the server stops.
                let _ = sender.send(result);
                if failed {
                    drop(stop.stop(false));
                }
            })
            .map_err(|e| StartupError::Store(StoreError::Open(format!("cache warm-up: {e}"))))?;
        Ok(Application {
            server,
            addrs,
            readiness,
            warmed,
        })
    }

    /// The bound addresses (with the real port when 0 was asked for).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Whether the cache is warm and every route served.
    pub fn is_ready(&self) -> bool {
        self.readiness.is_ready()
    }

    /// Serves until SIGINT, SIGTERM or `/-/quit`; in-flight requests finish first. The
    /// database closes when the last handle to it is dropped. A database that failed to load
    /// into the cache stops the server and is returned as the error.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        match self.warmed.try_recv() {
            Ok(Ok(warm)) => {
                warm.pruner.stop();
                drop(warm.gateway);
            }
            Ok(Err(e)) => return Err(std::io::Error::other(e)),
            // Stopped while the cache was still loading; that thread ends with the process.
            Err(_) => log::info!("stopped before the cache was warm"),
        }
        log::info!("stopped");
        result
    }
}

/// Loads the cache, then makes every route available and starts history pruning.
fn warm_up(
    pool: Pool,
    options: Options,
    config: Config,
    server: Arc<OnceLock<ServerHandle>>,
    readiness: &Readiness,
) -> Result<Warm, StartupError> {
    let started = std::time::Instant::now();
    let gateway = Arc::new(
        Gateway::warm(pool, config.database.as_deref(), options).map_err(StartupError::Store)?,
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
    let state = AppState::new(gateway.clone(), config, server)
        .map_err(|e| StartupError::Routes(e.to_string()))?;
    let pruner = gateway.start_pruner();
    readiness.set_ready(state);
    log::info!("ready");
    Ok(Warm { gateway, pruner })
}
