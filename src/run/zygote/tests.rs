//! The zygote's harness side without Python: the wire (fds really pass),
//! which commands a zygote may serve, the fallback to exec, and the
//! equivalence comparison on canned results.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use super::equivalence::{self, Seen};
use super::*;
use crate::contract::{ScenarioId, StartMethod, Verdict, fixtures};
use crate::host::proc::{Finished, LineWait, Termination};

/// Receive one message and its fds (what zygote.py's `receive` does).
fn receive(stream: &UnixStream) -> (Vec<u8>, Vec<OwnedFd>) {
    let mut data = [0u8; 256];
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: the buffers outlive the call; the cmsg walk stays inside
    // `control` (CMSG_NXTHDR checks the length).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(stream.as_raw_fd(), &mut msg, 0);
        assert!(n > 0, "{}", io::Error::last_os_error());
        let mut fds = Vec::new();
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            let data = libc::CMSG_DATA(cmsg).cast::<i32>();
            for i in 0..len / 4 {
                fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        (data[..n as usize].to_vec(), fds)
    }
}

#[test]
fn a_request_carries_its_line_and_working_pipes() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (mut out_r, out_w) = io::pipe().unwrap();
    let (in_r, mut in_w) = io::pipe().unwrap();
    send_with_fds(
        &ours,
        b"[\"creator\"]\n",
        &[out_w.as_raw_fd(), in_r.as_raw_fd()],
    );
    drop((out_w, in_r));
    let (line, fds) = receive(&theirs);
    assert_eq!(line, b"[\"creator\"]\n");
    assert_eq!(fds.len(), 2);
    // The receiver's copies are the same pipes: what it writes we read,
    // and once its copies close, EOF.
    let mut fds = fds.into_iter();
    let mut their_out = std::fs::File::from(fds.next().unwrap());
    let mut their_in = std::fs::File::from(fds.next().unwrap());
    their_out.write_all(b"hello").unwrap();
    drop(their_out);
    let mut got = String::new();
    out_r.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello");
    in_w.write_all(b"x").unwrap();
    let mut byte = [0u8];
    their_in.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");
}

fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[i32]) {
    wire::send_with_fds(stream, bytes, fds).unwrap();
}

#[test]
fn the_answer_is_a_pid_or_what_went_wrong() {
    assert_eq!(wire::pid_of("pid 4242\n"), Ok(4242));
    assert_eq!(
        wire::pid_of("error OSError: [Errno 11] fork\n"),
        Err("OSError: [Errno 11] fork".to_string())
    );
    assert_eq!(wire::pid_of(""), Err("it closed the socket".to_string()));
    assert!(wire::pid_of("pid 1\n").is_err(), "never init");
}

/// A world whose processes end at once, saying `stderr`; it counts spawns.
struct Silent {
    stderr: &'static str,
    spawned: Mutex<Vec<Spec>>,
}

struct Ended(&'static str);

impl Child for Ended {
    fn send(&mut self, _line: &str) -> io::Result<()> {
        Ok(())
    }
    fn close_stdin(&mut self) {}
    fn signal_leader(&self, _signal: i32) {}
    fn wait_for_line(&mut self, _want: &dyn Fn(&str) -> bool) -> Result<String, LineWait> {
        Err(LineWait::Eof)
    }
    fn finish(self: Box<Self>) -> Finished {
        Finished {
            termination: Termination::Exited(3),
            orphans: Vec::new(),
            stdout: String::new(),
            stderr: self.0.to_string(),
            timed_out: false,
            duration: Duration::ZERO,
        }
    }
}

impl World for Silent {
    fn spawn(&self, spec: &Spec, _timeout: Duration) -> io::Result<Box<dyn Child>> {
        self.spawned.lock().unwrap().push(spec.clone());
        Ok(Box::new(Ended(self.stderr)))
    }
    fn segment_exists(&self, _name: &str) -> bool {
        false
    }
    fn unlink_segment(&self, _name: &str) {}
}

impl Silent {
    fn saying(stderr: &'static str) -> Silent {
        Silent {
            stderr,
            spawned: Mutex::new(Vec::new()),
        }
    }
}

/// `python -B -s SCRIPT ARGS` with the overlay `overlay`.
fn role(script: &Path, overlay: &str, args: &[&str]) -> Spec {
    let mut spec = Spec::new("/py/3.9/bin/pypy3");
    spec.args(["-B", "-s"]).arg(script).args(args);
    spec.env("PYTHONPATH", overlay);
    spec.env("SHMHARNESS_TRACKER_EVENTS", "1");
    spec
}

#[test]
fn a_role_command_is_split_into_its_starting_state_and_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("roles.py");
    let world = Silent::saying("");
    let z = Zygotes::new(
        &world,
        Roles::Exec,
        &script,
        HashMap::new(),
        Duration::from_secs(1),
    );
    let (key, args) = z
        .split(&role(&script, "/o1", &["creator", "n", "4096"]))
        .unwrap();
    assert_eq!(args, ["creator", "n", "4096"]);
    assert_eq!(key.flags, ["-B", "-s"]);
    // `apis` starts from the same state; another overlay does not.
    let (apis, _) = z.split(&role(&script, "/o1", &["apis"])).unwrap();
    assert_eq!(apis, key);
    let (other, _) = z.split(&role(&script, "/o2", &["apis"])).unwrap();
    assert_ne!(other, key);
    // Not a role: compileall, a probe.
    let mut compileall = Spec::new("/py/3.9/bin/python3");
    compileall.args(["-m", "compileall", "/o1"]);
    assert!(z.split(&compileall).is_none());
}

#[test]
fn where_the_zygote_cannot_start_roles_are_execd_and_it_is_not_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("roles.py");
    let world = Silent::saying("zygote: not CPython (pypy)\n");
    let names = HashMap::from([(PathBuf::from("/py/3.9/bin/pypy3"), "pypy-3.9".to_string())]);
    let z = Zygotes::new(
        &world,
        Roles::Zygote,
        &script,
        names,
        Duration::from_secs(1),
    );
    assert!(script.with_file_name("zygote.py").exists());
    let creator = role(&script, "/o1", &["creator", "n", "4096"]);
    z.spawn(&creator, Duration::from_secs(1)).unwrap();
    z.spawn(
        &role(&script, "/o1", &["attacher", "n", "4096"]),
        Duration::from_secs(1),
    )
    .unwrap();
    let spawned = world.spawned.lock().unwrap();
    let scripts: Vec<String> = spawned
        .iter()
        .map(|s| {
            let name = Path::new(&s.args[2]).file_name().unwrap();
            name.to_string_lossy().into_owned()
        })
        .collect();
    // The zygote once, then each role exec'd as asked.
    assert_eq!(scripts, ["zygote.py", "roles.py", "roles.py"]);
    assert_eq!(spawned[1], creator);
    assert_eq!(
        spawned[0].env, creator.env,
        "the zygote gets the role's environment"
    );
}

/// The equivalence sample: three-process, raw-fork, family [spawn] and
/// manager [forkserver] on the oldest and newest interpreter.
fn sample() -> crate::contract::Results {
    use ScenarioId::*;
    let mut cases = Vec::new();
    for interp in ["3.8.18", "3.15.2"] {
        for (scenario, method, symptoms) in [
            (ThreeProcess, None, fixtures::SEED_BUG),
            (RawFork, None, &["P1 leak warning"][..]),
            (Family, Some(StartMethod::Spawn), &[][..]),
            (Manager, Some(StartMethod::Forkserver), &[][..]),
        ] {
            let mut c = fixtures::case(
                interp,
                "stock",
                scenario,
                Verdict::Pass,
                "as expected",
                symptoms,
            );
            c.start_method = method;
            let mut p = fixtures::attacher("");
            p.label = "P1".into();
            p.group = "P1".into();
            p.exit_code = Some(0);
            p.tracker_exit_code = Some(0);
            c.processes = vec![p];
            cases.push(c);
        }
    }
    fixtures::results(
        &["3.8.18", "3.15.2"],
        &["stock"],
        &[ThreeProcess, RawFork, Family, Manager],
        cases,
    )
}

#[test]
fn equivalence_compares_every_cell_by_what_its_verdict_rests_on() {
    let exec = sample();
    // Another run: other segment names, pids, timings; the same observations.
    let mut zygote = sample();
    for c in &mut zygote.cases {
        c.segment = Some("shmh999_1".into());
        c.processes[0].stderr = "other text".into();
    }
    let (cells, diffs) = equivalence::compare(&exec, &zygote);
    assert_eq!((cells, diffs.len()), (8, 0));
    let (text, differing) =
        equivalence::report(std::slice::from_ref(&exec), std::slice::from_ref(&zygote));
    assert_eq!(differing, 0);
    assert!(
        text.ends_with("0 differing cells over 1 repetitions on 2 interpreters (3.15.2, 3.8.18)\n"),
        "{text}"
    );
    // The raw-fork child's tracker on 3.15.2 exits otherwise: named.
    let raw_fork = zygote
        .cases
        .iter_mut()
        .find(|c| c.interpreter == "3.15.2" && c.scenario == ScenarioId::RawFork)
        .unwrap();
    raw_fork.processes[0].tracker_exit_code = Some(1);
    let (_, diffs) = equivalence::compare(&exec, &zygote);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].cell.to_string(), "3.15.2 raw-fork [stock]");
    assert_eq!(
        diffs[0].b[0].to_string(),
        "pass: P1 leak warning; P1 exit 0 tracker 1"
    );
    // An exit code unknown on one side (the role reaped its tracker
    // itself) is no difference; two known ones must agree.
    let mut unknown = zygote.clone();
    unknown
        .cases
        .iter_mut()
        .find(|c| c.interpreter == "3.15.2" && c.scenario == ScenarioId::RawFork)
        .unwrap()
        .processes[0]
        .tracker_exit_code = None;
    assert_eq!(equivalence::compare(&exec, &unknown).1.len(), 0);
    // Two processes of one group swap their codes: no difference.
    let mut pair = exec.clone();
    let mut swapped = exec.clone();
    for (r, codes) in [(&mut pair, [1, 2]), (&mut swapped, [2, 1])] {
        let c = &mut r.cases[0];
        let mut a2 = c.processes[0].clone();
        c.processes[0].tracker_exit_code = Some(codes[0]);
        a2.label = "P2".into();
        a2.tracker_exit_code = Some(codes[1]);
        c.processes.push(a2);
    }
    assert_eq!(equivalence::compare(&pair, &swapped).1.len(), 0);
    // A cell that ran in one mode only differs too; so does a verdict.
    zygote
        .cases
        .retain(|c| c.scenario != ScenarioId::Manager || c.interpreter != "3.8.18");
    zygote.cases[0].verdict = Verdict::Fail;
    let (text, differing) = equivalence::report(&[exec], &[zygote]);
    assert_eq!(differing, 3, "{text}");
    assert!(
        text.contains("3.8.18 manager [forkserver] [stock]\n    exec:   pass"),
        "{text}"
    );
    assert!(text.contains("    zygote: (not run)"), "{text}");
}

#[test]
fn a_cell_that_changes_between_repetitions_of_one_mode_is_named_apart() {
    let first = sample();
    let mut second = sample();
    second.cases[1].segment_leaked = true;
    let runs = [first.clone(), second.clone()];
    let (text, differing) = equivalence::report(&runs, &runs);
    assert_eq!(differing, 0, "each repetition agrees between the modes");
    assert!(
        text.contains("exec alone: 1 cells changed between repetitions: 3.8.18 raw-fork [stock]"),
        "{text}"
    );
    assert!(
        text.contains("over all repetitions: 0 cells where one mode saw"),
        "{text}"
    );
    // The same two outcomes in the other order: each repetition differs,
    // yet each mode saw both outcomes, and the difference is flagged as one
    // that changed between exec's own repetitions.
    let (text, differing) = equivalence::report(&runs, &[second, first]);
    assert_eq!(differing, 1, "{text}");
    assert!(
        text.contains("3.8.18 raw-fork [stock] (it changed between exec's own repetitions too)"),
        "{text}"
    );
    assert!(
        text.contains("over all repetitions: 0 cells where one mode saw"),
        "{text}"
    );
    let seen: Vec<Seen> = equivalence::cells(&sample())
        .into_values()
        .flatten()
        .collect();
    assert_eq!(seen.len(), 8);
}
