//! Base64 decoding as Go's `base64.StdEncoding.Strict().DecodeString` does it: the standard alphabet,
//! padded, the unused bits of the last character zero, and line breaks (`\r`, `\n`) skipped. Written
//! here, at 40 lines, where a crate would add kilobytes to a module held to a size budget; the oracle
//! holds it to Go's encoder (the resolved Tasks it serves are encoded by Go).

/// The bytes `text` encodes; none when it is not strict standard base64.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    if !digits.len().is_multiple_of(4) {
        return None;
    }
    let mut bytes = Vec::with_capacity(digits.len() / 4 * 3);
    let last = digits.len() / 4;
    for (i, group) in digits.chunks_exact(4).enumerate() {
        let padding = group.iter().rev().take_while(|b| **b == b'=').count();
        if padding > 2 || padding > 0 && i + 1 != last {
            return None;
        }
        let mut bits: u32 = 0;
        for byte in group.iter().take(4 - padding) {
            bits = bits << 6 | u32::from(value(*byte)?);
        }
        bits <<= 6 * padding;
        let [_, decoded @ ..] = bits.to_be_bytes();
        // Strict: the bits past the last whole byte are zero.
        if decoded
            .get(3 - padding..)
            .is_some_and(|rest| rest.iter().any(|b| *b != 0))
        {
            return None;
        }
        bytes.extend(decoded.iter().take(3 - padding));
    }
    Some(bytes)
}

/// The value of one character of the standard alphabet.
fn value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::empty("", Some(""))]
    #[case::one_padding("YWI=", Some("ab"))]
    #[case::two_paddings("YQ==", Some("a"))]
    #[case::none("YWJj", Some("abc"))]
    #[case::line_breaks("YW\r\nJj", Some("abc"))]
    #[case::unpadded("YQ", None)]
    #[case::padding_inside("YQ==YWJj", None)]
    #[case::three_paddings("Y===", None)]
    #[case::bits_left_over("YR==", None)]
    #[case::url_alphabet("-_-_", None)]
    #[case::space("YW Jj", None)]
    fn decodes_as_go_strictly_does(#[case] text: &str, #[case] expected: Option<&str>) {
        assert_eq!(decode(text), expected.map(|e| e.as_bytes().to_vec()));
    }

    proptest! {
        /// What the standard encoder writes is read back.
        #[test]
        fn reads_what_the_standard_encoder_writes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(decode(&STANDARD.encode(&bytes)), Some(bytes));
        }
    }
}
