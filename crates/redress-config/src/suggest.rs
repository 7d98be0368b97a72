//! "Did you mean": the nearest valid name for a typo.

/// The candidate closest to `input`, if one is close enough to be a typo
/// of it.
///
/// Names are compared ignoring case, `_` and `-` (so `rate-limit` finds
/// `RATE_LIMIT`), by edit distance counting a swap of two neighbouring
/// letters as one edit. A candidate qualifies when at most a third of its
/// letters differ (at least one edit is always allowed), or when the two
/// share a stem (all but the last letter of the shorter, at least four);
/// the closest wins, the first listed on a tie.
///
/// ```
/// use redress_config::suggest;
///
/// let keys = ["deadline", "max_attempts", "max_unknown_attempts"];
/// assert_eq!(suggest("max_atempts", keys), Some("max_attempts"));
/// assert_eq!(suggest("RATE_LIMT", ["RATE_LIMIT", "TRANSIENT"]), Some("RATE_LIMIT"));
/// assert_eq!(suggest("colour", keys), None);
/// ```
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = normalize(input);
    if wanted.is_empty() {
        return None;
    }
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let norm = normalize(candidate);
        let distance = edit_distance(&wanted, &norm);
        let allowed = (wanted.len().max(norm.len()) / 3).max(1);
        // A long shared start is a typo too: `policy` for `policies`.
        let shared = wanted.iter().zip(&norm).take_while(|(a, b)| a == b).count();
        let shorter = wanted.len().min(norm.len());
        let same_stem = shared >= 4 && shared.saturating_add(1) >= shorter;
        if distance > allowed && !same_stem {
            continue;
        }
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

fn normalize(name: &str) -> Vec<char> {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Edit distance with adjacent transpositions (optimal string alignment).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // Three rows of the table: two back, one back, and the current one.
    let mut two_back: Vec<usize> = Vec::new();
    let mut one_back: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = Vec::with_capacity(b.len().saturating_add(1));
        current.push(i.saturating_add(1));
        for (j, cb) in b.iter().enumerate() {
            let at = |row: &[usize], k: usize| row.get(k).copied().unwrap_or(usize::MAX);
            let substitution = at(&one_back, j).saturating_add(usize::from(ca != cb));
            let deletion = at(&one_back, j.saturating_add(1)).saturating_add(1);
            let insertion = current
                .last()
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let mut cost = substitution.min(deletion).min(insertion);
            let swapped = i > 0
                && j > 0
                && a.get(i.wrapping_sub(1)) == Some(cb)
                && b.get(j.wrapping_sub(1)) == Some(ca);
            if swapped {
                cost = cost.min(at(&two_back, j.wrapping_sub(1)).saturating_add(1));
            }
            current.push(cost);
        }
        two_back = core::mem::replace(&mut one_back, current);
    }
    one_back.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        edit_distance(&normalize(a), &normalize(b))
    }

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("deadlien", "deadline"), 1);
        assert_eq!(distance("RATE_LIMIT", "rate-limit"), 0);
    }

    #[test]
    fn suggestions() {
        let kinds = redress_core::StrategyKind::ALL.map(redress_core::StrategyKind::name);
        assert_eq!(
            suggest("decorelated_jitter", kinds),
            Some("decorrelated_jitter")
        );
        assert_eq!(suggest("exponental", kinds), Some("exponential"));
        assert_eq!(suggest("retry_after", kinds), Some("retry_after_or"));
        assert_eq!(suggest("linear", kinds), None);
        assert_eq!(suggest("", kinds), None);
        assert_eq!(
            suggest("servererror", ["SERVER_ERROR"]),
            Some("SERVER_ERROR")
        );
        assert_eq!(suggest("x", ["y"]), Some("y"));
        assert_eq!(suggest("xy", ["ab"]), None);
        assert_eq!(
            suggest("policy", ["deadline", "policies"]),
            Some("policies")
        );
    }
}
