//! Who made a request: the one type authentication produces and authorisation, the audit log
//! and metrics read.
//!
//! The authentication layer inserts an [`Identity`] into the request's extensions before the
//! handler runs and copies it onto the response's extensions, so outer layers (the audit
//! log) see it too. A request or response without one was made anonymously.

use axum::response::Response;
use std::fmt;

/// The identity a request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// No credentials (or authentication is off).
    Anonymous,
    /// A user of the auth file, by password (Basic) or by a token issued to them.
    User(String),
    /// A client certificate from the client CA, by the user name the auth file maps its
    /// CN/SAN to, or by the CN itself when no user claims it.
    Certificate(String),
}

impl Identity {
    /// The identity a response was made for (`Anonymous` when none was attached).
    pub fn of(response: &Response) -> Identity {
        response
            .extensions()
            .get::<Identity>()
            .cloned()
            .unwrap_or(Identity::Anonymous)
    }

    /// The name rules and logs use: `anonymous`, the user name, or `cert:<name>`.
    pub fn name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Anonymous => f.write_str("anonymous"),
            Identity::User(name) => f.write_str(name),
            Identity::Certificate(name) => write!(f, "cert:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_logs_and_rules_show() {
        assert_eq!(Identity::Anonymous.to_string(), "anonymous");
        assert_eq!(Identity::User("alice".into()).to_string(), "alice");
        assert_eq!(
            Identity::Certificate("node1.site.example".into()).to_string(),
            "cert:node1.site.example"
        );
        let response = Response::new(axum::body::Body::empty());
        assert_eq!(Identity::of(&response), Identity::Anonymous);
    }
}
