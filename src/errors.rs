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

/// `1 image`, `2 images`, `3 repositories`: a count with its regular English noun in the
/// right number.
pub fn plural(count: impl Into<u64>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        return format!("1 {noun}");
    }
    let consonant_y = noun.ends_with('y')
        && noun
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| !"aeiou".contains(c));
    match noun.strip_suffix('y').filter(|_| consonant_y) {
        Some(stem) => format!("{count} {stem}ies"),
        None => format!("{count} {noun}s"),
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
        assert_eq!(plural(2u32, "repository"), "2 repositories");
        assert_eq!(plural(1u32, "repository"), "1 repository");
        assert_eq!(plural(2u32, "key"), "2 keys");
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
