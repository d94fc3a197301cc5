//! The `outpost` binary: parse the command line, resolve it into settings, run one command,
//! and exit with the one `ExitStatus` its result maps to.

mod cli;

use clap::Parser;
use cli::args::{
    AuthCommand, BundleCommand, Cli, Command, ConfigCommand, KeyCommand, ReportCommand,
    StoreCommand,
};
use cli::commands;
use cli::exit::{CliError, ExitStatus};
use cli::settings::{
    AptSettings, BuildSettings, CheckSettings, ContainerdSettings, DnfSettings, Environment,
    HelmSettings, KeyGenerateSettings, KubeadmSettings, KubespraySettings, LockSettings,
    PushCommandSettings, RuntimeSettings, ServeCommandSettings, StoreReportSettings,
};
use outpost::nodeconfig::containers::Engine;
use outpost::nodeconfig::k3s::Distribution;

fn run(cli: Cli, env: &Environment) -> Result<(), CliError> {
    match cli.command {
        Command::Key(KeyCommand::Generate { out, site }) => {
            commands::key_generate(&KeyGenerateSettings::resolve(&out, site, env))
        }
        Command::Lock(args) => commands::lock(&LockSettings::resolve(&args, env)?),
        Command::Bundle(BundleCommand::Build(args)) => {
            commands::build(&BuildSettings::resolve(&args, env)?)
        }
        Command::Bundle(BundleCommand::Verify(args)) => commands::verify(&args),
        Command::Bundle(BundleCommand::Inspect(args)) => commands::inspect(&args),
        Command::Bundle(BundleCommand::Join(args)) => commands::join(&args),
        Command::Bundle(BundleCommand::Parity(args)) => commands::parity(&args),
        Command::Bundle(BundleCommand::Repair(args)) => commands::repair(&args),
        Command::Bundle(BundleCommand::Diff(args)) => commands::diff(&args),
        Command::Bundle(BundleCommand::Sbom(args)) => commands::sbom(&args),
        Command::Load(args) => commands::load(&args),
        Command::Store(StoreCommand::List(target)) => commands::store_list(&target),
        Command::Store(StoreCommand::Prune { target, keep }) => {
            commands::store_prune(&target, keep as usize)
        }
        Command::Store(StoreCommand::Verify { target, key }) => {
            commands::store_verify(&target, &key.key)
        }
        Command::Store(StoreCommand::Report(args)) => {
            commands::store_report(&StoreReportSettings::resolve(&args, env))
        }
        Command::Report(ReportCommand::Verify(args)) => commands::report_verify(&args),
        Command::Push(args) => commands::push(&PushCommandSettings::resolve(&args)?),
        Command::Serve(args) => commands::serve(&ServeCommandSettings::resolve(&args)?),
        Command::Auth(AuthCommand::Hash) => commands::auth_hash(),
        Command::Config(ConfigCommand::Containerd(args)) => {
            commands::config_containerd(&ContainerdSettings::resolve(&args)?)
        }
        Command::Config(ConfigCommand::K3s(args)) => commands::config_rancher(
            &RuntimeSettings::resolve(&args.runtime, args.ca.map(Into::into))?,
            Distribution::K3s,
        ),
        Command::Config(ConfigCommand::Rke2(args)) => commands::config_rancher(
            &RuntimeSettings::resolve(&args.runtime, args.ca.map(Into::into))?,
            Distribution::Rke2,
        ),
        Command::Config(ConfigCommand::Crio(args)) => commands::config_containers(
            &RuntimeSettings::resolve(&args.runtime, args.ca)?,
            Engine::CriO,
        ),
        Command::Config(ConfigCommand::Podman(args)) => commands::config_containers(
            &RuntimeSettings::resolve(&args.runtime, args.ca)?,
            Engine::Podman,
        ),
        Command::Config(ConfigCommand::Talos(args)) => {
            commands::config_talos(&RuntimeSettings::resolve(&args.runtime, args.ca)?)
        }
        Command::Config(ConfigCommand::Docker(args)) => {
            commands::config_docker(&RuntimeSettings::resolve(&args.runtime, args.ca)?)
        }
        Command::Config(ConfigCommand::Kubeadm(args)) => {
            commands::config_kubeadm(&KubeadmSettings::resolve(&args)?)
        }
        Command::Config(ConfigCommand::Kubespray(args)) => {
            commands::config_kubespray(&KubespraySettings::resolve(&args)?)
        }
        Command::Config(ConfigCommand::Apt(args)) => {
            commands::config_apt(&AptSettings::resolve(&args)?)
        }
        Command::Config(ConfigCommand::Dnf(args)) => {
            commands::config_dnf(&DnfSettings::resolve(&args)?)
        }
        Command::Config(ConfigCommand::Helm(args)) => {
            commands::config_helm(&HelmSettings::resolve(&args)?)
        }
        Command::Config(ConfigCommand::Check(args)) => {
            commands::config_check(&CheckSettings::resolve(&args)?)
        }
    }
}

fn main() -> std::process::ExitCode {
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
    let status = match run(cli, &Environment::read()) {
        Ok(()) => ExitStatus::Success,
        Err(failure) => {
            // Each cause once: most messages already include their source's text.
            eprintln!("error: {}", outpost::errors::chain(failure.error.as_ref()));
            failure.status
        }
    };
    std::process::ExitCode::from(status.code() as u8)
}
