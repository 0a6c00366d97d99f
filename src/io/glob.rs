//! Shell-style wildcard matching for the patterns users write in options
//! and configuration files (`smtp-recv --fail`, `smtp-send`'s `from`
//! account selection): `*` any run, `?` any one character, case ignored.

/// Whether `pattern` matches all of `text`, ignoring case (Unicode simple
/// lowercase, so `ü*` matches `Üx`). Iterative with one backtrack point:
/// time is O(pattern × text) at worst, never exponential on hostile input.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, s, ok) in [
            ("*", "", true),
            ("*", "anything", true),
            ("bad@*", "bad@example.org", true),
            ("bad@*", "BAD@Example.ORG", true),
            ("BAD@*", "bad@x", true),
            ("bad@*", "notbad@x", false),
            ("*@example.org", "a@example.org", true),
            ("*@example.org", "a@example.org.evil", false),
            ("*@work.example", "me@work.example.org", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a**", "a", true),
            ("a?c@*", "abc@x", true),
            ("a?c@*", "ac@x", false),
            ("*a*a*a*", "aaa", true),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("exact@x", "exact@x", true),
            ("exact@x", "exact@xy", false),
            ("ü*", "Üx", true),
        ] {
            assert_eq!(glob(p, s), ok, "{p} ~ {s}");
        }
        // No exponential blow-up on hostile patterns.
        let p = "*a".repeat(100);
        assert!(!glob(&p, &"a".repeat(99)));
    }
}
