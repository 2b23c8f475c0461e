//! Identifiers and secrets. Secrets are 256 random bits; the database keeps only their SHA-256,
//! so a copy of the database does not open any booth or family session.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A record id: 128 random bits as 32 hex digits.
pub fn id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A secret (booth token, invite link, session cookie): 256 random bits as 64 hex digits.
pub fn secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A booth token as handed to the technician: a prefix that says what it is, then the secret.
pub fn booth_token() -> String {
    format!("ksb_{}", secret())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex of exactly `len` digits: the only shape ids, hashes and tokens may have, checked
/// before any of them reaches a path or a query.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn is_id(s: &str) -> bool {
    is_hex(s, 32)
}

pub fn is_sha256(s: &str) -> bool {
    is_hex(s, 64)
}

/// Share tokens are minted by the booth (the QR is printed before the upload): 128 random bits.
pub fn is_share_token(s: &str) -> bool {
    is_hex(s, 32)
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let salt = SaltString::encode_b64(&raw)?;
    Ok(argon2::Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

pub fn check_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(is_id(&id()));
        assert!(is_hex(&secret(), 64));
        assert!(booth_token().starts_with("ksb_"));
        assert!(!is_id("../../etc/passwd"));
        assert!(!is_sha256(&"A".repeat(64)));
        assert!(!is_share_token("0123456789abcdef0123456789abcde/"));
    }

    #[test]
    fn passwords() {
        let h = hash_password("사랑해요").unwrap();
        assert!(check_password("사랑해요", &h));
        assert!(!check_password("wrong", &h));
        assert!(!check_password("x", "not a hash"));
    }
}
