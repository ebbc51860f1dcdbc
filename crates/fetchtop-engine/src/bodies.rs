//! `--save-bodies DIR`: each response body in its own file, named from the
//! item's seq so nothing a server or a list says can choose the path.

use std::path::{Path, PathBuf};

use super::record::{ErrorKind, Failure};

/// The file that holds item `seq`'s body: `DIR/SEQ.body`.
pub fn path_for(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq}.body"))
}

/// Writes `body` as item `seq`'s file. It goes to a `.part` file first and
/// is renamed into place, so a killed run never leaves a short body under
/// the final name.
pub async fn save(dir: &Path, seq: u64, body: &[u8]) -> Result<(), Failure> {
    let path = path_for(dir, seq);
    let part = dir.join(format!("{seq}.body.part"));
    let fail = |e: std::io::Error| {
        Failure::new(
            ErrorKind::Body,
            format!("cannot save the body to {}: {e}", path.display()),
        )
    };
    tokio::fs::write(&part, body).await.map_err(fail)?;
    tokio::fs::rename(&part, &path).await.map_err(fail)
}

/// Checks and creates `dir` before a run: a path that exists and is not a
/// directory is refused. Errors are one line, for a start-up failure.
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "--save-bodies {}: exists and is not a directory",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create --save-bodies directory {}: {e}",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_seq_only() {
        let dir = Path::new("/tmp/bodies");
        assert_eq!(path_for(dir, 42), Path::new("/tmp/bodies/42.body"));
    }

    #[tokio::test]
    async fn saves_and_refuses_a_file_as_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        prepare_dir(&dir).unwrap();
        save(&dir, 7, b"hello").await.unwrap();
        assert_eq!(std::fs::read(dir.join("7.body")).unwrap(), b"hello");
        assert!(!dir.join("7.body.part").exists());
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = prepare_dir(&file).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
    }
}
