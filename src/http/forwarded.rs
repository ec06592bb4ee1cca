//! The client's address behind reverse proxies, believed only from proxies the
//! operator names (`--trusted-proxy`). Anyone can send `X-Forwarded-For`; taking
//! its first entry from any peer let a caller write any `actor.ipAddress` it liked.
//!
//! From the TCP peer, walk the forwarding chain right to left (each proxy appends
//! the address it received from) while the current hop is a trusted proxy: the
//! first untrusted address is the client. `Forwarded` (RFC 7239) `for=` values are
//! read when there is no `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderName};

/// An address or a CIDR block of trusted proxies (`10.0.0.5`, `10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange {
    network: IpAddr,
    prefix: u8,
}

impl ProxyRange {
    /// Parses `address` or `address/prefix` (a clap value parser).
    pub fn parse(text: &str) -> Result<ProxyRange, String> {
        let bad = || format!("'{text}' is not an IP address or CIDR block (such as 10.0.0.5 or 10.0.0.0/8)");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= width).ok_or_else(bad)?,
            None => width,
        };
        Ok(ProxyRange { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        let ((network, width), (candidate, other)) = (bits(canonical(self.network)), bits(ip));
        if width != other {
            return false;
        }
        let host_bits = u32::from(width - self.prefix.min(width));
        network.checked_shr(host_bits).unwrap_or(0) == candidate.checked_shr(host_bits).unwrap_or(0)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One hop of a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`,
/// or RFC 7239's quoted forms. `None` for obfuscated or unknown hops.
fn hop_address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.strip_prefix('[')?.split(']').next()?.parse().ok())
}

/// The hops the forwarding headers list, left (the original client) to right.
fn chain(req: &HttpRequest) -> Vec<String> {
    let values = |name: &HeaderName| {
        req.headers().get_all(name).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
    };
    let xff: Vec<String> = values(&HeaderName::from_static("x-forwarded-for")).map(str::to_string).collect();
    if !xff.is_empty() {
        return xff;
    }
    values(&FORWARDED)
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| value.trim().to_string())
            })
        })
        .collect()
}

/// The client's address: the TCP peer, or what trusted proxies say they received.
pub fn client_address(peer: IpAddr, hops: &[String], trusted: &[ProxyRange]) -> IpAddr {
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        if !trusted.iter().any(|range| range.contains(client)) {
            break;
        }
        match hop_address(hop) {
            Some(ip) => client = canonical(ip),
            None => break,
        }
    }
    client
}

/// [`client_address`] for a request, given the trusted proxies.
pub(super) fn client_ip(req: &HttpRequest, trusted: &[ProxyRange]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(if trusted.is_empty() { canonical(peer) } else { client_address(peer, &chain(req), trusted) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn hops(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranges_parse_and_match() {
        let net = ProxyRange::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.200.1.2")) && !net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(ProxyRange::parse("::1").unwrap().contains(ip("::1")));
        assert!(!ProxyRange::parse("::1").unwrap().contains(ip("127.0.0.1")));
        assert!(ProxyRange::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/x", ""] {
            assert!(ProxyRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let trusted = [ProxyRange::parse("10.0.0.0/8").unwrap()];
        // An untrusted peer's header is ignored.
        assert_eq!(client_address(ip("203.0.113.9"), &hops(&["1.2.3.4"]), &trusted), ip("203.0.113.9"));
        // A trusted proxy's is believed, up to the first untrusted hop (the left
        // part is whatever the client sent).
        assert_eq!(client_address(ip("10.0.0.2"), &hops(&["1.2.3.4"]), &trusted), ip("1.2.3.4"));
        assert_eq!(
            client_address(ip("10.0.0.2"), &hops(&["6.6.6.6", "198.51.100.7", "10.0.0.3"]), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &hops(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(client_address(ip("10.0.0.2"), &hops(&["unknown"]), &trusted), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
    }
}
