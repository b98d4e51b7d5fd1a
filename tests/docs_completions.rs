//! The shell completions in `docs/completions/` (issue #11): a bash, zsh
//! and fish file for every program, each offering every option the built
//! program accepts (found by probing it, as for the man pages), sv's and
//! boot's commands, valid syntax for each shell, and bash completions that
//! complete what they should.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "docs_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::*;

const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// The completion file of `program` for `shell`.
fn file(shell: &str, program: &str) -> PathBuf {
    let name = match shell {
        "bash" => program.to_string(),
        "zsh" => format!("_{program}"),
        _ => format!("{program}.fish"),
    };
    top().join("docs/completions").join(shell).join(name)
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|_| panic!("{} is missing", path.display()))
}

/// True when `shell`'s completion `text` offers `option`.
fn offers(shell: &str, text: &str, option: &str) -> bool {
    if shell != "fish" {
        return mentions(text, option);
    }
    // fish: `-s c` for -c, `-l word` for --word.
    let spec = match option.strip_prefix("--") {
        Some(long) => format!("-l {long}"),
        None => format!("-s {}", &option[1..]),
    };
    text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w.join(" ") == spec))
}

fn check_options(name: &str) {
    let s = subject(name);
    let opts = accepted(&s);
    for shell in SHELLS {
        let path = file(shell, s.page);
        let t = text(&path);
        let missing: Vec<&String> = opts.iter().filter(|o| !offers(shell, &t, o)).collect();
        assert!(
            missing.is_empty(),
            "{} does not offer {missing:?} of {name} (accepts {opts:?})",
            path.display()
        );
    }
}

/// The options a fish file offers: `-s c` and `-l word` of its `complete`
/// lines.
fn fish_offered(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with("complete ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            match w[0] {
                "-s" => out.insert(format!("-{}", w[1])),
                "-l" => out.insert(format!("--{}", w[1])),
                _ => false,
            };
        }
    }
    out
}

/// The options a bash file offers: the words of its single-quoted strings
/// that consist of options only (`'-v -w -V -j'`).
fn bash_offered(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (k, part) in text.split('\'').enumerate() {
        let words: Vec<&str> = part.split_whitespace().collect();
        if k % 2 == 1 && !words.is_empty() && words.iter().all(|w| w.starts_with('-') && w.len() > 1) {
            out.extend(words.iter().map(|w| w.to_string()));
        }
    }
    out
}

/// True when `opt` is accepted, or is a bundle of accepted letters (`-tt`).
fn covered(opt: &str, accepted: &BTreeSet<String>) -> bool {
    accepted.contains(opt)
        || (!opt.starts_with("--") && opt.chars().skip(1).all(|c| accepted.contains(&format!("-{c}"))))
}

#[test]
fn completions_offer_nothing_the_programs_reject() {
    let mut programs: Vec<&str> = SUBJECTS.iter().map(|s| s.page).collect();
    programs.dedup();
    for p in programs {
        // chpst's files serve its names too: what any of them accepts.
        let mut accepted_all = BTreeSet::new();
        for s in SUBJECTS.iter().filter(|s| s.page == p) {
            accepted_all.extend(accepted(s));
        }
        for (shell, offered) in
            [("fish", fish_offered(&text(&file("fish", p)))), ("bash", bash_offered(&text(&file("bash", p))))]
        {
            let stale: Vec<&String> = offered.iter().filter(|o| !covered(o, &accepted_all)).collect();
            assert!(
                stale.is_empty(),
                "{} offers {stale:?}, which {p} does not accept",
                file(shell, p).display()
            );
        }
    }
}

#[test]
fn the_offered_option_parsers_work() {
    let fish = "complete -c x -s v -d 'v'\nset -l dir x\ncomplete -c x -l root -x\n";
    assert_eq!(fish_offered(fish), BTreeSet::from(["-v".to_string(), "--root".to_string()]));
    let bash = "COMPREPLY=($(compgen -W '-v -w' -- \"$cur\"))\ncase $x in 'a b') ;; esac\n";
    assert_eq!(bash_offered(bash), BTreeSet::from(["-v".to_string(), "-w".to_string()]));
    let acc = BTreeSet::from(["-t".to_string()]);
    assert!(covered("-ttt", &acc) && !covered("-T", &acc));
}

#[test]
fn every_program_has_a_file_for_every_shell() {
    let mut programs: Vec<&str> = SUBJECTS.iter().map(|s| s.page).collect();
    programs.dedup();
    for p in programs {
        for shell in SHELLS {
            let t = text(&file(shell, p));
            assert!(t.contains(p), "{}: does not name {p}", file(shell, p).display());
        }
    }
    // chpst's names are completed by chpst's files.
    let zsh = text(&file("zsh", "chpst"));
    let bash = text(&file("bash", "chpst"));
    let fish = text(&file("fish", "chpst"));
    for name in ["envdir", "envuidgid", "pgrphack", "setlock", "setuidgid", "softlimit"] {
        let compdef = zsh.lines().next().unwrap();
        assert!(mentions(compdef, name), "_chpst's {compdef:?} lacks {name}");
        let complete = bash.lines().rfind(|l| l.starts_with("complete ")).unwrap();
        assert!(mentions(complete, name), "bash chpst: {complete:?} lacks {name}");
        assert!(mentions(&fish, name), "chpst.fish does not complete {name}");
    }
}

#[test]
fn completions_offer_every_option_of_runits_programs() {
    for name in ["runsv", "runsvdir", "runsvchdir", "sv", "svlogd", "runit", "runit-init"] {
        check_options(name);
    }
}

#[test]
fn completions_offer_every_option_of_chpst_and_its_names() {
    for name in ["chpst", "envdir", "envuidgid", "setuidgid", "pgrphack", "setlock", "softlimit"] {
        check_options(name);
    }
}

#[test]
fn completions_offer_every_option_of_boot() {
    check_options("boot");
}

#[test]
fn completions_offer_every_command_of_sv_and_boot() {
    for shell in SHELLS {
        let t = text(&file(shell, "sv"));
        for cmd in SV_COMMANDS {
            assert!(mentions(&t, cmd), "{} lacks the sv command {cmd}", file(shell, "sv").display());
        }
    }
    let bin = built("boot");
    for shell in SHELLS {
        let t = text(&file(shell, "boot"));
        for cmd in boot_commands(&bin) {
            assert!(mentions(&t, &cmd), "{} lacks the boot command {cmd}", file(shell, "boot").display());
        }
    }
}

/// Checks every file of `shell` with `shell -n` (a missing shell is a
/// failure: tests/run installs zsh and fish).
fn syntax(shell: &str) {
    let exe = harness::installed(&[&format!("/usr/bin/{shell}"), &format!("/bin/{shell}")], shell);
    let dir = top().join("docs/completions").join(shell);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let o = quick(Command::new(&exe).arg("-n").arg(&path), Duration::from_secs(10));
        assert_eq!(o.code, Some(0), "{shell} -n {}: {}", path.display(), o.stderr);
        n += 1;
    }
    assert!(n >= 9, "{}: {n} files", dir.display());
}

#[test]
fn bash_files_parse() {
    syntax("bash");
}

#[test]
fn zsh_files_parse() {
    syntax("zsh");
}

#[test]
fn fish_files_parse() {
    syntax("fish");
}

/// What the bash completion of `program` offers for `words` (the cursor on
/// the last word), without bash-completion loaded.
fn complete_bash(program: &str, words: &[&str], env: &[(&str, &Path)]) -> Vec<String> {
    let path = file("bash", program);
    let t = text(&path);
    let func = t
        .lines()
        .rfind(|l| l.starts_with("complete -F "))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("{}: no complete -F line", path.display()))
        .to_string();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; {func}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", &script]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = quick(&mut cmd, Duration::from_secs(10));
    assert_eq!(o.code, Some(0), "{program} {words:?}: {}", o.stderr);
    let mut v: Vec<String> = o.stdout.lines().filter(|l| !l.is_empty()).map(String::from).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn bash_completes_sv_commands_and_services() {
    let s = harness::Scratch::new("complete-sv");
    for svc in ["web", "worker", "db"] {
        std::fs::create_dir_all(s.join("service").join(svc)).unwrap();
    }
    harness::write(s.join("service/not-a-dir"), "");
    let env = [("SVDIR", s.join("service"))];
    let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
    assert_eq!(complete_bash("sv", &["sv", "st"], &env), ["start", "status", "stop"]);
    assert_eq!(complete_bash("sv", &["sv", "force-s"], &env), ["force-shutdown", "force-stop"]);
    assert_eq!(complete_bash("sv", &["sv", "-"], &env), ["-H", "-V", "-j", "-v", "-w"]);
    assert_eq!(complete_bash("sv", &["sv", "-w", "5", "up", "w"], &env), ["web", "worker"]);
    assert_eq!(complete_bash("sv", &["sv", "restart", "web", ""], &env), ["db", "web", "worker"]);
    assert!(complete_bash("sv", &["sv", "-w", ""], &env).is_empty());
}

#[test]
fn bash_completes_chpst_options_accounts_and_the_program() {
    assert!(complete_bash("chpst", &["chpst", "-u", "ro"], &[]).contains(&"root".to_string()));
    assert!(complete_bash("chpst", &["chpst", "-vu", "ro"], &[]).contains(&"root".to_string()));
    let opts = complete_bash("chpst", &["chpst", "-"], &[]);
    for o in ["-u", "-e", "-E", "-/", "-0", "-H"] {
        assert!(opts.contains(&o.to_string()), "{opts:?} lacks {o}");
    }
    // After the options: the program, taken from PATH.
    let progs = complete_bash("chpst", &["chpst", "-u", "root", "-e", "/tmp", "sle"], &[]);
    assert!(progs.contains(&"sleep".to_string()), "{progs:?}");
    assert_eq!(complete_bash("chpst", &["setlock", "-"], &[]), ["-N", "-X", "-n", "-x"]);
    assert!(complete_bash("chpst", &["setuidgid", "ro"], &[]).contains(&"root".to_string()));
    let progs = complete_bash("chpst", &["setlock", "-n", "/tmp/lock", "sle"], &[]);
    assert!(progs.contains(&"sleep".to_string()), "{progs:?}");
    assert!(complete_bash("chpst", &["softlimit", "-o", ""], &[]).is_empty());
}

#[test]
fn bash_completes_boot_commands_options_and_sources() {
    assert_eq!(
        complete_bash("boot", &["boot", ""], &[]),
        ["down", "help", "plan", "render", "status", "tags", "up"]
    );
    assert_eq!(complete_bash("boot", &["boot", "help", "st"], &[]), ["status"]);
    assert_eq!(complete_bash("boot", &["boot", "status", "--p"], &[]), ["--prometheus"]);
    let down = complete_bash("boot", &["boot", "down", "--"], &[]);
    assert!(down.contains(&"--purge".to_string()) && !down.contains(&"--json".to_string()), "{down:?}");
    let up = complete_bash("boot", &["boot", "--root", "/tmp", "up", "--sp"], &[]);
    assert_eq!(up, ["--spawn-runsvdir"]);
    let src = complete_bash("boot", &["boot", "--source", "i"], &[]);
    assert_eq!(src, ["imds", "imds?"]);
}

#[test]
fn bash_completes_the_other_programs() {
    assert_eq!(complete_bash("runit-init", &["runit-init", ""], &[]), ["0", "6"]);
    assert_eq!(complete_bash("runsvdir", &["runsvdir", "-"], &[]), ["-P"]);
    assert!(complete_bash("runit", &["runit", ""], &[]).is_empty());
    let svlogd = complete_bash("svlogd", &["svlogd", "-t"], &[]);
    assert_eq!(svlogd, ["-t", "-tt", "-ttt"]);
    let s = harness::Scratch::new("complete-runsvchdir");
    for d in ["default", "single", "current", "previous"] {
        std::fs::create_dir_all(s.join(d)).unwrap();
    }
    let env = [("RUNSVDIR", s.path())];
    assert_eq!(complete_bash("runsvchdir", &["runsvchdir", ""], &env), ["default", "single"]);
}
