//! Debian version ordering (Policy 5.6.12): parsing never panics, and comparison is a total
//! order (antisymmetric, consistent with equality).
#![no_main]
use libfuzzer_sys::fuzz_target;
use outpost::debian::version::Version;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, "1.0"));
    let (Ok(a), Ok(b)) = (Version::parse(a), Version::parse(b)) else {
        return;
    };
    assert_eq!(a.cmp(&b), b.cmp(&a).reverse(), "antisymmetry");
    assert_eq!(a.cmp(&a), std::cmp::Ordering::Equal, "reflexivity");
    assert_eq!(
        a == b,
        a.cmp(&b) == std::cmp::Ordering::Equal,
        "Eq agrees with Ord"
    );
});
