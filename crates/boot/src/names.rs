//! Validation of every name that can become part of a path, a user switch
//! or an environment variable name.
//!
//! Names come from the catalogue (trusted, but checked so a typo fails
//! loudly) and from tags (hostile). A name that passes these checks contains
//! no `/`, no `..`, no leading `-` or `.`, no NUL and no shell
//! metacharacter, so it is safe as one path component; tag-derived names are
//! additionally looked up in the catalogue before any path is built.

/// Service and component names: `^[a-z][a-z0-9-]{0,62}$`.
pub fn is_service_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Environment (config layer) names: like service names, `_` also allowed.
pub fn is_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// Environment variable names: `^[A-Za-z_][A-Za-z0-9_]{0,127}$`.
pub fn is_var_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Unix user and group names: `^[a-z_][a-z0-9_-]{0,31}$`.
pub fn is_user_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        for ok in ["web", "worker", "a1-b2", "x"] {
            assert!(is_service_name(ok), "{ok}");
        }
        for bad in
            ["", "Web", "../../etc", "web;touch", "$(id)", "-x", ".x", "a/b", "a b", "é", &"a".repeat(64)]
        {
            assert!(!is_service_name(bad), "{bad}");
        }
    }

    #[test]
    fn other_names() {
        assert!(is_var_name("APP_TEAM") && is_var_name("_x") && !is_var_name("1A") && !is_var_name("A-B"));
        assert!(!is_var_name("A=B") && !is_var_name(""));
        assert!(is_user_name("postgres") && is_user_name("app-worker") && !is_user_name("root:root"));
        assert!(is_env_name("review") && is_env_name("pr_123") && !is_env_name(".."));
    }
}
