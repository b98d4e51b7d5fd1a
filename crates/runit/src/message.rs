//! Every line `runit` prints, rendered in one place.
//!
//! runit writes to the console with the prefixes `- runit: `,
//! `- runit: warning: ` and `- runit: fatal: ` (runit-init.md §2.1); the
//! texts below are runit 2.3.0's, with the stage paths as actually used (so
//! a relocated root shows its own paths). The lines marked as extensions
//! exist only in container mode or with a shutdown budget.

use crate::config::Paths;
use crate::machine::{Job, Stage};
use runit_core::errtext;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What kind of line: decides the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Info,
    Warning,
    Fatal,
}

/// A line on runit's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `$Id: ... $: booting.`
    Booting,
    /// `enter stage: <script>` (printed by the child just before exec).
    EnterStage(Job),
    /// `leave stage: <script>`
    LeaveStage(Job),
    /// Warning `child crashed: <script>` (death by a signal; 2.3.0).
    ChildCrashed(Stage),
    /// Warning `child failed: <script>` (non-zero exit; 2.3.0).
    ChildFailed(Stage),
    /// `skipping stage 2...`
    SkippingStage2,
    /// `killing all processes in stage 2...`
    KillingStage2,
    /// `restarting.`
    Restarting,
    /// Warning `signals only work in stage 2.`
    SignalsOnlyStage2,
    /// `ctrl-alt-del request...`
    CtrlAltDelRequest,
    /// `stage <n> not terminated, sending sigkill...` (runit says it for
    /// stage 2; stages 1 and 3 only get it in container mode).
    NotTerminated(Stage),
    /// `sending KILL signal to all processes...`
    SendingKill,
    /// `system reboot.`
    SystemReboot,
    /// `power off...`
    PowerOff,
    /// `system halt.`
    SystemHalt,
    /// Extension: `shutdown request (sigterm)...` in container mode.
    ShutdownRequest,
    /// Extension: `exit <code>: container halt.` (or `container halt,
    /// stage 1 failed.`, `container reboot request.`)
    ContainerExit {
        /// The exit status of process 1.
        code: i32,
        /// Whether a reboot was asked for.
        reboot: bool,
    },
    /// Fatal `unable to fork for "<script>" pausing: <err>`
    UnableToFork(Job, i32),
    /// Fatal `unable to start child: <script>: ` (the child appends the
    /// error text).
    UnableToStart(Job),
    /// Warning `unable to open <console>: ` (the child appends the error).
    UnableToOpenConsole(PathBuf),
    /// Fatal `unable to create selfpipe, pausing: <err>`
    SelfPipe(i32),
    /// Fatal `must be run as process no 1.`
    NotPid1,
    /// Extension: warning about an ignored setting.
    BadSetting(String),
}

impl Message {
    /// The whole line, newline included. Lines that a child completes
    /// with an error text ([`Message::UnableToStart`],
    /// [`Message::UnableToOpenConsole`]) end in `": "` instead.
    pub fn line(&self, paths: &Paths) -> Vec<u8> {
        let (kind, mut text, complete) = self.parts(paths);
        let mut out = match kind {
            Kind::Info => b"- runit: ".to_vec(),
            Kind::Warning => b"- runit: warning: ".to_vec(),
            Kind::Fatal => b"- runit: fatal: ".to_vec(),
        };
        out.append(&mut text);
        if complete {
            out.push(b'\n');
        }
        out
    }

    fn parts(&self, paths: &Paths) -> (Kind, Vec<u8>, bool) {
        let script = |job: &Job| path_bytes(&job_path(paths, *job));
        let stage = |s: &Stage| path_bytes(&job_path(paths, Job::Stage(*s)));
        match self {
            Message::Booting => {
                (Kind::Info, format!("{}: booting.", runit_core::version_id()).into_bytes(), true)
            }
            Message::EnterStage(j) => (Kind::Info, cat(b"enter stage: ", &script(j)), true),
            Message::LeaveStage(j) => (Kind::Info, cat(b"leave stage: ", &script(j)), true),
            Message::ChildCrashed(s) => (Kind::Warning, cat(b"child crashed: ", &stage(s)), true),
            Message::ChildFailed(s) => (Kind::Warning, cat(b"child failed: ", &stage(s)), true),
            Message::SkippingStage2 => (Kind::Info, b"skipping stage 2...".to_vec(), true),
            Message::KillingStage2 => (Kind::Info, b"killing all processes in stage 2...".to_vec(), true),
            Message::Restarting => (Kind::Info, b"restarting.".to_vec(), true),
            Message::SignalsOnlyStage2 => (Kind::Warning, b"signals only work in stage 2.".to_vec(), true),
            Message::CtrlAltDelRequest => (Kind::Info, b"ctrl-alt-del request...".to_vec(), true),
            Message::NotTerminated(s) => (
                Kind::Info,
                format!("stage {} not terminated, sending sigkill...", s.number()).into_bytes(),
                true,
            ),
            Message::SendingKill => (Kind::Info, b"sending KILL signal to all processes...".to_vec(), true),
            Message::SystemReboot => (Kind::Info, b"system reboot.".to_vec(), true),
            Message::PowerOff => (Kind::Info, b"power off...".to_vec(), true),
            Message::SystemHalt => (Kind::Info, b"system halt.".to_vec(), true),
            Message::ShutdownRequest => (Kind::Info, b"shutdown request (sigterm)...".to_vec(), true),
            Message::ContainerExit { code, reboot } => {
                let what = match (*reboot, *code) {
                    (true, _) => "container reboot request",
                    (false, 0) => "container halt",
                    (false, _) => "container halt, stage 1 failed",
                };
                (Kind::Info, format!("exit {code}: {what}.").into_bytes(), true)
            }
            Message::UnableToFork(j, errno) => {
                let mut t = cat(b"unable to fork for \"", &script(j));
                t.extend_from_slice(b"\" pausing: ");
                t.extend_from_slice(errtext::text(*errno).as_bytes());
                (Kind::Fatal, t, true)
            }
            Message::UnableToStart(j) => {
                let mut t = cat(b"unable to start child: ", &script(j));
                t.extend_from_slice(b": ");
                (Kind::Fatal, t, false)
            }
            Message::UnableToOpenConsole(p) => {
                let mut t = cat(b"unable to open ", &path_bytes(p));
                t.extend_from_slice(b": ");
                (Kind::Warning, t, false)
            }
            Message::SelfPipe(errno) => (
                Kind::Fatal,
                format!("unable to create selfpipe, pausing: {}", errtext::text(*errno)).into_bytes(),
                true,
            ),
            Message::NotPid1 => (Kind::Fatal, b"must be run as process no 1.".to_vec(), true),
            Message::BadSetting(s) => (Kind::Warning, s.clone().into_bytes(), true),
        }
    }
}

/// The script a job runs.
pub fn job_path(paths: &Paths, job: Job) -> PathBuf {
    match job {
        Job::Stage(s) => paths.stage(s.number()),
        Job::CtrlAltDel => paths.ctrlaltdel(),
    }
}

fn path_bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(m: Message) -> String {
        String::from_utf8(m.line(&Paths::new("/etc/runit"))).expect("utf8")
    }

    #[test]
    fn runits_texts() {
        assert_eq!(line(Message::EnterStage(Job::Stage(Stage::One))), "- runit: enter stage: /etc/runit/1\n");
        assert_eq!(
            line(Message::LeaveStage(Job::CtrlAltDel)),
            "- runit: leave stage: /etc/runit/ctrlaltdel\n"
        );
        assert_eq!(
            line(Message::ChildCrashed(Stage::Two)),
            "- runit: warning: child crashed: /etc/runit/2\n"
        );
        assert_eq!(
            line(Message::ChildFailed(Stage::Three)),
            "- runit: warning: child failed: /etc/runit/3\n"
        );
        assert_eq!(line(Message::SkippingStage2), "- runit: skipping stage 2...\n");
        assert_eq!(line(Message::KillingStage2), "- runit: killing all processes in stage 2...\n");
        assert_eq!(line(Message::SignalsOnlyStage2), "- runit: warning: signals only work in stage 2.\n");
        assert_eq!(
            line(Message::NotTerminated(Stage::Two)),
            "- runit: stage 2 not terminated, sending sigkill...\n"
        );
        assert_eq!(line(Message::SendingKill), "- runit: sending KILL signal to all processes...\n");
        assert_eq!(line(Message::NotPid1), "- runit: fatal: must be run as process no 1.\n");
        assert_eq!(
            line(Message::UnableToFork(Job::Stage(Stage::Two), libc::EAGAIN)),
            "- runit: fatal: unable to fork for \"/etc/runit/2\" pausing: temporary failure\n"
        );
        assert_eq!(
            line(Message::UnableToStart(Job::Stage(Stage::One))),
            "- runit: fatal: unable to start child: /etc/runit/1: "
        );
        assert_eq!(
            line(Message::UnableToOpenConsole("/dev/console".into())),
            "- runit: warning: unable to open /dev/console: "
        );
        assert!(line(Message::Booting).starts_with("- runit: $Id: runit-rs "));
        assert!(line(Message::Booting).ends_with(" $: booting.\n"));
    }

    #[test]
    fn relocated_paths_are_shown() {
        let p = Paths::new("/tmp/t/etc");
        assert_eq!(
            Message::EnterStage(Job::Stage(Stage::Three)).line(&p),
            b"- runit: enter stage: /tmp/t/etc/3\n".to_vec()
        );
    }

    #[test]
    fn container_lines() {
        assert_eq!(
            line(Message::ContainerExit { code: 0, reboot: false }),
            "- runit: exit 0: container halt.\n"
        );
        assert_eq!(
            line(Message::ContainerExit { code: 129, reboot: true }),
            "- runit: exit 129: container reboot request.\n"
        );
        assert_eq!(
            line(Message::ContainerExit { code: 100, reboot: false }),
            "- runit: exit 100: container halt, stage 1 failed.\n"
        );
    }
}
