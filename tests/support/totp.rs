//! RFC 6238 / RFC 4226, written out by hand (not totp-rs), so the tests prove that the codes an
//! authenticator app computes are the codes the API accepts.
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

pub fn base32_decode(input: &str) -> Vec<u8> {
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in input.trim_end_matches('=').chars() {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("base32") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// HOTP(K, C) = Truncate(HMAC-SHA1(K, C)) mod 10^6.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = <Hmac<Sha1>>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", binary % 1_000_000)
}

pub fn current_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / 30
}

/// The code for the current time step plus `offset` (-1, 0 or +1 are within the accepted skew).
pub fn totp_code(secret_base32: &str, offset: i64) -> String {
    hotp(
        &base32_decode(secret_base32),
        (current_step() as i64 + offset) as u64,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hand_written_totp_matches_the_rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA1 (8 digits there; the last 6 are the 6-digit codes).
        let secret = b"12345678901234567890";
        assert_eq!(super::hotp(secret, 59 / 30), "287082");
        assert_eq!(super::hotp(secret, 1_111_111_109 / 30), "081804");
        assert_eq!(super::hotp(secret, 1_234_567_890 / 30), "005924");
        assert_eq!(super::hotp(secret, 20_000_000_000 / 30), "353130");
    }
}
