//! The `outpost` binary: parse the command line, run one command, map errors to exit codes.

mod cli;

use clap::Parser;
use cli::args::{BundleCommand, Cli, Command, ConfigCommand, KeyCommand, StoreCommand};
use cli::{commands, exit, CliError};

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Key(KeyCommand::Generate { out }) => commands::key_generate(&out),
        Command::Lock(args) => commands::lock(&args),
        Command::Bundle(BundleCommand::Build(args)) => commands::build(&args),
        Command::Bundle(BundleCommand::Verify(args)) => commands::verify(&args),
        Command::Bundle(BundleCommand::Inspect(args)) => commands::inspect(&args),
        Command::Bundle(BundleCommand::Join(args)) => commands::join(&args),
        Command::Load(args) => commands::load(&args),
        Command::Store(StoreCommand::List(target)) => commands::store_list(&target),
        Command::Store(StoreCommand::Prune { target, keep }) => {
            commands::store_prune(&target, keep as usize)
        }
        Command::Store(StoreCommand::Verify { target, key }) => {
            commands::store_verify(&target, &key)
        }
        Command::Push(args) => commands::push(&args),
        Command::Serve(args) => commands::serve(&args),
        Command::Config(ConfigCommand::Containerd(args)) => commands::config_containerd(&args),
        Command::Config(ConfigCommand::Kubeadm(args)) => commands::config_kubeadm(&args),
        Command::Config(ConfigCommand::Kubespray(args)) => commands::config_kubespray(&args),
        Command::Config(ConfigCommand::Apt(args)) => commands::config_apt(&args),
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,outpost=info,pgp=error")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Err(failure) = run(cli) {
        eprintln!("error: {:#}", failure.error);
        std::process::exit(if failure.code == 0 {
            exit::FAILURE
        } else {
            failure.code
        });
    }
}
