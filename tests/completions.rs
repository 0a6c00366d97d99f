//! Shell completions: every binary prints a script for `--completions SHELL`
//! generated from its clap definition, and bash accepts it.

use std::process::Command;

use crate::man::binaries;
use crate::util::*;

#[test]
fn bash_script_registers_a_completion() {
    for b in binaries() {
        let r = run(&b, &["--completions", "bash"], b"");
        assert_eq!(r.code, 0, "{b}: {}", r.stderr);
        assert!(r.stderr.is_empty(), "{b}: {}", r.stderr);
        // Sourcing the script must define `complete -F ... BINARY`.
        let mut bash = Command::new("bash");
        bash.args(["-c", &format!("source /dev/stdin; complete -p {b}")]);
        let sourced = run_cmd(bash, &r.stdout);
        assert_eq!(sourced.code, 0, "{b}: {}", sourced.stderr);
        assert!(
            sourced.stdout_str().contains(&b),
            "{b}: {}",
            sourced.stdout_str()
        );
    }
}

#[test]
fn zsh_and_fish_scripts_name_the_binary() {
    for b in binaries() {
        for shell in ["zsh", "fish", "elvish", "powershell"] {
            let r = run(&b, &["--completions", shell], b"");
            assert_eq!(r.code, 0, "{b} {shell}: {}", r.stderr);
            assert!(!r.stdout.is_empty(), "{b} {shell}: empty");
            assert!(r.stdout_str().contains(&b), "{b} {shell}: no name");
        }
    }
}

#[test]
fn completion_script_lists_long_options() {
    // The script comes from the parser's own definition: --help's options
    // appear in it (one sample per binary: --version, always present).
    for b in binaries() {
        let r = run(&b, &["--completions", "bash"], b"");
        assert!(r.stdout_str().contains("--version"), "{b}");
        assert!(r.stdout_str().contains("--completions"), "{b}");
    }
}

#[test]
fn bad_shell_or_extra_arguments_are_usage_errors() {
    for b in binaries() {
        let r = run(&b, &["--completions", "tcsh"], b"");
        assert_eq!(r.code, 64, "{b}: {}", r.stderr);
        let r = run(&b, &["--completions"], b"");
        assert_eq!(r.code, 64, "{b}: {}", r.stderr);
        // Exclusive: never half-run the tool along with printing a script.
        let r = run(&b, &["--completions", "bash", "x"], b"");
        assert_eq!(r.code, 64, "{b}: {}", r.stderr);
    }
}
