//! `fetchtop completions SHELL` and `fetchtop man`: generated from the
//! same clap definition as the parser, so they cannot drift from the flags.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    // clap_complete panics on a failed write (a closed pipe): it writes
    // into memory here, and the copy out reports errors instead.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "fetchtop", &mut script);
    out.write_all(&script)
}

/// Writes the manual page, in roff, to `out`.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_that_names_the_flags() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::Elvish,
            clap_complete::Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("concurrency"), "{shell:?}: {text}");
        }
    }

    #[test]
    fn the_man_page_lists_the_subcommands_and_flags() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH fetchtop"),
            "{text}"
        );
        for word in ["concurrency", "resume", "demo", "serve", "completions"] {
            assert!(text.contains(word), "{word}");
        }
    }
}
