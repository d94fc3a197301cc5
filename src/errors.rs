//! Turning library errors with source chains into one readable line, and counting things
//! in messages (`1 attempt`, `2 attempts`).

/// `error: cause: cause…`, leaving out causes whose text is already in the message.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `1 image`, `2 images`: a count with its noun in the right number (nouns taking `s`).
pub fn plural(count: impl Into<u64>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_right_number() {
        assert_eq!(plural(1u32, "attempt"), "1 attempt");
        assert_eq!(plural(4u32, "attempt"), "4 attempts");
        assert_eq!(plural(0u32, "image"), "0 images");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer {0}: inner")]
    struct Outer(String, #[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let error = Outer("x".into(), Inner);
        assert_eq!(chain(&error), "outer x: inner");
    }
}
