//! `keepsake-server`: the memorial server and its operator commands.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use keepsake_server::app;
use keepsake_server::blobs::S3Options;
use keepsake_server::state::{AppState, Limits};
use keepsake_server::store::StoreOptions;
use keepsake_server::{images, tokens};

#[derive(Parser)]
#[command(
    name = "keepsake-server",
    version,
    about = "The memorial server: every booth's keepsakes, the family's pages, the visitors' QR links"
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct StoreArgs {
    /// Folder for the SQLite database, the pictures and partial uploads.
    #[arg(long, global = true, env = "KEEPSAKE_SERVER_DATA", default_value = "/var/lib/keepsake-server")]
    data: PathBuf,
    /// A PostgreSQL URL (postgres://user:password@host/db) instead of SQLite in --data.
    #[arg(long, global = true, env = "KEEPSAKE_DATABASE_URL")]
    database: Option<String>,
    /// An S3 bucket for the pictures instead of files in --data (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
    #[arg(long, global = true, env = "KEEPSAKE_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// The S3-compatible endpoint (e.g. http://127.0.0.1:9000 for MinIO); AWS when left out.
    #[arg(long, global = true, env = "KEEPSAKE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    #[arg(long, global = true, env = "KEEPSAKE_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
}

impl StoreArgs {
    fn options(&self) -> anyhow::Result<StoreOptions> {
        if self.s3_endpoint.is_some() && self.s3_bucket.is_none() {
            bail!("--s3-endpoint needs --s3-bucket (fix: name the bucket the pictures go into)");
        }
        if let Some(url) = &self.database {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:")) {
                bail!(
                    "--database {}: not a postgres:// or sqlite: URL (fix: e.g. postgres://keepsake:PASSWORD@127.0.0.1/keepsake)",
                    keepsake_server::db::redact(url)
                );
            }
        }
        Ok(StoreOptions {
            data: self.data.clone(),
            database: self.database.clone(),
            s3: self.s3_bucket.clone().map(|bucket| S3Options {
                bucket,
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
            }),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the booths' API and the family's pages.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The address people reach the server at; https:// makes the cookies Secure.
        #[arg(long, default_value = "")]
        public_url: String,
        /// The largest picture accepted, in MiB.
        #[arg(long, default_value_t = 25)]
        max_upload_mib: u64,
        /// The time zone pages show visit times in where a memorial has none set (an IANA
        /// name); default: this machine's.
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Memorials.
    Memorial {
        #[command(subcommand)]
        command: MemorialCommand,
    },
    /// Booths and their tokens.
    Booth {
        #[command(subcommand)]
        command: BoothCommand,
    },
    /// Family access: invitation links and the password.
    Family {
        #[command(subcommand)]
        command: FamilyCommand,
    },
    /// Keepsakes.
    Keepsakes {
        #[command(subcommand)]
        command: KeepsakesCommand,
    },
}

#[derive(Subcommand)]
enum MemorialCommand {
    /// Create a memorial; prints its id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        dates: String,
        #[arg(long, default_value = "")]
        message: String,
        /// A PNG or JPEG portrait for the top of the gallery.
        #[arg(long)]
        cover: Option<PathBuf>,
    },
    /// List memorials: id and name.
    List,
    /// The time zone the memorial's pages show visit times in (an IANA name such as
    /// Asia/Seoul); without --zone, the server's own again.
    SetTimeZone {
        #[arg(long)]
        memorial: String,
        #[arg(long)]
        zone: Option<String>,
    },
}

#[derive(Subcommand)]
enum BoothCommand {
    /// Add a booth to a memorial; prints the booth's token (shown once: put it in the booth's server.token).
    Add {
        #[arg(long)]
        memorial: String,
        #[arg(long, default_value = "booth")]
        name: String,
    },
    /// Revoke a booth's token: its uploads are refused from now on.
    Revoke {
        #[arg(long)]
        booth: String,
    },
    /// List a memorial's booths: id, name, active or revoked.
    List {
        #[arg(long)]
        memorial: String,
    },
}

#[derive(Subcommand)]
enum FamilyCommand {
    /// Make a new invitation link (the old one stops working); prints its path.
    Invite {
        #[arg(long)]
        memorial: String,
    },
    /// Set the family password, read from standard input.
    Password {
        #[arg(long)]
        memorial: String,
    },
}

#[derive(Subcommand)]
enum KeepsakesCommand {
    /// One line per keepsake: id, SHA-256 of the illustration, created time.
    List {
        #[arg(long)]
        memorial: String,
    },
}

fn check_id(what: &str, id: &str) -> anyhow::Result<()> {
    if tokens::is_id(id) {
        Ok(())
    } else {
        bail!("{what} {id:?} is not an id (32 hex digits; fix: copy it from `keepsake-server memorial list` / `booth list`)")
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let options = cli.store.options()?;
    let (db, blobs) = options.open().await?;
    match cli.command {
        Command::Serve { listen, public_url, max_upload_mib, time_zone } => {
            let limits = Limits { max_upload: max_upload_mib << 20, ..Limits::default() };
            let zone = match time_zone {
                Some(z) => keepsake_server::time_zone::parse(&z).map_err(|e| anyhow::anyhow!("--time-zone {e}"))?,
                None => keepsake_server::time_zone::server_default(),
            };
            let state = AppState::new(db, blobs, options.staging(), limits, public_url.starts_with("https://"), zone)
                .with_context(|| format!("{}: cannot create the uploads folder", options.staging().display()))?;
            state.blobs.tidy();
            state.tidy_uploads().await;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen} (fix: choose a free address with --listen)"))?;
            tracing::info!(%listen, database = %keepsake_server::db::redact(&options.database_url()), "serving");
            println!("listening on http://{}", listener.local_addr()?);
            axum::serve(listener, app::router(state)).with_graceful_shutdown(shutdown()).await?;
        }
        Command::Memorial { command: MemorialCommand::Create { name, dates, message, cover } } => {
            if name.trim().is_empty() {
                bail!("--name is empty (fix: give the name of the person remembered)");
            }
            let cover_sha = match cover {
                Some(path) => {
                    let bytes = std::fs::read(&path).with_context(|| format!("--cover {}", path.display()))?;
                    let checked = images::check(&bytes)
                        .map_err(|e| anyhow::anyhow!("--cover {}: {e} (fix: use a PNG or JPEG photo)", path.display()))?;
                    let sha = tokens::sha256_hex(&bytes);
                    blobs.put(&sha, bytes.clone().into()).await?;
                    db.add_blob(&sha, bytes.len() as i64, checked.content_type, checked.width, checked.height).await?;
                    Some(sha)
                }
                None => None,
            };
            let m = db.create_memorial(name.trim(), &dates, &message, cover_sha.as_deref()).await?;
            println!("{}", m.id);
        }
        Command::Memorial { command: MemorialCommand::List } => {
            for m in db.memorials().await? {
                println!("{}  {}", m.id, m.name);
            }
        }
        Command::Memorial { command: MemorialCommand::SetTimeZone { memorial, zone } } => {
            check_id("--memorial", &memorial)?;
            let zone = zone
                .map(|z| keepsake_server::time_zone::parse(&z).map(|tz| tz.name().to_string()).map_err(|e| anyhow::anyhow!("--zone {e}")))
                .transpose()?;
            if !db.set_time_zone(&memorial, zone.as_deref()).await? {
                bail!("no memorial {memorial} (fix: `keepsake-server memorial list`)");
            }
            match zone {
                Some(z) => println!("{memorial}: times shown in {z}"),
                None => println!("{memorial}: times shown in the server's zone ({})", keepsake_server::time_zone::server_default().name()),
            }
        }
        Command::Booth { command: BoothCommand::Add { memorial, name } } => {
            check_id("--memorial", &memorial)?;
            if db.memorial(&memorial).await?.is_none() {
                bail!("no memorial {memorial} (fix: `keepsake-server memorial list`)");
            }
            let token = tokens::booth_token();
            db.add_booth(&memorial, &name, &tokens::sha256_hex(token.as_bytes())).await?;
            println!("{token}");
        }
        Command::Booth { command: BoothCommand::Revoke { booth } } => {
            check_id("--booth", &booth)?;
            if !db.revoke_booth(&booth).await? {
                bail!("no active booth {booth} (fix: `keepsake-server booth list --memorial ID`)");
            }
            println!("revoked {booth}");
        }
        Command::Booth { command: BoothCommand::List { memorial } } => {
            check_id("--memorial", &memorial)?;
            for b in db.booths(&memorial).await? {
                println!("{}  {}  {}", b.id, if b.revoked { "revoked" } else { "active" }, b.name);
            }
        }
        Command::Family { command: FamilyCommand::Invite { memorial } } => {
            check_id("--memorial", &memorial)?;
            let Some(token) = db.new_invite_token(&memorial).await? else {
                bail!("no memorial {memorial} (fix: `keepsake-server memorial list`)")
            };
            println!("/m/{memorial}/join/{token}");
        }
        Command::Family { command: FamilyCommand::Password { memorial } } => {
            check_id("--memorial", &memorial)?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                bail!("the password has fewer than 8 characters (fix: choose a longer one)");
            }
            let hash = tokens::hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?;
            if !db.set_password_hash(&memorial, &hash).await? {
                bail!("no memorial {memorial} (fix: `keepsake-server memorial list`)");
            }
            println!("password set for {memorial}");
        }
        Command::Keepsakes { command: KeepsakesCommand::List { memorial } } => {
            check_id("--memorial", &memorial)?;
            for k in db.keepsakes(&memorial, true).await? {
                // The visitor's answers: "photo" shared with the family, "slideshow" agreed to.
                let photo = if k.photo_sha256.is_some() { " photo" } else { "" };
                let slideshow = if k.in_slideshow { " slideshow" } else { "" };
                println!("{} {} {}{photo}{slideshow}", k.id, k.illustration_sha256, k.created_at);
            }
        }
    }
    Ok(())
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KEEPSAKE_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("keepsake-server: {e:#}");
        std::process::exit(1);
    }
}
