//! What identifies a job, written as the first line of its `-o` file (kind
//! `"job"`), so `--resume` can refuse a file that another job wrote: seqs
//! are positions in the source, and mixing two sources would silently skip
//! items of the new one.
//!
//! The identity is a plain struct compared field by field; a new part of it
//! (a shard of a split job, say) is one more field, given
//! `#[serde(default, skip_serializing_if = ...)]` so files without it read
//! as before.

use std::fs::File;
use std::hash::Hasher;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::SourceSpec;

/// Bytes read from each end of a list file for its fingerprint.
const LIST_ENDS: u64 = 64 * 1024;

/// Where a job's items come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobSource {
    /// One URL, fetched again and again.
    Url {
        /// The URL as given.
        url: String,
    },
    /// A URL with a `{a..b}` range.
    Template {
        /// The template as given.
        template: String,
    },
    /// A list file: its path, size and a hash of its first and last 64 KiB.
    List {
        /// The absolute path, when it could be worked out; else as given.
        path: String,
        /// Size in bytes.
        size: u64,
        /// FNV-1a (64-bit, hex) of the first and last 64 KiB.
        ends_fnv: String,
    },
    /// Standard input: nothing to check it by.
    Stdin,
    /// `fetchtop demo`: its port changes from run to run, so the scenario
    /// and the item count identify it.
    Demo {
        /// The scenario's name.
        scenario: String,
        /// `/items/1` to `/items/N`.
        items: u64,
    },
}

/// A request body, by length and hash (never the body itself: it may hold secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyPrint {
    /// Length in bytes.
    pub len: u64,
    /// FNV-1a (64-bit, hex) of the whole body.
    pub fnv: String,
}

/// What makes two runs the same job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIdentity {
    /// Where the items come from.
    pub source: JobSource,
    /// The HTTP method.
    pub method: String,
    /// The request body, if any.
    pub body: Option<BodyPrint>,
    /// The part of a job over many processes (`--shard K/N`); none for a
    /// whole job (and in files written before shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::engine::job_shard::JobShard>,
}

/// The first line of an `-o` file.
#[derive(Debug, Serialize, Deserialize)]
struct JobLine {
    kind: String,
    /// The fetchtop that wrote it.
    fetchtop: String,
    #[serde(flatten)]
    job: JobIdentity,
}

impl JobIdentity {
    /// This identity, for job shard `part` of the job.
    pub fn with_job_shard(mut self, part: crate::engine::job_shard::JobShard) -> JobIdentity {
        self.shard = (!part.is_whole()).then_some(part);
        self
    }

    /// The identity of a run of `spec` (or of a demo, when `demo` says
    /// which) with this method and body. Reads a list file's ends.
    pub fn new(
        spec: &SourceSpec,
        demo: Option<JobSource>,
        method: &str,
        body: Option<&[u8]>,
    ) -> Result<JobIdentity, String> {
        let source = match (demo, spec) {
            (Some(d), _) => d,
            (None, SourceSpec::Repeat(url)) => JobSource::Url { url: url.clone() },
            (None, SourceSpec::Template(t)) => JobSource::Template {
                template: t.to_string(),
            },
            (None, SourceSpec::ListFile(path)) => list_source(path)?,
            (None, SourceSpec::Stdin) => JobSource::Stdin,
        };
        Ok(JobIdentity {
            source,
            method: method.to_string(),
            body: body.map(|b| BodyPrint {
                len: b.len() as u64,
                fnv: fnv_hex(&[b]),
            }),
            shard: None,
        })
    }

    /// The `"job"` line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let line = JobLine {
            kind: "job".into(),
            fetchtop: env!("CARGO_PKG_VERSION").into(),
            job: self.clone(),
        };
        // Strings and numbers only: serializing cannot fail.
        let mut out = serde_json::to_vec(&line).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads a `"job"` line back.
    pub fn from_line(line: &[u8]) -> Result<JobIdentity, String> {
        serde_json::from_slice::<JobLine>(line)
            .map(|l| l.job)
            .map_err(|e| format!("its job line cannot be read ({e})"))
    }

    /// Why `self` (this run) is not the job `earlier` recorded, in a few
    /// words; `None` when they are the same job.
    pub fn mismatch(&self, earlier: &JobIdentity) -> Option<String> {
        if self.source != earlier.source {
            return Some(format!(
                "the source differs: {} there, {} here",
                earlier.source.describe(),
                self.source.describe()
            ));
        }
        if self.method != earlier.method {
            return Some(format!(
                "the method differs: {} there, {} here",
                earlier.method, self.method
            ));
        }
        if self.shard != earlier.shard {
            let show = |s: &Option<crate::engine::job_shard::JobShard>| match s {
                Some(s) => format!("shard {s}"),
                None => "the whole job".to_string(),
            };
            return Some(format!(
                "the job shard differs: {} there, {} here",
                show(&earlier.shard),
                show(&self.shard)
            ));
        }
        if self.body != earlier.body {
            let show = |b: &Option<BodyPrint>| match b {
                Some(b) => format!("a {}-byte body", b.len),
                None => "no body".to_string(),
            };
            let (there, here) = (show(&earlier.body), show(&self.body));
            return Some(if there == here {
                format!("the body differs ({here} both times, other bytes)")
            } else {
                format!("the body differs: {there} there, {here} here")
            });
        }
        None
    }
}

impl JobSource {
    /// A few words for an error message.
    fn describe(&self) -> String {
        match self {
            JobSource::Url { url } => format!("URL {url}"),
            JobSource::Template { template } => format!("template {template}"),
            JobSource::List { path, size, .. } => format!("list {path} ({size} bytes)"),
            JobSource::Stdin => "stdin".to_string(),
            JobSource::Demo { scenario, items } => {
                format!("demo --scenario {scenario} --items {items}")
            }
        }
    }
}

fn list_source(path: &Path) -> Result<JobSource, String> {
    let shown = path.display();
    let read = || -> std::io::Result<(u64, String)> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            // A pipe (`-i <(cmd)`): reading its start would take the items.
            return Ok((0, String::new()));
        }
        let size = meta.len();
        let mut head = Vec::new();
        (&mut file).take(LIST_ENDS).read_to_end(&mut head)?;
        let mut tail = Vec::new();
        if size > LIST_ENDS {
            file.seek(SeekFrom::Start(
                size.saturating_sub(LIST_ENDS).max(LIST_ENDS),
            ))?;
            file.take(LIST_ENDS).read_to_end(&mut tail)?;
        }
        Ok((size, fnv_hex(&[&head, &tail])))
    };
    let (size, ends_fnv) = read().map_err(|e| format!("cannot read the list {shown}: {e}"))?;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(JobSource::List {
        path: path.display().to_string(),
        size,
        ends_fnv,
    })
}

/// FNV-1a, a fixed published hash: the same on every machine and version
/// (std's hasher promises neither).
fn fnv_hex(parts: &[&[u8]]) -> String {
    let mut h = fnv::FnvHasher::default();
    for p in parts {
        h.write(p);
    }
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::source::Template;

    fn template(url: &str) -> SourceSpec {
        SourceSpec::Template(Template::parse(url).unwrap().unwrap())
    }

    #[test]
    fn a_job_line_reads_back_as_the_same_job() {
        let job =
            JobIdentity::new(&template("http://x/{1..100}"), None, "POST", Some(b"{}")).unwrap();
        let line = job.to_line();
        assert!(line.ends_with(b"\n"));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["kind"], "job");
        assert_eq!(v["source"]["type"], "template");
        assert_eq!(v["source"]["template"], "http://x/{1..100}");
        assert_eq!(v["body"]["len"], 2);
        let back = JobIdentity::from_line(&line).unwrap();
        assert_eq!(back, job);
        assert_eq!(job.mismatch(&back), None);
    }

    #[test]
    fn each_part_of_the_identity_counts() {
        let base = JobIdentity::new(&template("http://x/{1..100}"), None, "GET", None).unwrap();
        let other = JobIdentity::new(&template("http://x/{501..700}"), None, "GET", None).unwrap();
        let why = other.mismatch(&base).unwrap();
        assert!(
            why.contains("{1..100} there") && why.contains("{501..700} here"),
            "{why}"
        );
        let post = JobIdentity::new(&template("http://x/{1..100}"), None, "POST", None).unwrap();
        assert!(post.mismatch(&base).unwrap().contains("method"));
        let a = JobIdentity::new(&template("http://x/{1..100}"), None, "GET", Some(b"a")).unwrap();
        let b = JobIdentity::new(&template("http://x/{1..100}"), None, "GET", Some(b"b")).unwrap();
        assert!(a.mismatch(&b).unwrap().contains("other bytes"));
        assert!(a.mismatch(&base).unwrap().contains("no body there"));
    }

    #[test]
    fn a_list_is_known_by_its_size_and_its_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("urls.txt");
        let big: String = (0..20_000).map(|i| format!("http://x/{i}\n")).collect();
        std::fs::write(&path, &big).unwrap();
        let spec = SourceSpec::ListFile(path.clone());
        let first = JobIdentity::new(&spec, None, "GET", None).unwrap();
        assert_eq!(JobIdentity::new(&spec, None, "GET", None).unwrap(), first);
        // Same size, one byte changed near the end.
        let mut changed = big.clone().into_bytes();
        let at = changed.len() - 3;
        changed[at] = b'Z';
        std::fs::write(&path, &changed).unwrap();
        let second = JobIdentity::new(&spec, None, "GET", None).unwrap();
        assert!(second.mismatch(&first).is_some());
        let e = JobIdentity::new(
            &SourceSpec::ListFile(dir.path().join("none")),
            None,
            "GET",
            None,
        )
        .unwrap_err();
        assert!(e.contains("cannot read the list"), "{e}");
    }
}
