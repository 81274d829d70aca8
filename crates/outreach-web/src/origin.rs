//! Where a request comes from: the client's address and whether it reached
//! us over HTTPS. Behind a load balancer the connection's peer is the proxy;
//! only a peer among the trusted proxies (`--trusted-proxy CIDR`) is
//! believed about the client (`X-Forwarded-For`) and the scheme
//! (`X-Forwarded-Proto`). The audit log's client address, the login
//! lockout and the rate limits all take the address from here.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The networks whose hosts may speak for a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From CIDRs (`10.0.0.0/8`) or single addresses (`10.0.0.5`); a German
    /// message names a value that is neither.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::with_capacity(values.len());
        for value in values {
            let value = value.as_ref().trim();
            let net = value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "trusted_proxy: „{value}“ ist weder ein Netz wie 10.0.0.0/8 noch eine Adresse wie 10.0.0.5"
                    )
                })?;
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The request's origin, given the connection's peer and whether the
    /// connection itself is TLS. A trusted peer's `X-Forwarded-For` is read
    /// from the right, past every trusted proxy, to the first address that
    /// is not one (a client can put anything on the left); its last
    /// `X-Forwarded-Proto` (the one the nearest proxy set) tells the scheme.
    pub fn origin(&self, peer: IpAddr, tls: bool, headers: &HeaderMap) -> Origin {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return Origin {
                address: peer,
                https: tls,
            };
        }
        let mut address = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(hop) => {
                    address = hop;
                    if !self.trusts(hop) {
                        break;
                    }
                }
                // Nothing past an entry no proxy of ours wrote is believed.
                None => break,
            }
        }
        let proto = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .map(str::trim);
        Origin {
            address,
            https: match proto {
                Some(proto) => proto.eq_ignore_ascii_case("https"),
                None => tls,
            },
        }
    }
}

/// One `X-Forwarded-For` entry: an address, an IPv6 one possibly in
/// brackets, an IPv4 one possibly with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .map(|a| a.to_canonical())
}

/// Where the request comes from (an extension of every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub address: IpAddr,
    /// The client reached us over HTTPS (directly, or via a trusted proxy).
    pub https: bool,
}

/// Whether the connection is TLS (set by the server loop).
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    pub tls: bool,
}

/// The middleware: sets the request's [`Origin`] before anything reads it.
pub async fn resolve(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    let tls = request
        .extensions()
        .get::<Transport>()
        .is_some_and(|t| t.tls);
    // A request without a connection (a test's) has no origin: the audit
    // log says "unbekannt".
    if let Some(peer) = peer {
        let origin = proxies.origin(peer, tls, request.headers());
        request.extensions_mut().insert(origin);
    }
    next.run(request).await
}

/// The request's origin (`None` for a request without a connection).
pub fn of(extensions: &axum::http::Extensions) -> Option<Origin> {
    extensions.get::<Origin>().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn only_a_trusted_peer_speaks_for_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.168.1.7"]).unwrap_or_default();
        let forwarded = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        // An untrusted peer's headers are ignored.
        let direct = proxies.origin(ip("198.51.100.1"), false, &forwarded);
        assert_eq!((direct.address, direct.https), (ip("198.51.100.1"), false));
        // A trusted one's are believed.
        let via = proxies.origin(ip("10.1.2.3"), false, &forwarded);
        assert_eq!((via.address, via.https), (ip("203.0.113.9"), true));
        let via = proxies.origin(ip("192.168.1.7"), false, &forwarded);
        assert_eq!(via.address, ip("203.0.113.9"));
        // No proxies: nobody is believed.
        let none = TrustedProxies::default().origin(ip("10.1.2.3"), true, &forwarded);
        assert_eq!((none.address, none.https), (ip("10.1.2.3"), true));
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap_or_default();
        // The client put a forged address on the left; our proxies appended.
        let chain = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        let o = proxies.origin(ip("10.0.0.1"), false, &chain);
        assert_eq!(o.address, ip("203.0.113.9"));
        // Every hop a proxy of ours: the leftmost.
        let inner = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(
            proxies.origin(ip("10.0.0.1"), false, &inner).address,
            ip("10.0.0.3")
        );
        // Garbage stops the walk at the last proxy.
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, unbekannt")]);
        assert_eq!(
            proxies.origin(ip("10.0.0.1"), false, &garbage).address,
            ip("10.0.0.1")
        );
        // Ports, brackets and mapped addresses.
        let ports = headers(&[("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(
            proxies.origin(ip("10.0.0.1"), false, &ports).address,
            ip("203.0.113.9")
        );
        let v6 = headers(&[("x-forwarded-for", "[2001:db8::1]")]);
        assert_eq!(
            proxies.origin(ip("10.0.0.1"), false, &v6).address,
            ip("2001:db8::1")
        );
        let mapped = proxies.origin(ip("::ffff:10.0.0.1"), false, &ports);
        assert_eq!(mapped.address, ip("203.0.113.9"));
        // The nearest proxy's scheme counts.
        let schemes = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!proxies.origin(ip("10.0.0.1"), true, &schemes).https);
    }

    #[test]
    fn a_bad_network_is_named() {
        let error = TrustedProxies::parse(&["10.0.0.0/8", "zehn"])
            .err()
            .unwrap_or_default();
        assert!(error.contains("„zehn“"), "{error}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    }
}
