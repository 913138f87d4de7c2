//! Running one tool invocation: spawn in its own process group, stream its output to log
//! files, parse stderr into events as lines arrive, kill the whole group when the kill
//! plan says so, and make sure no process of the group outlives the run.
//!
//! Kill plan: always a timeout; optionally one [`KillTrigger`] (a delay after spawn, or
//! the n-th occurrence of a named event); optionally an external [`KillSwitch`] that
//! another thread (e.g. the S3 fault proxy) fires. A kill is SIGKILL to the whole group,
//! so a grandchild such as `btrfs send` dies with the leader. Once the leader has exited
//! (detected without reaping it, so its pid cannot be reused), the group is SIGKILLed
//! again, the runner waits until `/proc` shows no live member (zombies aside), reaps the
//! leader, and collects the rest of the output. The group is in the process-global
//! registry (`tool::groups`) from spawn until then, for the signal handler.
//!
//! This module runs one process and reports what happened; it judges nothing.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::command::Invocation;
use super::events::{Event, EventLog};
use super::{groups, signals};

/// How often the runner checks the leader, the timers and the kill switch.
const TICK: Duration = Duration::from_millis(5);
/// How long SIGKILLed group members get to disappear (a process in uninterruptible
/// sleep, e.g. inside a btrfs ioctl, dies only when the kernel lets it).
const GROUP_GONE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the output pipes to close once the group is gone.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// When to kill the tool, besides the timeout and the kill switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillTrigger {
    /// This long after spawn.
    AfterDelay(Duration),
    /// When the `nth` (1-based) stderr line with `event=<name>` has been read.
    OnEvent { name: String, nth: u32 },
}

/// Why the runner killed the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    Timeout {
        after: Duration,
    },
    AfterDelay {
        after: Duration,
    },
    OnEvent {
        name: String,
        nth: u32,
    },
    Switch {
        reason: String,
    },
    /// The harness got SIGINT/SIGTERM.
    Interrupted,
}

/// A cloneable handle that kills the run it is given to, from any thread. Use one switch
/// per run: once fired it stays fired.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch(Arc<Mutex<SwitchState>>);

#[derive(Debug, Default)]
struct SwitchState {
    fired: Option<(String, Instant)>,
    /// The group of the running tool, while it runs.
    pgid: Option<i32>,
}

impl KillSwitch {
    pub fn new() -> Self {
        KillSwitch::default()
    }

    fn state(&self) -> MutexGuard<'_, SwitchState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fires the switch. If the tool is running, its group has been sent SIGKILL when this
    /// returns. Returns false if the switch had already been fired (the first reason wins).
    pub fn fire(&self, reason: impl Into<String>) -> bool {
        let mut state = self.state();
        if state.fired.is_some() {
            return false;
        }
        state.fired = Some((reason.into(), Instant::now()));
        if let Some(pgid) = state.pgid {
            groups::kill_group(pgid);
        }
        true
    }

    /// The reason given to [`KillSwitch::fire`], once fired.
    pub fn fired(&self) -> Option<String> {
        self.state()
            .fired
            .as_ref()
            .map(|(reason, _)| reason.clone())
    }

    fn bind(&self, pgid: Option<i32>) {
        self.state().pgid = pgid;
    }

    fn fired_at(&self) -> Option<Instant> {
        self.state().fired.as_ref().map(|(_, at)| *at)
    }
}

/// Everything one run needs.
#[derive(Debug)]
pub struct RunSpec {
    pub invocation: Invocation,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    /// The tool is SIGKILLed (reason `Timeout`) if it runs longer.
    pub timeout: Duration,
    pub kill: Option<KillTrigger>,
    pub switch: Option<KillSwitch>,
    /// Receives every event as soon as its line is read (send errors are ignored).
    pub live: Option<Sender<Event>>,
}

impl RunSpec {
    /// A run with only a timeout; set the other fields as needed.
    pub fn new(
        invocation: Invocation,
        stdout_log: &Path,
        stderr_log: &Path,
        timeout: Duration,
    ) -> Self {
        RunSpec {
            invocation,
            stdout_log: stdout_log.to_path_buf(),
            stderr_log: stderr_log.to_path_buf(),
            timeout,
            kill: None,
            switch: None,
            live: None,
        }
    }
}

/// What happened to one tool invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The leader's exit code, if it exited normally.
    pub exit_code: Option<i32>,
    /// The signal that ended the leader, if any.
    pub signal: Option<i32>,
    pub killed: Option<KillReason>,
    /// Events in stderr order.
    pub events: Vec<Event>,
    pub started: SystemTime,
    /// From spawn until the leader's exit was seen.
    pub duration: Duration,
    /// When the kill was sent, measured from spawn.
    pub kill_at: Option<Duration>,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    /// The tool's process group id (= the leader's pid).
    pub pgid: i32,
    /// Group members still alive after the cleanup deadline (normally empty).
    pub survivors: Vec<i32>,
    /// The first error writing a log file or reading a pipe, if any.
    pub log_error: Option<String>,
}

impl Outcome {
    /// The events with this name, in order.
    pub fn events_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().filter(move |e| e.name == name)
    }
}

/// The run could not be started (nothing is left running when this is returned).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("not starting {program:?}: the harness was interrupted (SIGINT/SIGTERM)")]
    Interrupted { program: String },
    #[error("run spec for {program:?}: {problem}")]
    BadSpec { program: String, problem: String },
    #[error("creating tool log file {}: {source}; check that the logs directory is writable", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "starting the tool {program:?} (working directory {cwd}): {source}; check tool.cmd in the \
         harness config or BTRFS_TO_S3_CMD, and tool.cwd"
    )]
    Spawn {
        program: String,
        cwd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("starting output reader threads for {program:?}: {source}")]
    Threads {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the invocation to the end under the kill plan.
pub fn run(spec: RunSpec) -> Result<Outcome, RunError> {
    let program = spec.invocation.program.clone();
    check_spec(&spec)?;
    if signals::interrupted() {
        return Err(RunError::Interrupted { program });
    }
    let stdout_file = create_log(&spec.stdout_log)?;
    let stderr_file = create_log(&spec.stderr_log)?;
    let mut command = spec.invocation.command();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = SystemTime::now();
    let t0 = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|source| spawn_error(&spec.invocation, source))?;
    let pgid = child.id() as i32;
    let registration = groups::Registration::new(pgid);
    if let Some(switch) = &spec.switch {
        switch.bind(Some(pgid));
    }
    // `tx` lives until the end of this function, so waiting on `rx` times out instead of
    // returning at once after the readers finish (no busy loop).
    let (tx, rx) = mpsc::channel();
    let readers = spawn_readers(&mut child, stdout_file, stderr_file, &tx, t0);
    let mut supervisor = Supervisor::new(&spec, t0, rx);
    if readers.is_ok() {
        supervisor.until_leader_exits(pgid);
    }
    let duration = t0.elapsed();
    let (survivors, status) = end_group(&spec, &mut child, pgid);
    drop(registration);
    let readers = readers.map_err(|source| RunError::Threads { program, source })?;
    supervisor.drain(readers);
    Ok(supervisor.outcome(&spec, started, duration, pgid, survivors, status))
}

fn check_spec(spec: &RunSpec) -> Result<(), RunError> {
    match &spec.kill {
        Some(KillTrigger::OnEvent { nth: 0, .. }) => Err(RunError::BadSpec {
            program: spec.invocation.program.clone(),
            problem: "KillTrigger::OnEvent nth is 1-based; 0 would never fire".to_string(),
        }),
        _ => Ok(()),
    }
}

fn create_log(path: &Path) -> Result<File, RunError> {
    let log_error = |source| RunError::Log {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(log_error)?;
    }
    File::create(path).map_err(log_error)
}

fn spawn_error(invocation: &Invocation, source: std::io::Error) -> RunError {
    let cwd = invocation
        .cwd
        .as_ref()
        .map_or("(the harness's)".to_string(), |d| d.display().to_string());
    RunError::Spawn {
        program: invocation.program.clone(),
        cwd,
        source,
    }
}

/// SIGKILLs whatever is left of the group, waits until it is gone, reaps the leader.
/// Returns the survivors and the leader's exit status (`None` if reaping failed).
fn end_group(
    spec: &RunSpec,
    child: &mut Child,
    pgid: i32,
) -> (Vec<i32>, Option<std::process::ExitStatus>) {
    groups::kill_group(pgid);
    let deadline = Instant::now() + GROUP_GONE_TIMEOUT;
    let survivors = loop {
        let members = groups::group_members(pgid);
        if members.is_empty() || Instant::now() >= deadline {
            break members;
        }
        groups::kill_group(pgid);
        std::thread::sleep(Duration::from_millis(10));
    };
    // Unbind before the leader is reaped: afterwards its pid (= pgid) may be reused.
    if let Some(switch) = &spec.switch {
        switch.bind(None);
    }
    (survivors, child.wait().ok())
}

/// Whether the leader has exited, without reaping it (so the pgid stays reserved).
fn leader_exited(pid: i32) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => false,
        Ok(_) | Err(_) => true,
    }
}

enum Msg {
    Line(String, Duration),
    /// A reader finished, with its first error if any.
    Done(Option<String>),
}

fn spawn_readers(
    child: &mut Child,
    stdout_log: File,
    stderr_log: File,
    tx: &Sender<Msg>,
    t0: Instant,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let out_tx = tx.clone();
    let out = std::thread::Builder::new()
        .name("tool-stdout".into())
        .spawn(move || {
            let _ = out_tx.send(Msg::Done(copy_stdout(stdout, stdout_log)));
        })?;
    let err_tx = tx.clone();
    let err = std::thread::Builder::new()
        .name("tool-stderr".into())
        .spawn(move || {
            let error = copy_stderr_lines(stderr, stderr_log, &err_tx, t0);
            let _ = err_tx.send(Msg::Done(error));
        })?;
    Ok(vec![out, err])
}

fn copy_stdout(mut from: impl Read, mut to: File) -> Option<String> {
    std::io::copy(&mut from, &mut to)
        .err()
        .map(|e| format!("stdout: {e}"))
}

/// Copies stderr to the log line by line and sends each line. Keeps reading after a log
/// write error, so the tool never blocks on a full pipe.
fn copy_stderr_lines(
    from: impl Read,
    mut to: File,
    tx: &Sender<Msg>,
    t0: Instant,
) -> Option<String> {
    let mut reader = BufReader::new(from);
    let mut first_error = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return first_error,
            Ok(_) => {
                let at = t0.elapsed();
                if let Err(e) = to.write_all(&line) {
                    first_error.get_or_insert(format!("stderr log: {e}"));
                }
                let _ = tx.send(Msg::Line(String::from_utf8_lossy(&line).into_owned(), at));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return first_error.or(Some(format!("stderr: {e}"))),
        }
    }
}

/// The supervision state of one run: parsed events, the kill plan and what it did.
struct Supervisor<'a> {
    spec: &'a RunSpec,
    t0: Instant,
    rx: Receiver<Msg>,
    log: EventLog,
    seen: u32,
    killed: Option<KillReason>,
    kill_at: Option<Duration>,
    readers_done: usize,
    log_error: Option<String>,
}

impl<'a> Supervisor<'a> {
    fn new(spec: &'a RunSpec, t0: Instant, rx: Receiver<Msg>) -> Self {
        Supervisor {
            spec,
            t0,
            rx,
            log: EventLog::new(),
            seen: 0,
            killed: None,
            kill_at: None,
            readers_done: 0,
            log_error: None,
        }
    }

    fn until_leader_exits(&mut self, pgid: i32) {
        loop {
            let now = self.t0.elapsed();
            if self.killed.is_none() {
                if let Some(reason) = self.due(now) {
                    self.kill(pgid, reason, now);
                }
            }
            if leader_exited(pgid) {
                return;
            }
            if let Ok(msg) = self.rx.recv_timeout(self.wait_time(now)) {
                self.handle(msg, Some(pgid));
            }
        }
    }

    /// A timed or external reason to kill now, if any.
    fn due(&self, now: Duration) -> Option<KillReason> {
        if let Some(reason) = self.spec.switch.as_ref().and_then(KillSwitch::fired) {
            return Some(KillReason::Switch { reason });
        }
        if signals::interrupted() {
            return Some(KillReason::Interrupted);
        }
        if let Some(KillTrigger::AfterDelay(after)) = self.spec.kill {
            if now >= after {
                return Some(KillReason::AfterDelay { after });
            }
        }
        (now >= self.spec.timeout).then_some(KillReason::Timeout {
            after: self.spec.timeout,
        })
    }

    /// How long to wait for output before checking again: a tick, or less if a timer
    /// expires sooner.
    fn wait_time(&self, now: Duration) -> Duration {
        let delay = match self.spec.kill {
            Some(KillTrigger::AfterDelay(after)) => Some(after),
            _ => None,
        };
        [Some(self.spec.timeout), delay]
            .into_iter()
            .flatten()
            .filter(|deadline| *deadline > now)
            .map(|deadline| deadline - now)
            .fold(TICK, Duration::min)
    }

    fn kill(&mut self, pgid: i32, reason: KillReason, now: Duration) {
        groups::kill_group(pgid);
        // The switch already killed when it fired; report that moment.
        let switch_at = match reason {
            KillReason::Switch { .. } => self.spec.switch.as_ref().and_then(KillSwitch::fired_at),
            _ => None,
        };
        self.kill_at = Some(switch_at.map_or(now, |at| at.saturating_duration_since(self.t0)));
        self.killed = Some(reason);
    }

    /// Records a reader's message; kills the group on the trigger event if `pgid` is
    /// given (it is not once the leader has been reaped: the pgid may be reused).
    fn handle(&mut self, msg: Msg, pgid: Option<i32>) {
        match msg {
            Msg::Done(error) => {
                self.readers_done += 1;
                self.log_error = self.log_error.take().or(error);
            }
            Msg::Line(text, at) => {
                let Some(event) = self.log.push_line(&text, at).cloned() else {
                    return;
                };
                if let (Some(pgid), Some(reason)) = (pgid, self.kill_event(&event)) {
                    if self.killed.is_none() {
                        self.kill(pgid, reason, self.t0.elapsed());
                    }
                }
                if let Some(live) = &self.spec.live {
                    let _ = live.send(event);
                }
            }
        }
    }

    /// Counts occurrences of the trigger event; the kill reason on the n-th.
    fn kill_event(&mut self, event: &Event) -> Option<KillReason> {
        let Some(KillTrigger::OnEvent { name, nth }) = &self.spec.kill else {
            return None;
        };
        if event.name != *name {
            return None;
        }
        self.seen += 1;
        (self.seen == *nth).then(|| KillReason::OnEvent {
            name: name.clone(),
            nth: *nth,
        })
    }

    /// Collects the output still in flight, until both readers finished or the deadline;
    /// readers still blocked (a pipe held open by a process outside the group) are left.
    fn drain(&mut self, readers: Vec<JoinHandle<()>>) {
        let deadline = Instant::now() + OUTPUT_DRAIN_TIMEOUT;
        while self.readers_done < readers.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                // Lines read after the leader's exit still count, but kill nothing.
                Ok(msg) => self.handle(msg, None),
                Err(_) => {
                    self.log_error
                        .get_or_insert("output pipe still open after the group ended".into());
                    return;
                }
            }
        }
        readers.into_iter().for_each(|r| drop(r.join()));
    }

    fn outcome(
        self,
        spec: &RunSpec,
        started: SystemTime,
        duration: Duration,
        pgid: i32,
        survivors: Vec<i32>,
        status: Option<std::process::ExitStatus>,
    ) -> Outcome {
        Outcome {
            exit_code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            killed: self.killed,
            events: self.log.into_events(),
            started,
            duration,
            kill_at: self.kill_at,
            stdout_log: spec.stdout_log.clone(),
            stderr_log: spec.stderr_log.clone(),
            pgid,
            survivors,
            log_error: self.log_error,
        }
    }
}
