//! Encryption of secret values at rest: XChaCha20-Poly1305 under a key derived from
//! the host's master key, a random 192-bit nonce per value, and associated data
//! binding the ciphertext to its row (account id + secret id), so a ciphertext
//! copied to another row does not decrypt.
//!
//! Master key: `HERMES_MASTER_KEY` (64 hex characters, or base64 of 32 bytes), else
//! `<data-dir>/master.key` (32 raw random bytes, mode 0600), created on first start.
//! The cipher key is `SHA-256("hermes/secrets/v1" || 0x00 || master)`: the master key
//! itself never encrypts anything, so other purposes can derive their own keys.
//!
//! Stored blob: `0x01` (format version) ‖ nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "HERMES_MASTER_KEY";
/// File under the data directory holding the master key when the env var is unset.
pub const MASTER_KEY_FILE: &str = "master.key";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A secret's plaintext: redacted in `Debug`/`Display`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a plaintext.
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The plaintext. Never log it, never hand it to a guest.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> serde::Deserialize<'de> for SecretValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretValue)
    }
}

/// Why a master key could not be loaded, or a value not decrypted.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// `HERMES_MASTER_KEY` or `master.key` is malformed or unreadable.
    #[error("{0}")]
    MasterKey(String),
    /// The ciphertext does not authenticate under this key and row.
    #[error(
        "a stored secret could not be decrypted (wrong master key, or the stored value was tampered with or moved)"
    )]
    Decrypt,
}

/// The key secret values are encrypted with (derived from the master key).
pub struct MasterKey {
    cipher_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

fn parse_env_key(text: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let text = text.trim();
    let mut out = Zeroizing::new([0u8; 32]);
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode_to_slice(text, &mut out[..])
            .map_err(|e| CryptoError::MasterKey(format!("{MASTER_KEY_ENV} is not valid hex: {e}")))?;
        return Ok(out);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .map(Zeroizing::new)
        .map_err(|_| {
            CryptoError::MasterKey(format!(
                "{MASTER_KEY_ENV} must be 64 hex characters or base64 of 32 bytes (e.g. `openssl rand -hex 32`)"
            ))
        })?;
    if decoded.len() != 32 {
        return Err(CryptoError::MasterKey(format!(
            "{MASTER_KEY_ENV} decodes to {} bytes; it must be exactly 32 (e.g. `openssl rand -hex 32`)",
            decoded.len()
        )));
    }
    out.copy_from_slice(&decoded);
    Ok(out)
}

fn load_or_create_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |what: &str, e: std::io::Error| CryptoError::MasterKey(format!("{what} {}: {e}", path.display()));
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            if bytes.len() != 32 {
                return Err(CryptoError::MasterKey(format!(
                    "{} holds {} bytes; a master key is exactly 32 random bytes",
                    path.display(),
                    bytes.len()
                )));
            }
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(&bytes);
            Ok(out)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::fill(&mut key[..]);
            // create_new: two hosts starting at once never overwrite each other's key.
            match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
                Ok(mut f) => {
                    f.write_all(&key[..]).map_err(|e| err("writing", e))?;
                    f.sync_all().map_err(|e| err("syncing", e))?;
                    Ok(key)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_file(path),
                Err(e) => Err(err("creating", e)),
            }
        }
        Err(e) => Err(err("reading", e)),
    }
}

impl MasterKey {
    /// Loads the master key from `HERMES_MASTER_KEY` in `env`, else from
    /// `<data_dir>/master.key` (created with 32 random bytes, mode 0600, if absent).
    pub fn load(data_dir: &Path, env: &HashMap<String, String>) -> Result<MasterKey, CryptoError> {
        let raw = match env.get(MASTER_KEY_ENV).filter(|v| !v.trim().is_empty()) {
            Some(v) => parse_env_key(v)?,
            None => load_or_create_file(&data_dir.join(MASTER_KEY_FILE))?,
        };
        Ok(MasterKey::from_bytes(&raw))
    }

    /// A key from 32 raw master-key bytes.
    pub fn from_bytes(raw: &[u8; 32]) -> MasterKey {
        let mut h = Sha256::new();
        h.update(b"hermes/secrets/v1\0");
        h.update(raw);
        let mut cipher_key = Zeroizing::new([0u8; 32]);
        cipher_key.copy_from_slice(&h.finalize());
        MasterKey { cipher_key }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.cipher_key[..]))
    }

    /// Encrypts `value` for the row (`account_id`, `secret_id`).
    pub fn encrypt(&self, account_id: &str, secret_id: &str, value: &SecretValue) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let aad = associated_data(account_id, secret_id);
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.expose().as_bytes(), aad: &aad })
            // Encryption of an in-memory buffer cannot fail for sizes below 256 GiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a blob stored for the row (`account_id`, `secret_id`).
    pub fn decrypt(&self, account_id: &str, secret_id: &str, blob: &[u8]) -> Result<SecretValue, CryptoError> {
        if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != VERSION {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, sealed) = blob[1..].split_at(NONCE_LEN);
        let aad = associated_data(account_id, secret_id);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| CryptoError::Decrypt)?;
        match String::from_utf8(plain) {
            Ok(s) => Ok(SecretValue(s)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(CryptoError::Decrypt)
            }
        }
    }
}

fn associated_data(account_id: &str, secret_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + account_id.len() + secret_id.len());
    aad.extend_from_slice(b"hermes-secret-v1\0");
    aad.extend_from_slice(account_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(secret_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn round_trips_and_binds_the_row() {
        let k = key();
        let v = SecretValue::new("hunter2-token");
        let blob = k.encrypt("acct_a", "sec_1", &v);
        assert_eq!(k.decrypt("acct_a", "sec_1", &blob).unwrap(), v);
        assert!(k.decrypt("acct_a", "sec_2", &blob).is_err(), "another secret id");
        assert!(k.decrypt("acct_b", "sec_1", &blob).is_err(), "another account");
        assert!(MasterKey::from_bytes(&[8u8; 32]).decrypt("acct_a", "sec_1", &blob).is_err(), "another key");
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(k.decrypt("acct_a", "sec_1", &tampered).is_err());
        assert!(k.decrypt("acct_a", "sec_1", &blob[..10]).is_err());
        assert!(!blob.windows(7).any(|w| w == b"hunter2"));
        assert_ne!(blob, k.encrypt("acct_a", "sec_1", &v), "a fresh nonce per value");
    }

    #[test]
    fn secret_values_redact_themselves() {
        let v = SecretValue::new("hunter2-token");
        assert_eq!(format!("{v}"), "[REDACTED]");
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    #[test]
    fn env_keys_parse_as_hex_or_base64_of_32_bytes() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(parse_env_key(&hex).unwrap()[31], 0xff);
        let b64 = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        assert_eq!(*parse_env_key(&b64).unwrap(), [9u8; 32]);
        let short = base64::engine::general_purpose::STANDARD.encode([9u8; 16]);
        assert!(parse_env_key(&short).unwrap_err().to_string().contains("16 bytes"));
        assert!(parse_env_key("not a key!").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let env = HashMap::new();
        let a = MasterKey::load(dir.path(), &env).unwrap();
        let blob = a.encrypt("acct", "sec", &SecretValue::new("value-1"));
        let b = MasterKey::load(dir.path(), &env).unwrap();
        assert_eq!(b.decrypt("acct", "sec", &blob).unwrap().expose(), "value-1");
        let meta = std::fs::metadata(dir.path().join(MASTER_KEY_FILE)).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        std::fs::write(dir.path().join(MASTER_KEY_FILE), b"short").unwrap();
        assert!(MasterKey::load(dir.path(), &env).is_err());
    }
}
