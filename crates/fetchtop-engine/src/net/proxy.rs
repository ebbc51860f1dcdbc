//! Which proxy, if any, a request goes through: `-x/--proxy`, `--noproxy`
//! and the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, upper or lower case), with curl's rules:
//!
//! - `--proxy` wins over the variables; `--noproxy` over `NO_PROXY`;
//! - `NO_PROXY` / `--noproxy` apply to every proxy, `--proxy` included:
//!   a comma list of host names (each matching its subdomains too, a
//!   leading dot optional), IP addresses, CIDR ranges, or `*` for all;
//! - a proxy URL without a scheme is an HTTP proxy.
//!
//! The matching itself is hyper-util's `Matcher` (the one reqwest uses), so
//! both transports route every URL the same way; this module decides its
//! inputs and checks them, since the matcher silently drops a proxy it
//! cannot use.

use std::fmt;

use hyper_util::client::proxy::matcher::{Intercept, Matcher};

/// The kinds of proxy a run can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// Plain HTTP to the proxy: `http://` URLs in absolute form, `https://`
    /// ones through a `CONNECT` tunnel.
    Http,
    /// As [`ProxyKind::Http`], over TLS to the proxy.
    Https,
    /// SOCKS5, names resolved here (`socks5://`).
    Socks5,
    /// SOCKS5, names resolved by the proxy (`socks5h://`).
    Socks5h,
}

impl ProxyKind {
    fn of(scheme: &str) -> Option<ProxyKind> {
        match scheme.to_ascii_lowercase().as_str() {
            "http" => Some(ProxyKind::Http),
            "https" => Some(ProxyKind::Https),
            "socks5" => Some(ProxyKind::Socks5),
            "socks5h" => Some(ProxyKind::Socks5h),
            _ => None,
        }
    }

    /// Of an intercept's URI, as the matcher built it.
    pub(crate) fn of_uri(uri: &http::Uri) -> Option<ProxyKind> {
        uri.scheme_str().and_then(ProxyKind::of)
    }
}

/// The proxy rules of a run, checked. `Default` is no proxy at all.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    http: Option<String>,
    https: Option<String>,
    no: String,
}

impl ProxySettings {
    /// The rules from the flags and the environment (`env` looks a variable
    /// up, so tests need not touch the process's environment). A proxy URL
    /// that cannot be used is an error naming where it came from, with any
    /// password left out.
    pub fn new(
        proxy: Option<&str>,
        noproxy: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxySettings, String> {
        let var = |names: [&str; 2]| {
            names
                .into_iter()
                .find_map(|n| env(n).map(|v| (n.to_string(), v)))
                .filter(|(_, v)| !v.trim().is_empty())
        };
        let checked = |from: &str, url: String| -> Result<String, String> {
            check(&url).map_err(|why| format!("{from} {}: {why}", shown(&url)))?;
            Ok(url.trim().to_string())
        };
        let no = match noproxy {
            Some(list) => list.to_string(),
            None => var(["NO_PROXY", "no_proxy"]).map_or_else(String::new, |(_, v)| v),
        };
        if let Some(url) = proxy {
            // `-x ""` turns every proxy off, as with curl.
            if url.trim().is_empty() {
                return Ok(ProxySettings::default());
            }
            let url = checked("--proxy", url.to_string())?;
            return Ok(ProxySettings {
                http: Some(url.clone()),
                https: Some(url),
                no,
            });
        }
        let all = var(["ALL_PROXY", "all_proxy"]);
        let pick = |names: [&str; 2]| -> Result<Option<String>, String> {
            match var(names).or_else(|| all.clone()) {
                Some((name, url)) => checked(&name, url).map(Some),
                None => Ok(None),
            }
        };
        Ok(ProxySettings {
            http: pick(["HTTP_PROXY", "http_proxy"])?,
            https: pick(["HTTPS_PROXY", "https_proxy"])?,
            no,
        })
    }

    /// The rules from the flags and this process's environment.
    pub fn from_env(proxy: Option<&str>, noproxy: Option<&str>) -> Result<ProxySettings, String> {
        ProxySettings::new(proxy, noproxy, |name| std::env::var(name).ok())
    }

    /// Whether any URL could go through a proxy.
    pub fn any(&self) -> bool {
        self.http.is_some() || self.https.is_some()
    }

    /// The proxy for `http://` URLs, as given.
    pub fn http(&self) -> Option<&str> {
        self.http.as_deref()
    }

    /// The proxy for `https://` URLs, as given.
    pub fn https(&self) -> Option<&str> {
        self.https.as_deref()
    }

    /// The hosts that bypass the proxies, as given.
    pub fn no_proxy(&self) -> &str {
        &self.no
    }

    /// The matcher that routes each URL.
    pub(crate) fn matcher(&self) -> Matcher {
        let mut builder = Matcher::builder().no(self.no.clone());
        if let Some(url) = &self.http {
            builder = builder.http(url.clone());
        }
        if let Some(url) = &self.https {
            builder = builder.https(url.clone());
        }
        builder.build()
    }

    /// A one-line description for the start of a run, passwords redacted.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        match (&self.http, &self.https) {
            (Some(a), Some(b)) if a == b => parts.push(format!("proxy {}", shown(a))),
            (a, b) => {
                if let Some(a) = a {
                    parts.push(format!("http via {}", shown(a)));
                }
                if let Some(b) = b {
                    parts.push(format!("https via {}", shown(b)));
                }
            }
        }
        if parts.is_empty() {
            return None;
        }
        if !self.no.trim().is_empty() {
            parts.push(format!("not for {}", self.no.trim()));
        }
        Some(parts.join(", "))
    }
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("http", &self.http.as_deref().map(shown))
            .field("https", &self.https.as_deref().map(shown))
            .field("no", &self.no)
            .finish()
    }
}

/// Checks a proxy URL as the matcher will read it.
fn check(url: &str) -> Result<(), String> {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, rest)) => (s, rest),
        None => ("http", url),
    };
    if ProxyKind::of(scheme).is_none() {
        return Err(format!(
            "unsupported proxy scheme {scheme:?} (use http, https, socks5 or socks5h)"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err("no proxy host".into());
    }
    let Ok(authority) = host.parse::<http::uri::Authority>() else {
        return Err(format!("invalid proxy host {host:?}"));
    };
    let port = authority.as_str().rsplit_once(':').map(|(_, p)| p);
    if port.is_some_and(|p| !p.ends_with(']') && p.parse::<u16>().is_err()) {
        return Err(format!("invalid proxy host {host:?}: bad port"));
    }
    Ok(())
}

/// A proxy URL as it may be shown: any password replaced.
pub fn shown(url: &str) -> String {
    let url = url.trim();
    let (prefix, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{prefix}{user}:<redacted>@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// The proxy hop of a URL, if it takes one.
pub(crate) fn route(matcher: &Matcher, uri: &http::Uri) -> Option<(ProxyKind, Intercept)> {
    let intercept = matcher.intercept(uri)?;
    let kind = ProxyKind::of_uri(intercept.uri())?;
    Some((kind, intercept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn via(settings: &ProxySettings, url: &str) -> Option<String> {
        route(&settings.matcher(), &url.parse().unwrap()).map(|(_, i)| i.uri().to_string())
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_no_proxy_applies_to_both() {
        let vars = env(&[
            ("HTTP_PROXY", "http://env:1"),
            ("NO_PROXY", "internal.test, 10.0.0.0/8"),
        ]);
        let s = ProxySettings::new(Some("http://flag:2"), None, &vars).unwrap();
        assert_eq!(via(&s, "http://a.test/").as_deref(), Some("http://flag:2/"));
        assert_eq!(
            via(&s, "https://a.test/").as_deref(),
            Some("http://flag:2/")
        );
        assert_eq!(via(&s, "http://api.internal.test/"), None, "subdomain");
        assert_eq!(via(&s, "http://10.1.2.3/"), None, "CIDR");
        let s = ProxySettings::new(None, None, &vars).unwrap();
        assert_eq!(via(&s, "http://a.test/").as_deref(), Some("http://env:1/"));
        assert_eq!(
            via(&s, "https://a.test/"),
            None,
            "HTTP_PROXY is for http only"
        );
        let s = ProxySettings::new(None, Some("*"), &vars).unwrap();
        assert_eq!(via(&s, "http://a.test/"), None, "--noproxy '*'");
        let s = ProxySettings::new(Some(""), None, &vars).unwrap();
        assert!(!s.any(), "-x \"\" turns proxies off");
    }

    #[test]
    fn all_proxy_fills_in_and_lower_case_names_count() {
        let s = ProxySettings::new(
            None,
            None,
            env(&[("all_proxy", "socks5h://s:3"), ("https_proxy", "h:4")]),
        )
        .unwrap();
        assert_eq!(via(&s, "http://a/").as_deref(), Some("socks5h://s:3/"));
        assert_eq!(via(&s, "https://a/").as_deref(), Some("http://h:4/"));
    }

    #[test]
    fn bad_proxies_are_refused_without_their_password() {
        for (url, says) in [
            ("ftp://p:1", "unsupported proxy scheme \"ftp\""),
            ("socks4://p:1", "unsupported proxy scheme"),
            ("http://", "no proxy host"),
            ("http://user:hunter2@", "no proxy host"),
            ("http://p:99999", "invalid proxy host"),
        ] {
            let e = ProxySettings::new(Some(url), None, env(&[])).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = ProxySettings::new(None, None, env(&[("HTTPS_PROXY", "gopher://x")])).unwrap_err();
        assert!(e.starts_with("HTTPS_PROXY gopher://x:"), "{e}");
    }

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(shown("http://u:pw@p:8/"), "http://u:<redacted>@p:8/");
        assert_eq!(shown("u:p@w@p:8"), "u:<redacted>@p:8");
        assert_eq!(shown("socks5://p:1"), "socks5://p:1");
        let s = ProxySettings::new(Some("http://u:secret@p:8"), Some("x"), env(&[])).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
        let d = s.describe().unwrap();
        assert_eq!(d, "proxy http://u:<redacted>@p:8, not for x");
        assert!(ProxySettings::default().describe().is_none());
    }
}
