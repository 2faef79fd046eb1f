//! Numbers as decimal text without `core::fmt`.
//!
//! With the standard library built for size (the WebAssembly build), `u64::to_string` goes through
//! `Display` and the formatter's integer padding; the core writes the integers of its packets and
//! messages with [`push_decimal`] instead, which is also what the native client's packet writer uses.

/// Appends `n` in decimal, e.g. `42`.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

/// `n` in decimal, e.g. `"42"`.
pub(crate) fn decimal(n: impl Into<u64>) -> String {
    let mut out = String::new();
    push_decimal(&mut out, n.into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_to_string_writes() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), (1 << 53) - 1, u64::MAX - 1, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, ["x", &n.to_string()].concat());
        }
        assert_eq!(decimal(7u8), "7");
        assert_eq!(decimal(404u16), "404");
    }
}
