//! `keepsake sync`: what waits in the outbox, and sending it now.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::archive::outbox::now_ms;
use crate::archive::Archive;
use crate::config::Config;
use crate::error::Error;
use crate::sync::uploader::{self, Client, Settings};

#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// The booth's config: its archive and server.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// An archive folder (instead of the config's archive.dir), e.g. a demo's out/archive.
    #[arg(long)]
    pub archive: Option<PathBuf>,
    /// The memorial server (instead of the config's server.url).
    #[arg(long)]
    pub server: Option<String>,
    /// The booth token (instead of the config's server.token).
    #[arg(long)]
    pub token: Option<String>,
    /// Upload pieces of this many KiB (instead of server.upload_chunk_kib): smaller pieces lose
    /// less on a link that keeps dropping.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub chunk_kib: Option<u32>,
}

#[derive(clap::Subcommand, Debug)]
pub enum SyncAction {
    /// What waits in the outbox and why.
    Status(SyncArgs),
    /// Send everything waiting now (refused keepsakes too), retrying until `--wait` runs out.
    Push {
        #[command(flatten)]
        args: SyncArgs,
        /// Seconds to keep retrying while the server is away.
        #[arg(long, default_value_t = 60.0)]
        wait: f64,
    },
}

struct Resolved {
    archive: Archive,
    settings: Option<Settings>,
}

fn resolve(args: &SyncArgs) -> Result<Resolved, Error> {
    let config = args.config.as_ref().map(|c| Config::load(c)).transpose()?;
    let dir = match (&args.archive, &config) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => c.archive_dir.clone(),
        (None, None) => return Err(Error::new("keepsake sync", "no archive named", "give --config FILE or --archive DIR")),
    };
    if !dir.is_dir() {
        return Err(Error::file(&dir, "no such archive folder", "check archive.dir or --archive"));
    }
    let archive = Archive::open(&dir)?;
    let mut settings = config.as_ref().and_then(|c| Settings::from_config(&c.server));
    if let (Some(url), Some(token)) = (&args.server, &args.token) {
        let (chunk, retry_max) = settings.as_ref().map(|s| (s.chunk, s.retry_max)).unwrap_or((1 << 20, Duration::from_secs(600)));
        settings = Some(Settings { url: url.trim_end_matches('/').to_string(), token: token.clone(), chunk, retry_max });
    } else if args.server.is_some() || args.token.is_some() {
        return Err(Error::new("--server and --token", "only one was given", "give both: the server's URL and this booth's token"));
    }
    if let (Some(kib), Some(s)) = (args.chunk_kib, settings.as_mut()) {
        s.chunk = (kib as usize) << 10;
    }
    Ok(Resolved { archive, settings })
}

pub fn status(args: &SyncArgs) -> Result<String, Error> {
    let r = resolve(args)?;
    let outbox = r.archive.outbox();
    let s = outbox.summary()?;
    let mut out = format!("outbox {}: {} waiting, {} sent, {} refused\n", outbox.path().display(), s.pending, s.sent, s.refused);
    if r.settings.is_none() {
        out.push_str("no server.token is set: nothing is sent until one is (keepsake-server booth add)\n");
    }
    for item in outbox.unsent()? {
        let when = if item.state == "refused" {
            "refused".to_string()
        } else if item.next_try_ms <= now_ms() {
            "due now".to_string()
        } else {
            format!("next try in {}s", (item.next_try_ms - now_ms()) / 1000)
        };
        out.push_str(&format!(
            "  {}  {}  tries {}  {}  {}\n",
            item.id,
            item.entry,
            item.attempts,
            when,
            item.last_error.as_deref().unwrap_or("-")
        ));
    }
    Ok(out)
}

pub fn push(args: &SyncArgs, wait: f64) -> Result<String, Error> {
    let r = resolve(args)?;
    let Some(settings) = r.settings else {
        return Err(Error::new("keepsake sync push", "no server token", "set server.token in the config, or give --server and --token"));
    };
    let outbox = r.archive.outbox();
    outbox.retry_all()?;
    let retry_max = settings.retry_max.min(Duration::from_secs(5));
    let client = Client::new(settings);
    let until = std::time::Instant::now() + Duration::from_secs_f64(wait.max(0.0));
    let never = AtomicBool::new(false);
    let mut sent = 0;
    loop {
        sent += uploader::send_due(&r.archive, &client, retry_max, &never);
        let s = outbox.summary()?;
        if s.pending == 0 || std::time::Instant::now() >= until {
            let left = if s.pending == 0 { String::new() } else { format!(", {} still waiting (keepsake sync status)", s.pending) };
            let refused = if s.refused == 0 { String::new() } else { format!(", {} refused (keepsake sync status)", s.refused) };
            return Ok(format!("sent {sent}{left}{refused}"));
        }
        outbox.wait(Duration::from_millis(200));
    }
}
