//! `--shard K/N` and `--shard-from-env`: which job shard this process runs.

use crate::engine::job_shard::JobShard;
use crate::engine::seqset::SeqSet;

/// The variable a Kubernetes Indexed Job sets in each pod: K.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// The variable holding N (Kubernetes gives a pod only its index, so the
/// manifest sets this to the Job's `completions`).
pub const COUNT_VAR: &str = "FETCHTOP_SHARDS";

/// The job shard the flags ask for: `--shard K/N`, or with
/// `--shard-from-env` K from [`INDEX_VAR`] and N from [`COUNT_VAR`] (read
/// through `var`, so tests need not touch the process's environment); the
/// whole job without either. Errors are one line, for exit status 2.
pub fn resolve(
    shard: Option<JobShard>,
    from_env: bool,
    var: impl Fn(&str) -> Option<String>,
) -> Result<JobShard, String> {
    if !from_env {
        return Ok(shard.unwrap_or(JobShard::WHOLE));
    }
    let read = |name: &str| -> Result<u64, String> {
        let value = var(name).ok_or_else(|| {
            format!(
                "--shard-from-env: {name} is not set (K comes from {INDEX_VAR}, N from {COUNT_VAR})"
            )
        })?;
        value
            .trim()
            .parse()
            .map_err(|_| format!("--shard-from-env: {name}={value:?} is not a whole number"))
    };
    let index = read(INDEX_VAR)?;
    let count = read(COUNT_VAR)?;
    JobShard::new(index, count).map_err(|e| format!("--shard-from-env: {e}"))
}

/// `--resume` with `--shard`: the -o file must hold this shard's records
/// only, or it is another shard's file (or the whole job's) and appending
/// to it would mix two parts of the job.
pub fn check_resume(part: JobShard, recorded: Option<&SeqSet>) -> Result<(), String> {
    let Some(seqs) = recorded.filter(|_| !part.is_whole()) else {
        return Ok(());
    };
    match seqs.iter().find(|&seq| !part.holds(seq)) {
        Some(seq) => Err(format!(
            "cannot resume shard {part}: the -o file holds seq {seq}, which belongs to another shard; give each shard its own -o file"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_shard_refuses_another_shards_file() {
        let part = JobShard::new(1, 3).unwrap();
        let mut own = SeqSet::new();
        own.insert(2);
        own.insert(5);
        assert!(check_resume(part, Some(&own)).is_ok());
        own.insert(3);
        let e = check_resume(part, Some(&own)).unwrap_err();
        assert!(e.contains("seq 3"), "{e}");
        assert!(check_resume(JobShard::WHOLE, Some(&own)).is_ok());
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn the_environment_gives_k_and_n() {
        let vars = [(INDEX_VAR, "2"), (COUNT_VAR, "3")];
        assert_eq!(resolve(None, true, env(&vars)), JobShard::new(2, 3));
        assert_eq!(resolve(None, false, env(&vars)), Ok(JobShard::WHOLE));
        let given = JobShard::new(1, 4).ok();
        assert_eq!(resolve(given, false, env(&[])), JobShard::new(1, 4));
    }

    #[test]
    fn a_missing_or_bad_variable_is_a_one_line_error() {
        let e = resolve(None, true, env(&[(INDEX_VAR, "0")])).unwrap_err();
        assert!(e.contains("FETCHTOP_SHARDS is not set"), "{e}");
        let e = resolve(None, true, env(&[(INDEX_VAR, "x"), (COUNT_VAR, "3")])).unwrap_err();
        assert!(e.contains("not a whole number"), "{e}");
        let e = resolve(None, true, env(&[(INDEX_VAR, "3"), (COUNT_VAR, "3")])).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }
}
