//! Exit statuses of the site-side errors: serving (TLS, auth, audit), the site receipt, and
//! the node configuration commands (split from exit.rs to keep it small).

use super::{ExitStatus, HasExitStatus};
use outpost::nodeconfig::apt::AptConfigError;
use outpost::nodeconfig::check::CheckError;
use outpost::nodeconfig::dnf::DnfConfigError;
use outpost::nodeconfig::helm::HelmConfigError;
use outpost::receipt::ReceiptError;
use outpost::server::audit::AuditError;
use outpost::server::auth::AuthError;
use outpost::server::tls::TlsError;
use outpost::server::ServeError;

impl HasExitStatus for TlsError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            TlsError::Io { .. } | TlsError::Generate(_) | TlsError::BadCaKey { .. } => {
                ExitStatus::Failure
            }
        }
    }
}

/// A receipt that does not match its signature fails verification; a key, a time or an
/// audit log that cannot be used is bad input.
impl HasExitStatus for ReceiptError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            ReceiptError::Io { .. } => ExitStatus::Failure,
            ReceiptError::AuditLog { .. }
            | ReceiptError::NoStore { .. }
            | ReceiptError::BadSince { .. }
            | ReceiptError::TooLarge { .. } => ExitStatus::Input,
            ReceiptError::Site(e) => e.exit_status(),
            ReceiptError::Sign(e) => e.exit_status(),
            ReceiptError::SignatureMissing { .. }
            | ReceiptError::Tampered { .. }
            | ReceiptError::NotReceipt { .. } => ExitStatus::Verify,
        }
    }
}

impl HasExitStatus for ServeError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            ServeError::Bind { .. } | ServeError::Tls { .. } => ExitStatus::Failure,
            ServeError::Audit(AuditError::Open { .. }) => ExitStatus::Input,
            ServeError::Audit(AuditError::Thread { .. }) => ExitStatus::Failure,
            // A mistake in the auth file or the client CA file is the operator's input.
            ServeError::Auth(AuthError::File(_)) | ServeError::ClientCa(_) => ExitStatus::Input,
            ServeError::Auth(AuthError::Key(_)) => ExitStatus::Failure,
        }
    }
}

/// `config apt`: a bundle without a repository is the wrong input; a key that is missing
/// or damaged is a bundle that fails verification.
impl HasExitStatus for AptConfigError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            AptConfigError::NoRepository { .. } => ExitStatus::Input,
            AptConfigError::KeyMissing { .. } | AptConfigError::KeyDamaged { .. } => {
                ExitStatus::Verify
            }
        }
    }
}

/// `config dnf`: a bundle without an RPM repository is the wrong input; a key that is
/// missing or damaged is a bundle that fails verification.
impl HasExitStatus for DnfConfigError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            DnfConfigError::NoRepository { .. } => ExitStatus::Input,
            DnfConfigError::KeyMissing { .. } | DnfConfigError::KeyDamaged { .. } => {
                ExitStatus::Verify
            }
        }
    }
}

/// `config helm`: a bundle without charts is the wrong input; a chart whose manifest or
/// config is missing or damaged is a bundle that fails verification.
impl HasExitStatus for HelmConfigError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            HelmConfigError::NoCharts { .. } => ExitStatus::Input,
            HelmConfigError::ChartDamaged { .. } => ExitStatus::Verify,
        }
    }
}

/// `config check`: a node root with nothing to check is the wrong input; a file that cannot
/// be read is a failure, one too large or not text is not a runtime configuration.
impl HasExitStatus for CheckError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            CheckError::NothingToCheck { .. }
            | CheckError::TooLarge { .. }
            | CheckError::NotText { .. } => ExitStatus::Input,
            CheckError::Read { .. } => ExitStatus::Failure,
        }
    }
}
