//! What a newcomer expects of a command-line tool: shell completions that
//! load in the real shell, a man page that `man` renders, and an error that
//! names a stray word.

use std::process::{Command, Output};

fn fetchtop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(args)
        .output()
        .expect("fetchtop runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether `tool` runs here; prints why a test skips when it does not.
fn have(tool: &str, why: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: {tool} is not installed ({why}; .ci/run installs it)");
    }
    found
}

#[test]
fn every_shell_gets_a_completion_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = fetchtop(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let script = text(&o.stdout);
        assert!(script.contains("concurrency"), "{shell}: {script}");
    }
    let o = fetchtop(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Loads the bash script in a real bash, as a user's shell would, and asks
/// it to complete `fetchtop --conc`, the way readline calls the function.
#[test]
fn the_bash_script_loads_and_completes_a_flag() {
    if !have("bash", "needed to load the completion script") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fetchtop.bash");
    let o = fetchtop(&["completions", "bash"]);
    assert!(o.status.success());
    std::fs::write(&script, &o.stdout).unwrap();
    let drive = format!(
        r#"set -e
source '{}'
spec=$(complete -p fetchtop)
func=$(sed -E 's/.*-F ([^ ]+).*/\1/' <<<"$spec")
complete_for() {{
  COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
  COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=()
  "$func" fetchtop "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
  printf '%s\n' "${{COMPREPLY[@]}}"
}}
echo "== flag"; complete_for fetchtop --conc
echo "== sub"; complete_for fetchtop dem
echo "== demo flag"; complete_for fetchtop demo --scen
"#,
        script.display()
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &drive])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    let section = |name: &str| -> Vec<String> {
        out.split("== ")
            .find(|s| s.starts_with(name))
            .map(|s| s.lines().skip(1).map(str::to_string).collect())
            .unwrap_or_default()
    };
    assert_eq!(section("flag\n"), vec!["--concurrency"], "{out}");
    assert_eq!(section("sub\n"), vec!["demo"], "{out}");
    assert_eq!(section("demo flag\n"), vec!["--scenario"], "{out}");
}

/// Renders the page with the real `man`, as `fetchtop man | man -l -` would.
#[test]
fn the_man_page_renders_with_man() {
    if !have("man", "man-db renders the page") || !have("groff", "man-db needs it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("fetchtop.1");
    let o = fetchtop(&["man"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::write(&page, &o.stdout).unwrap();
    let o = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .output()
        .unwrap();
    let shown = text(&o.stdout);
    assert!(o.status.success(), "{shown}{}", text(&o.stderr));
    // col -b style: drop overstrikes so the words can be matched.
    let plain: String = shown
        .split('\u{8}')
        .enumerate()
        .map(|(i, s)| if i == 0 { s } else { s.get(1..).unwrap_or("") })
        .collect();
    for want in [
        "NAME",
        "fetchtop",
        "SYNOPSIS",
        "--concurrency",
        "SUBCOMMANDS",
        "completions",
    ] {
        assert!(plain.contains(want), "{want} missing in:\n{plain}");
    }
}

#[test]
fn a_word_after_the_url_is_named_as_unexpected() {
    for (extra, word) in [("bash", "bash"), ("demo", "demo")] {
        let o = fetchtop(&["http://127.0.0.1:9/", extra]);
        assert_eq!(o.status.code(), Some(2));
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("unexpected argument '{word}'")),
            "{err}"
        );
        assert!(!err.contains("cannot be used with"), "{err}");
        // Every subcommand is named, from the parser itself.
        for sub in [
            "serve",
            "demo",
            "sweep",
            "completions",
            "man",
            "merge",
            "attach",
        ] {
            assert!(err.contains(sub), "{sub} missing: {err}");
        }
    }
}

/// Each subcommand's help speaks of what it has: `serve` has no scenarios,
/// and `demo` has no plain URL to repeat.
#[test]
fn serve_and_demo_help_describe_their_own_flags() {
    let serve = text(&fetchtop(&["serve", "--help"]).stdout);
    assert!(!serve.contains("scenario"), "{serve}");
    assert!(serve.contains("[default: 5ms..150ms]"), "{serve}");
    assert!(serve.contains("[default: 0.01]"), "{serve}");
    let demo = text(&fetchtop(&["demo", "--help"]).stdout);
    assert!(!demo.contains("plain URL"), "{demo}");
    assert!(demo.contains("Stop after N of the demo's items"), "{demo}");
    assert!(demo.contains("slow-tail: 10ms..5s"), "{demo}");
    // The top level keeps its own words.
    let top = text(&fetchtop(&["--help"]).stdout);
    assert!(top.contains("for a plain URL"), "{top}");
}

/// A reader that leaves early (`| head -c 1`) is no error; stdout on a
/// full disk is a one-line error (exit 1), never a panic.
#[test]
fn printing_to_a_closed_pipe_or_a_full_disk_is_no_panic() {
    let bin = env!("CARGO_BIN_EXE_fetchtop");
    for sub in ["completions bash", "man"] {
        let o = Command::new("bash")
            .args([
                "-c",
                &format!("'{bin}' {sub} | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\""),
            ])
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert!(!err.contains("panicked"), "{sub}: {err}");
        assert_eq!(text(&o.stdout).trim(), "0", "{sub}: {err}");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = Command::new(bin)
            .args(sub.split(' '))
            .env_remove("RUST_BACKTRACE")
            .stdout(full)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{sub}: {err}");
        assert!(!err.contains("panicked"), "{sub}: {err}");
        assert_eq!(err.lines().count(), 1, "{sub}: {err}");
        assert!(err.contains("No space left on device"), "{sub}: {err}");
    }
}
