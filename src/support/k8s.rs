//! Kubernetes' own grammars for values the policy checks before the API server would: DNS-1123 names and
//! resource quantities. A value that breaks them passes admission here only to fail when Tekton creates
//! the Pod, far from the person who wrote it.

/// A DNS-1123 label: what Kubernetes requires of a container name.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// A DNS-1123 subdomain (what Kubernetes requires of an annotation key's prefix): dot-separated labels,
/// at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// Whether `quantity` is a Kubernetes resource quantity (`resource.ParseQuantity`'s grammar: a signed
/// decimal number, then a binary suffix `Ki`..`Ei`, a decimal suffix `n u m k M G T P E`, or an exponent).
pub fn check_quantity(quantity: &str) -> Result<(), String> {
    if is_quantity(quantity) {
        Ok(())
    } else {
        Err(format!(
            "{quantity:?} is not a Kubernetes quantity such as 500m, 2, 128Mi or 1Gi"
        ))
    }
}

fn is_quantity(quantity: &str) -> bool {
    let rest = quantity.strip_prefix(['+', '-']).unwrap_or(quantity);
    let number_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, suffix) = rest.split_at(number_len);
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 || number.bytes().filter(|b| *b == b'.').count() > 1 {
        return false;
    }
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        exponent => exponent
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("1", true)]
    #[case("500m", true)]
    #[case("0.5", true)]
    #[case(".5", true)]
    #[case("128Mi", true)]
    #[case("1e3", true)]
    #[case("+2G", true)]
    #[case("lots", false)]
    #[case("1.2.3", false)]
    #[case("12MB", false)]
    #[case("", false)]
    #[case("1e", false)]
    fn quantities_follow_kubernetes_grammar(#[case] quantity: &str, #[case] expected: bool) {
        assert_eq!(is_quantity(quantity), expected);
    }

    #[rstest]
    #[case("db", true)]
    #[case("a-1", true)]
    #[case("-a", false)]
    #[case("a-", false)]
    #[case("A", false)]
    #[case("a_b", false)]
    #[case("", false)]
    fn labels_follow_dns_1123(#[case] name: &str, #[case] expected: bool) {
        assert_eq!(is_dns_label(name), expected);
        assert_eq!(is_dns_subdomain(&format!("{name}.io")), expected);
    }
}
