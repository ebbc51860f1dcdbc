//! Where a connection really goes: `--resolve HOST:PORT:ADDR[,ADDR...]`
//! and `--connect-to HOST1:PORT1:HOST2:PORT2`, as curl has them. The URL,
//! the `Host` header and the TLS server name stay those of the URL; only
//! the address connected to changes (to test one server of a pool, or a
//! host before its DNS exists).

use std::net::{IpAddr, SocketAddr};

/// One `--resolve` entry: a host and port, and the addresses to use.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resolve {
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// One `--connect-to` entry. An empty host or port on the left matches
/// any; an empty one on the right keeps the URL's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ConnectTo {
    from_host: Option<String>,
    from_port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

/// Where to connect for one origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A host name (or address text) and port, looked up as usual.
    Name(String, u16),
    /// Addresses given by `--resolve`, tried in order.
    Addrs(Vec<SocketAddr>),
}

/// The connect rules of a run, in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectRules {
    resolve: Vec<Resolve>,
    connect_to: Vec<ConnectTo>,
}

impl ConnectRules {
    /// Adds a `--resolve HOST:PORT:ADDR[,ADDR...]` (IPv6 addresses may be
    /// bracketed). Errors are one line for the command line.
    pub fn add_resolve(&mut self, text: &str) -> Result<(), String> {
        let bad = |why: &str| format!("--resolve {text:?}: {why} (write HOST:PORT:ADDR)");
        let (host, rest) = text.split_once(':').ok_or_else(|| bad("no port"))?;
        let (port, addrs) = rest.split_once(':').ok_or_else(|| bad("no address"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| bad("the port is not a number"))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim().trim_start_matches('[').trim_end_matches(']');
                a.parse::<IpAddr>()
                    .map_err(|_| bad(&format!("{a:?} is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.resolve.push(Resolve {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        });
        Ok(())
    }

    /// Adds a `--connect-to HOST1:PORT1:HOST2:PORT2`.
    pub fn add_connect_to(&mut self, text: &str) -> Result<(), String> {
        let bad =
            |why: &str| format!("--connect-to {text:?}: {why} (write HOST1:PORT1:HOST2:PORT2)");
        let parts = split_fields(text);
        let [h1, p1, h2, p2] = parts.as_slice() else {
            return Err(bad("four fields are needed"));
        };
        let port = |p: &str| -> Result<Option<u16>, String> {
            if p.is_empty() {
                Ok(None)
            } else {
                p.parse::<u16>()
                    .map(Some)
                    .map_err(|_| bad(&format!("port {p:?} is not a number")))
            }
        };
        let host = |h: &str| (!h.is_empty()).then(|| h.to_ascii_lowercase());
        self.connect_to.push(ConnectTo {
            from_host: host(h1),
            from_port: port(p1)?,
            to_host: host(h2),
            to_port: port(p2)?,
        });
        Ok(())
    }

    /// Whether there are no rules (every origin is connected to as named).
    pub fn is_empty(&self) -> bool {
        self.resolve.is_empty() && self.connect_to.is_empty()
    }

    /// Whether a `--connect-to` rule is set (reqwest cannot follow one).
    pub fn has_connect_to(&self) -> bool {
        !self.connect_to.is_empty()
    }

    /// The `--resolve` entries as host and socket addresses, for reqwest
    /// (which takes the port from the URL).
    pub fn resolved(&self) -> impl Iterator<Item = (&str, Vec<SocketAddr>)> {
        self.resolve.iter().map(|r| {
            let addrs = r
                .addrs
                .iter()
                .map(|a| SocketAddr::new(*a, r.port))
                .collect();
            (r.host.as_str(), addrs)
        })
    }

    /// Where to connect for `host:port`: the first `--connect-to` that
    /// matches moves it, then a `--resolve` for where it now points gives
    /// its addresses.
    pub fn destination(&self, host: &str, port: u16) -> Destination {
        let host = host.to_ascii_lowercase();
        let (host, port) = self
            .connect_to
            .iter()
            .find(|c| {
                c.from_host.as_ref().is_none_or(|h| *h == host)
                    && c.from_port.is_none_or(|p| p == port)
            })
            .map_or((host.clone(), port), |c| {
                (
                    c.to_host.clone().unwrap_or_else(|| host.clone()),
                    c.to_port.unwrap_or(port),
                )
            });
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match self
            .resolve
            .iter()
            .find(|r| (r.host == bare || r.host == "*") && r.port == port)
        {
            Some(r) => {
                Destination::Addrs(r.addrs.iter().map(|a| SocketAddr::new(*a, port)).collect())
            }
            None => Destination::Name(bare.to_string(), port),
        }
    }
}

/// Splits on colons outside brackets, so `[::1]` stays one field.
fn split_fields(text: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let (mut start, mut depth) = (0, 0u32);
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                fields.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&text[start..]);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_pins_a_host_and_port_to_addresses() {
        let mut r = ConnectRules::default();
        r.add_resolve("api.test:443:127.0.0.1,[::1]").unwrap();
        assert_eq!(
            r.destination("API.test", 443),
            Destination::Addrs(vec![
                "127.0.0.1:443".parse().unwrap(),
                "[::1]:443".parse().unwrap()
            ])
        );
        assert_eq!(
            r.destination("api.test", 80),
            Destination::Name("api.test".into(), 80)
        );
        assert_eq!(
            r.destination("other", 443),
            Destination::Name("other".into(), 443)
        );
        for (bad, says) in [
            ("api.test", "no port"),
            ("api.test:443", "no address"),
            ("api.test:x:1.2.3.4", "not a number"),
            ("api.test:443:nowhere", "not an IP address"),
            (":443:1.2.3.4", "no host"),
        ] {
            let e = r.add_resolve(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn connect_to_moves_a_host_and_port_then_resolve_applies() {
        let mut r = ConnectRules::default();
        r.add_connect_to("api.test:443:backend-2:8443").unwrap();
        r.add_connect_to(":80:[::1]:").unwrap();
        assert_eq!(
            r.destination("api.test", 443),
            Destination::Name("backend-2".into(), 8443)
        );
        assert_eq!(
            r.destination("any.test", 80),
            Destination::Name("::1".into(), 80)
        );
        assert_eq!(
            r.destination("api.test", 444),
            Destination::Name("api.test".into(), 444)
        );
        r.add_resolve("backend-2:8443:10.0.0.2").unwrap();
        assert_eq!(
            r.destination("api.test", 443),
            Destination::Addrs(vec!["10.0.0.2:8443".parse().unwrap()])
        );
        assert!(
            r.add_connect_to("a:1:b")
                .unwrap_err()
                .contains("four fields")
        );
        assert!(
            r.add_connect_to("a:x:b:1")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(r.has_connect_to() && !r.is_empty());
    }
}
