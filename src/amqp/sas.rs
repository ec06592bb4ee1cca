//! Shared access signature tokens (live-routing spec §2.5): checking the tokens clients send in CBS
//! `put-token`, and signing tokens the way azure-eventhub does, for tests.
//!
//! A token is `SharedAccessSignature sr=<urlenc(audience)>&sig=<urlenc(b64)>&se=<unix>&skn=<key name>`, fields
//! in any order. The signature is `Base64(HMAC-SHA256(key as UTF-8 bytes, "<sr>\n<se>"))` where `sr` is the
//! audience *as it appears in the token*, still url-encoded: Python encodes it with `quote_plus` and JS with
//! `encodeURIComponent`, which differ (space as `+` or `%20`), so re-encoding the decoded audience would
//! not reproduce what either client signed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

const PREFIX: &str = "SharedAccessSignature ";

/// Checks `token` against the configured key and returns the audience (`sr`, decoded), or why it was
/// refused. The reason goes to the client as the CBS status description, so it never includes the key.
pub(crate) fn verify(token: &str, key_name: &str, key: &str, now_unix: i64) -> Result<String, String> {
    let fields = token
        .trim()
        .strip_prefix(PREFIX)
        .ok_or_else(|| "The token is not a SharedAccessSignature token.".to_owned())?;
    let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
    for pair in fields.trim().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "sr" => &mut sr,
            "sig" => &mut sig,
            "se" => &mut se,
            "skn" => &mut skn,
            // Unknown fields are ignored, as the service does.
            _ => continue,
        };
        // A repeated field would leave it open which one was signed.
        if slot.replace(value).is_some() {
            return Err(format!("The SAS token has more than one '{name}' field."));
        }
    }
    let (sr, sig, se, skn) =
        (required(sr, "sr")?, required(sig, "sig")?, required(se, "se")?, required(skn, "skn")?);

    if form_decode(skn)? != key_name {
        return Err(format!("The SAS token is signed with an unknown key name '{}'.", form_decode(skn)?));
    }
    let expiry: i64 = se.parse().map_err(|_| format!("The SAS token expiry '{se}' is not a unix time."))?;
    let signature = STANDARD
        .decode(form_decode(sig)?)
        .map_err(|_| "The SAS token signature is not valid base64.".to_owned())?;
    // verify_slice compares in constant time.
    mac(key, sr, se)
        .verify_slice(&signature)
        .map_err(|_| "The SAS token signature does not match.".to_owned())?;
    // Only a genuine token is told it expired.
    if expiry <= now_unix {
        return Err(format!("The SAS token expired at {expiry} (now {now_unix})."));
    }
    form_decode(sr)
}

fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, String> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| format!("The SAS token has no '{name}' field."))
}

#[cfg(test)]
/// Signs a token for `audience` as azure-eventhub's `generate_sas_token` does: `sr` and `sig` encoded with
/// `quote_plus`, fields in the order `sr`, `sig`, `se`, `skn`.
pub(crate) fn sign(audience: &str, key_name: &str, key: &str, expiry_unix: i64) -> String {
    let sr = quote_plus(audience);
    let se = expiry_unix.to_string();
    let sig = STANDARD.encode(mac(key, &sr, &se).finalize().into_bytes());
    format!("{PREFIX}sr={sr}&sig={}&se={se}&skn={}", quote_plus(&sig), quote_plus(key_name))
}

fn mac(key: &str, sr: &str, se: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(sr.as_bytes());
    mac.update(b"\n");
    mac.update(se.as_bytes());
    mac
}

#[cfg(test)]
/// Python's `quote_plus`: unreserved characters stay, space becomes `+`, every other byte `%XX`.
fn quote_plus(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Undoes `quote_plus` and `encodeURIComponent` alike: neither leaves a literal `+`, so `+` is a space.
fn form_decode(value: &str) -> Result<String, String> {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "The SAS token contains a field that is not UTF-8 once url-decoded.".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "RootManageSharedAccessKey";
    const KEY: &str = "SAS_KEY_VALUE";
    const NOW: i64 = 1_733_468_400;
    const AUDIENCE: &str = "sb://localhost/insights-logs-auditlogs/consumergroups/$Default";

    /// Computed with azure-eventhub's `_pyamqp/utils.py` `generate_sas_token` (quote_plus, HMAC-SHA256,
    /// b64encode, urlencode) under python3, expiry 1733472000.
    const PYTHON_TOKEN: &str = "SharedAccessSignature sr=sb%3A%2F%2Flocalhost%2Finsights-logs-auditlogs%2F\
        consumergroups%2F%24Default&sig=90FmtinpbAjds66oAlmtE6o4F6WmUhNLCGw39bmWpdg%3D&se=1733472000\
        &skn=RootManageSharedAccessKey";
    /// The same, for an audience with a space, a `+` and a `~` (quote_plus's special cases).
    const PYTHON_TOKEN_ODD: &str = "SharedAccessSignature sr=sb%3A%2F%2Flocalhost%3A5673%2Fhub+name%2Bx%2F\
        ConsumerGroups%2F%24default%2FPartitions%2F0~&sig=p4%2FsQXNlNHXJN2yk34KR%2BEnnOUbK6WHqbmPHKGzpx0U%3D\
        &se=1733472000&skn=RootManageSharedAccessKey";
    const ODD_AUDIENCE: &str = "sb://localhost:5673/hub name+x/ConsumerGroups/$default/Partitions/0~";

    #[test]
    fn sign_matches_python_byte_for_byte() {
        assert_eq!(sign(AUDIENCE, NAME, KEY, 1_733_472_000), PYTHON_TOKEN);
        assert_eq!(sign(ODD_AUDIENCE, NAME, KEY, 1_733_472_000), PYTHON_TOKEN_ODD);
    }

    #[test]
    fn python_tokens_verify() {
        assert_eq!(verify(PYTHON_TOKEN, NAME, KEY, NOW), Ok(AUDIENCE.to_owned()));
        assert_eq!(verify(PYTHON_TOKEN_ODD, NAME, KEY, NOW), Ok(ODD_AUDIENCE.to_owned()));
    }

    #[test]
    fn signed_token_verifies_with_fields_in_any_order() {
        let token = sign("sb://localhost/hub/$management", NAME, KEY, NOW + 3600);
        assert_eq!(verify(&token, NAME, KEY, NOW), Ok("sb://localhost/hub/$management".to_owned()));
        let fields = token.strip_prefix(PREFIX).unwrap_or_default();
        let reordered: Vec<&str> = fields.split('&').rev().collect();
        let reordered = format!("{PREFIX}{}", reordered.join("&"));
        assert_eq!(verify(&reordered, NAME, KEY, NOW), Ok("sb://localhost/hub/$management".to_owned()));
    }

    #[test]
    fn js_style_encoding_verifies() {
        // encodeURIComponent leaves `!*'()` alone and writes a space as %20; the signature covers that form.
        let sr = "sb%3A%2F%2Flocalhost%2Fhub%20(1)";
        let se = (NOW + 60).to_string();
        let sig = STANDARD.encode(mac(KEY, sr, &se).finalize().into_bytes());
        let token = format!("{PREFIX}sr={sr}&sig={}&se={se}&skn={NAME}", quote_plus(&sig));
        assert_eq!(verify(&token, NAME, KEY, NOW), Ok("sb://localhost/hub (1)".to_owned()));
    }

    #[test]
    fn refusals() {
        let token = sign(AUDIENCE, NAME, KEY, NOW + 60);
        assert!(verify(&token, NAME, "other-key", NOW).expect_err("wrong key").contains("does not match"));
        assert!(verify(&token, "OtherName", KEY, NOW).expect_err("wrong name").contains("unknown key name"));
        assert!(verify(&token, NAME, KEY, NOW + 60).expect_err("expired").contains("expired"));
        assert!(verify(PYTHON_TOKEN, NAME, KEY, 1_733_472_001).expect_err("expired").contains("expired"));

        let tampered = token.replace("auditlogs", "signinlogs");
        assert!(verify(&tampered, NAME, KEY, NOW).expect_err("tampered sr").contains("does not match"));
        // The same audience encoded differently is not what was signed.
        let reencoded = token.replace("%24Default", "$Default");
        assert!(verify(&reencoded, NAME, KEY, NOW).expect_err("re-encoded sr").contains("does not match"));
        let later = token.replace(&format!("se={}", NOW + 60), &format!("se={}", NOW + 6000));
        assert!(verify(&later, NAME, KEY, NOW).expect_err("extended se").contains("does not match"));
    }

    #[test]
    fn malformed_tokens() {
        let token = sign(AUDIENCE, NAME, KEY, NOW + 60);
        for field in ["sr", "sig", "se", "skn"] {
            let without: Vec<&str> = token
                .strip_prefix(PREFIX)
                .unwrap_or_default()
                .split('&')
                .filter(|pair| !pair.starts_with(&format!("{field}=")))
                .collect();
            let err = verify(&format!("{PREFIX}{}", without.join("&")), NAME, KEY, NOW).expect_err(field);
            assert!(err.contains(&format!("no '{field}' field")), "{err}");
        }
        assert!(verify(&format!("{token}&se=1"), NAME, KEY, NOW).expect_err("dup").contains("more than one"));
        assert!(
            verify("Bearer abc", NAME, KEY, NOW).expect_err("jwt").contains("not a SharedAccessSignature")
        );
        let bad_se = token.replace(&format!("se={}", NOW + 60), "se=soon");
        assert!(verify(&bad_se, NAME, KEY, NOW).expect_err("se").contains("not a unix time"));
        let bad_sig = format!("{PREFIX}sr=a&sig=%%%&se={}&skn={NAME}", NOW + 60);
        assert!(verify(&bad_sig, NAME, KEY, NOW).is_err());
    }

    #[test]
    fn quote_plus_matches_python() {
        // python3 -c "from urllib.parse import quote_plus; print(quote_plus('a b+c/d~e_f.g-h$i%j=é'))"
        assert_eq!(quote_plus("a b+c/d~e_f.g-h$i%j=é"), "a+b%2Bc%2Fd~e_f.g-h%24i%25j%3D%C3%A9");
    }
}
