//! RPM header tag numbers (rpm's `include/rpm/rpmtag.h`), the ones a repository reads.

/// Signature header: header-only RSA signature (OpenPGP packet, binary).
pub const SIGTAG_RSA: u32 = 268;
/// Signature header: header-only DSA/EdDSA/ECDSA signature (OpenPGP packet, binary).
pub const SIGTAG_DSA: u32 = 267;
/// Signature header: SHA-256 of the main header, lower-case hex string.
pub const SIGTAG_SHA256: u32 = 273;
/// Signature header (rpm 6): base64 OpenPGP signatures over the main header.
pub const SIGTAG_OPENPGP: u32 = 278;
/// Signature header: payload (archive) size, 32 and 64 bits.
pub const SIGTAG_PAYLOADSIZE: u32 = 1007;
pub const SIGTAG_LONGARCHIVESIZE: u32 = 271;

pub const NAME: u32 = 1000;
pub const VERSION: u32 = 1001;
pub const RELEASE: u32 = 1002;
pub const EPOCH: u32 = 1003;
pub const SUMMARY: u32 = 1004;
pub const DESCRIPTION: u32 = 1005;
pub const BUILDTIME: u32 = 1006;
pub const BUILDHOST: u32 = 1007;
pub const SIZE: u32 = 1009;
pub const VENDOR: u32 = 1011;
pub const LICENSE: u32 = 1014;
pub const PACKAGER: u32 = 1015;
pub const GROUP: u32 = 1016;
pub const URL: u32 = 1020;
pub const ARCH: u32 = 1022;
pub const OLDFILENAMES: u32 = 1027;
pub const FILEMODES: u32 = 1030;
pub const FILEFLAGS: u32 = 1037;
pub const SOURCERPM: u32 = 1044;
pub const ARCHIVESIZE: u32 = 1046;
pub const PROVIDENAME: u32 = 1047;
pub const REQUIREFLAGS: u32 = 1048;
pub const REQUIRENAME: u32 = 1049;
pub const REQUIREVERSION: u32 = 1050;
pub const CONFLICTFLAGS: u32 = 1053;
pub const CONFLICTNAME: u32 = 1054;
pub const CONFLICTVERSION: u32 = 1055;
pub const CHANGELOGTIME: u32 = 1080;
pub const CHANGELOGNAME: u32 = 1081;
pub const CHANGELOGTEXT: u32 = 1082;
pub const OBSOLETENAME: u32 = 1090;
pub const SOURCEPACKAGE: u32 = 1106;
pub const PROVIDEFLAGS: u32 = 1112;
pub const PROVIDEVERSION: u32 = 1113;
pub const OBSOLETEFLAGS: u32 = 1114;
pub const OBSOLETEVERSION: u32 = 1115;
pub const DIRINDEXES: u32 = 1116;
pub const BASENAMES: u32 = 1117;
pub const DIRNAMES: u32 = 1118;
pub const LONGSIZE: u32 = 5009;
pub const RECOMMENDNAME: u32 = 5046;
pub const RECOMMENDVERSION: u32 = 5047;
pub const RECOMMENDFLAGS: u32 = 5048;
pub const SUGGESTNAME: u32 = 5049;
pub const SUGGESTVERSION: u32 = 5050;
pub const SUGGESTFLAGS: u32 = 5051;
pub const SUPPLEMENTNAME: u32 = 5052;
pub const SUPPLEMENTVERSION: u32 = 5053;
pub const SUPPLEMENTFLAGS: u32 = 5054;
pub const ENHANCENAME: u32 = 5055;
pub const ENHANCEVERSION: u32 = 5056;
pub const ENHANCEFLAGS: u32 = 5057;

/// Dependency flag bits (`rpmsenseFlags`).
pub const SENSE_LESS: u64 = 1 << 1;
pub const SENSE_GREATER: u64 = 1 << 2;
pub const SENSE_EQUAL: u64 = 1 << 3;
/// The bits that make a requirement needed before install (`_INSTALL_ONLY_MASK` and the
/// legacy `PREREQ`): createrepo_c writes these as `pre="1"`.
pub const SENSE_PRE_MASK: u64 =
    (1 << 5) | (1 << 6) | (1 << 7) | (1 << 9) | (1 << 10) | (1 << 24) | (1 << 26);
/// `rpmlib(…)` requirements.
pub const SENSE_RPMLIB: u64 = 1 << 24;
/// File flag: `%ghost`.
pub const FILE_GHOST: u64 = 1 << 6;
