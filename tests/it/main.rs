//! The integration tests, one binary (linked once): each module drives the real `outpost`
//! binary against real components (a CNCF registry, skopeo, containerd, apt) for one area.
//! Shared harness in `common/`; whole-output snapshots in `snapshots/`. Unit tests of pure
//! functions live beside the code in `src/`, not here.

mod common;

mod apt_archive;
mod apt_multiarch;
mod apt_repository;
mod apt_resolver;
mod apt_variants;
mod artifacts;
mod attacks_bundle;
mod attacks_server;
mod audit;
mod auth;
mod auth_review;
mod bundle_build;
mod bundle_diff;
mod bundle_parts;
mod bundle_sbom;
mod bundle_tamper;
mod charts;
mod charts_site;
mod cli_help;
mod config_check;
mod distribution_spec;
mod estimates;
mod ha_mirrors;
mod kubernetes_release;
mod manifest_errors;
mod node_config;
mod node_runtimes;
mod parity;
mod pins_and_messages;
mod platform_variants;
mod push_registry;
mod receipt;
mod referrers;
mod registry_auth;
mod rpm;
mod rpm_site;
mod scale;
mod serve_containerd;
mod serve_load;
mod serve_registry;
mod site_store;
mod site_ui;
mod supply_files;
mod supply_images;
mod upstream_faults;
mod upstream_proxies;
