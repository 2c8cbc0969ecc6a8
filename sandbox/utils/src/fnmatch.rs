//! Shell-style wildcard matching (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`, `\x`), as
//! `find -name` and the shell's globs use it.

/// Whether `name` matches `pattern` as a whole.
pub fn matches(pattern: &str, name: &str, fold_case: bool) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = if fold_case {
        (pattern.to_lowercase().chars().collect(), name.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), name.chars().collect())
    };
    matches_at(&p, &n)
}

/// Whether `s` has a wildcard character.
pub fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn matches_at(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point per `*`: linear enough for names.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                        if ok {
                            pi += len;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: whether it
/// matched and the expression's length, or `None` when the bracket is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards_match_as_the_shell_does() {
        assert!(matches("*.csv", "ads.csv", false));
        assert!(!matches("*.csv", "ads.csv.bak", false));
        assert!(matches("a?c", "abc", false));
        assert!(matches("[a-c]x", "bx", false));
        assert!(!matches("[!a-c]x", "bx", false));
        assert!(matches("*.CSV", "a.csv", true));
        assert!(matches("*", "", false));
        assert!(matches("a*b*c", "aXXbYYc", false));
        assert!(!matches("a*b*c", "aXXbYY", false));
        assert!(matches("[x", "[x", false));
    }
}
