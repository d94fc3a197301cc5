//! Debian control data: deb822 paragraphs (Packages, Release), relation fields, Release files.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(paragraphs) = outpost::debian::control::parse(text) {
            for p in &paragraphs {
                if let Ok(package) = outpost::debian::closure::Package::from_paragraph(p.clone()) {
                    let _ = package.label();
                }
                for field in ["Depends", "Pre-Depends", "Provides", "Conflicts", "Breaks"] {
                    if let Some(value) = p.get(field) {
                        let _ = outpost::debian::relation::parse_relations(value);
                    }
                }
            }
        }
        let _ = outpost::debian::relation::parse_relations(text);
        if let Ok(release) = outpost::debian::release::Release::parse(text) {
            let _ = release.check_valid(0, text);
            let _ = release.entry("main/binary-amd64/Packages");
        }
        let _ = outpost::debian::release::parse_date(text);
    }
});
