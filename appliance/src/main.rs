use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use keepsake::archive::Archive;
use keepsake::backend::Backend;
use keepsake::booth::{Booth, StopWhen};
use keepsake::cli::{demo, doctor};
use keepsake::config::{Config, Language, EXAMPLE};
use keepsake::devices::Devices;
use keepsake::error::Error;
use keepsake::stylizers;
use keepsake::sync::uploader::{Settings, Uploader};
use keepsake::{runtime, shutdown_signal};
use keepsake_drivers::text::{self, Face};
use keepsake_models::Stylizer;

#[derive(Parser)]
#[command(name = "keepsake", version, about = "Keepsake: the AI memorial photo booth")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the booth with the devices of a config file.
    Run {
        #[arg(long, default_value = "/etc/keepsake/booth.toml")]
        config: PathBuf,
        /// Where the filter and the diffusion model compute; default: the config's style.compute.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
    },
    /// Run the booth on built-in devices with scripted visitors, writing screens, narration,
    /// prints and keepsakes into a folder.
    Demo {
        #[arg(long, default_value_t = 3)]
        sessions: u32,
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Language of the demo memorial: ko or en.
        #[arg(long, default_value = "ko")]
        language: String,
        #[arg(long, value_enum, default_value_t = Backend::Auto)]
        backend: Backend,
        /// Send the keepsakes to this memorial server (with --token).
        #[arg(long, requires = "token")]
        server: Option<String>,
        /// The booth token from `keepsake-server booth add`.
        #[arg(long, requires = "server")]
        token: Option<String>,
        /// Quick visits: shorter waits, smaller photos, no screen recording.
        #[arg(long)]
        fast: bool,
        /// Seconds to wait at the end for every keepsake to reach the server.
        #[arg(long, default_value_t = 120.0)]
        sync_wait: f64,
    },
    /// The AUTOMATIC1111-compatible API alone on one model: /sdapi/v1/txt2img, img2img with
    /// ControlNet units and LoRAs, progress, interrupt, /openapi.json.
    Serve(keepsake::cli::serve::ServeArgs),
    /// The outbox of keepsakes for the memorial server: status, send now.
    Sync {
        #[command(subcommand)]
        action: keepsake::cli::sync::SyncAction,
    },
    /// Turn one photo into an illustration.
    Stylize {
        input: PathBuf,
        output: PathBuf,
        #[arg(long, default_value = "warm-animation")]
        preset: String,
        #[arg(long, value_enum, default_value_t = Backend::Auto)]
        backend: Backend,
    },
    /// Stable Diffusion 1.5 img2img of one photo (a single-file checkpoint or a diffusers folder).
    Generate(keepsake::cli::generate::GenerateArgs),
    /// Make a ControlNet control image from a photo (canny edges, ...).
    Preprocess(keepsake::cli::preprocess::PreprocessArgs),
    /// Make and inspect booth model files (LoRAs merged, TAESD, int8).
    Models {
        #[command(subcommand)]
        action: keepsake::cli::models::ModelsAction,
    },
    /// Time the full-size SD 1.5 pipeline (random weights) against PyTorch: see docs/BENCHMARKS.md.
    Bench(keepsake::cli::bench::BenchArgs),
    /// List what devices, GPU adapters, models, fonts and voices exist, and what is missing.
    Doctor {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check or print the booth config.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate a config file; every problem is listed with its key and the fix.
    Check { file: PathBuf },
    /// Print a complete, commented example config.
    Example,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEPSAKE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// glibc with a bounded cache of freed large buffers (see `allocator`).
#[global_allocator]
static HEAP: keepsake::allocator::Recycling = keepsake::allocator::Recycling::new();

fn main() -> ExitCode {
    if let Err(message) = keepsake::allocator::tune(&HEAP) {
        eprintln!("keepsake: {message}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    init_logging();
    match run(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("keepsake: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Run { config, backend } => {
            let config = Arc::new(Config::load(&config)?);
            let face = match &config.font {
                Some(path) => Face::load(path)?,
                None => Face::system(),
            };
            tracing::info!(font = %face.describe(), "text face");
            text::set_face(face);
            let devices = Devices::open(&config.devices, config.screen)?;
            let backend = backend.unwrap_or(config.style.compute);
            let (stylizer, model) = stylizers::with_model(&config, backend)?;
            let api = keepsake::api::beside_the_booth(&config, model);
            let archive = Arc::new(Archive::open(&config.archive_dir)?);
            let _uploader = match Settings::from_config(&config.server) {
                Some(s) => Some(Uploader::start(archive.clone(), s)),
                None => {
                    tracing::warn!("no server.token: keepsakes wait in the outbox until one is set (keepsake-server booth add)");
                    None
                }
            };
            let (listen, api_token) = (config.api.listen, config.api.token.clone());
            let booth = Booth::new(config, devices, stylizer, archive);
            runtime()?.block_on(async {
                if let Some(engine) = api {
                    // The booth goes on whatever happens to the API (a port in use, say).
                    tokio::spawn(async move {
                        if let Err(e) = keepsake::api::serve(engine, api_token, listen).await {
                            tracing::error!(%e, "the A1111-compatible API is not available; the booth goes on");
                        }
                    });
                }
                tokio::select! {
                    r = booth.run(StopWhen::default()) => r.map(|_| ()),
                    _ = shutdown_signal() => {
                        tracing::info!("stopping on signal");
                        Ok(())
                    }
                }
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { sessions, out, language, backend, server, token, fast, sync_wait } => {
            let language = Language::from_code(&language)
                .ok_or_else(|| Error::new(format!("--language {language:?}"), "not a language the booth speaks", "use ko or en"))?;
            text::set_face(Face::system());
            let mut opts = demo::DemoOptions::new(sessions, out.clone(), language, backend);
            opts.server = server.zip(token);
            opts.fast = fast;
            opts.sync_wait = std::time::Duration::from_secs_f64(sync_wait.max(0.0));
            let report = runtime()?.block_on(demo::run(&opts))?;
            println!("demo finished: {} visits, {} keepsakes, {} faults", report.sessions, report.keepsakes.len(), report.faults.len());
            for k in &report.keepsakes {
                println!("  {}  {}", k.meta.id, k.meta.share_url);
            }
            println!("screens, narration and print files are in {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Stylize { input, output, preset, backend } => {
            let stylizer = stylizers::toon(&preset, backend)?;
            let photo =
                image::open(&input).map_err(|e| Error::file(&input, format!("cannot read: {e}"), "use a JPEG or PNG photo"))?.to_rgb8();
            let bar = indicatif::ProgressBar::new(stylizer.steps() as u64);
            let out = stylizer
                .stylize(&photo, &mut |p| bar.set_position(p.step as u64))
                .map_err(|e| Error::new(stylizer.name(), e, "run `keepsake doctor` to check the model and the GPU"))?;
            bar.finish_and_clear();
            out.save(&output).map_err(|e| Error::file(&output, format!("cannot write: {e}"), "check the folder exists and is writable"))?;
            println!("{} -> {} ({}x{}, {})", input.display(), output.display(), out.width(), out.height(), stylizer.name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            keepsake::cli::serve::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => {
            keepsake::cli::generate::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Models { action } => {
            use keepsake::cli::models::{bake, inspect, ModelsAction};
            let report = match action {
                ModelsAction::Bake(args) => bake(&args)?,
                ModelsAction::Inspect { file } => inspect(&file)?,
            };
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Preprocess(args) => {
            println!("{}", keepsake::cli::preprocess::run(&args)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            println!("{}", keepsake::cli::bench::run(&args)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { action } => {
            use keepsake::cli::sync::{push, status, SyncAction};
            let out = match action {
                SyncAction::Status(args) => status(&args)?,
                SyncAction::Push { args, wait } => push(&args, wait)?,
            };
            print!("{out}");
            if !out.ends_with('\n') {
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { config } => {
            let config = config.map(|c| Config::load(&c)).transpose()?;
            let findings = doctor::examine(config.as_ref());
            doctor::print(&findings);
            let missing = findings.iter().any(|f| f.status == doctor::Status::Missing);
            Ok(if missing { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Config { action: ConfigAction::Check { file } } => {
            let c = Config::load(&file)?;
            println!(
                "{} is valid: memorial {:?} ({}), paper {}, screen {}x{}",
                file.display(),
                c.memorial.name,
                c.memorial.language.code(),
                c.paper,
                c.screen.0,
                c.screen.1
            );
            // Measured with the booth's own voice, as the visitor will hear it.
            match keepsake::booth::narration::length(&c) {
                Ok(length) => match keepsake::booth::narration::outlasts_result_screen(&c, length) {
                    Some(warning) => println!("warning: {warning}"),
                    None => println!("the memorial message is read aloud in {:.1} s", length.as_secs_f32()),
                },
                Err(e) => println!("note: the narration could not be timed: {e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { action: ConfigAction::Example } => {
            print!("{EXAMPLE}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
