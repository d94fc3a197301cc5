//! The audit log's writer thread: lines arrive through a bounded queue (a full queue drops the
//! line and counts it, so a slow disk never holds up a request), go through a buffer, reach
//! the disk in batches (flushed and fsynced every [`BATCH_LINES`] lines or [`BATCH_WAIT`]),
//! and the file rotates by size (`FILE` → `FILE.1` → … → `FILE.N`, the oldest dropped). A
//! failed write (a full disk) is counted, its buffered lines are discarded, and the file is
//! reopened for the next line: serving goes on.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines waiting for the writer at most; more are dropped (and counted).
pub const QUEUE_LINES: usize = 32768;
/// Lines written between two fsyncs at most.
pub const BATCH_LINES: usize = 4096;
/// Longest time a written line waits for its fsync.
pub const BATCH_WAIT: Duration = Duration::from_millis(200);
/// After draining the queue the writer naps this long instead of blocking on it, so a busy
/// server hands lines over without waking the thread for each one (a wake-up per request
/// cost a third of the request rate in context switches).
pub const NAP: Duration = Duration::from_millis(5);

/// Where and how much to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    pub path: PathBuf,
    /// Size at which the file rotates, bytes.
    pub max_size: u64,
    /// Rotated files kept (`FILE.1` … `FILE.N`); 0 keeps none.
    pub keep: usize,
}

/// The audit counters `/metrics` shows.
#[derive(Debug, Default)]
pub struct AuditCounters {
    /// Lines handed to the file (through its buffer: a write or fsync that fails later loses
    /// the lines buffered since the last one, and counts a write error).
    pub lines: AtomicU64,
    /// Lines dropped because the queue was full (the disk is slower than the requests).
    pub dropped: AtomicU64,
    /// Failed writes, fsyncs, rotations and reopens (a full disk, a vanished directory).
    pub write_errors: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: cannot open it for appending: {source}; give a writable --audit-log path")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path}: cannot start its writer thread: {source}")]
    Thread {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the writer thread is sent.
#[derive(Debug)]
enum Message {
    /// One line, without its newline.
    Line(String),
    /// Flush and fsync now, then answer (at shutdown).
    Sync(std::sync::mpsc::Sender<()>),
}

/// The sending end: cheap to share, never blocks a request.
#[derive(Debug)]
pub struct AuditLog {
    sender: SyncSender<Message>,
    counters: Arc<AuditCounters>,
}

impl AuditLog {
    /// Opens (creating, appending) `settings.path` and starts the writer thread. Fails only
    /// when the file cannot be opened at all; later errors are counted.
    pub fn open(
        settings: AuditSettings,
        counters: Arc<AuditCounters>,
    ) -> Result<AuditLog, AuditError> {
        let file = Output::open(&settings.path).map_err(|source| AuditError::Open {
            path: settings.path.clone(),
            source,
        })?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE_LINES);
        let path = settings.path.clone();
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || run(receiver, settings, file, &thread_counters))
            .map_err(|source| AuditError::Thread { path, source })?;
        Ok(AuditLog { sender, counters })
    }

    /// Queues one line (without its newline); drops and counts it when the queue is full.
    pub fn send(&self, line: String) {
        match self.sender.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (up to `timeout`) until every line queued so far is written and fsynced; for
    /// shutdown. Returns whether it was.
    pub fn sync(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (ack, acked) = std::sync::mpsc::channel();
        let mut message = Message::Sync(ack);
        loop {
            match self.sender.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        acked
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

/// The open file and how big it is.
struct Output {
    writer: BufWriter<File>,
    size: u64,
}

impl Output {
    fn open(path: &Path) -> std::io::Result<Output> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Output {
            writer: BufWriter::with_capacity(64 * 1024, file),
            size,
        })
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_data()
    }
}

/// The thread: write lines as they come, fsync in batches, rotate by size; ends (after a
/// last fsync) when every sender is gone.
fn run(
    receiver: Receiver<Message>,
    settings: AuditSettings,
    first: Output,
    counters: &AuditCounters,
) {
    let error = || {
        counters.write_errors.fetch_add(1, Ordering::Relaxed);
    };
    let mut output = Some(first);
    let mut unsynced = 0usize;
    let mut oldest_unsynced: Option<Instant> = None;
    let mut busy = false;
    loop {
        let wait = match oldest_unsynced {
            Some(since) => BATCH_WAIT.saturating_sub(since.elapsed()),
            None => Duration::from_secs(3600),
        };
        let received = match receiver.try_recv() {
            Ok(message) => Ok(message),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) if busy => {
                // Lines came since the last nap: more are likely; collect them in one go.
                busy = false;
                std::thread::sleep(NAP);
                continue;
            }
            Err(TryRecvError::Empty) => receiver.recv_timeout(wait),
        };
        if matches!(received, Ok(Message::Line(_))) {
            busy = true;
        }
        let mut ack = None;
        if let Ok(Message::Sync(sender)) = received.as_ref() {
            ack = Some(sender.clone());
        }
        if let Ok(Message::Line(line)) = &received {
            if output.is_none() {
                output = Output::open(&settings.path).map_err(|_| error()).ok();
            }
            if let Some(out) = output.as_mut() {
                let length = line.len() as u64 + 1;
                if out.size > 0 && out.size + length > settings.max_size {
                    if out.sync().is_err() {
                        error();
                    }
                    drop(output.take()); // closed before it is renamed
                    if rotate(&settings.path, settings.keep).is_err() {
                        error();
                    }
                    output = Output::open(&settings.path).map_err(|_| error()).ok();
                }
            }
            if let Some(out) = output.as_mut() {
                let written = out
                    .writer
                    .write_all(line.as_bytes())
                    .and_then(|()| out.writer.write_all(b"\n"));
                match written {
                    Ok(()) => {
                        out.size += line.len() as u64 + 1;
                        counters.lines.fetch_add(1, Ordering::Relaxed);
                        unsynced += 1;
                        oldest_unsynced.get_or_insert_with(Instant::now);
                    }
                    Err(_) => {
                        // The buffer is discarded with the file; the next line reopens it.
                        error();
                        output = None;
                    }
                }
            }
        }
        let closing = matches!(received, Err(RecvTimeoutError::Disconnected));
        let due = oldest_unsynced.is_some_and(|since| since.elapsed() >= BATCH_WAIT);
        if unsynced >= BATCH_LINES || due || ((closing || ack.is_some()) && unsynced > 0) {
            if let Some(out) = output.as_mut() {
                if out.sync().is_err() {
                    error();
                    output = None;
                }
            }
            unsynced = 0;
            oldest_unsynced = None;
        }
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
        if closing {
            return;
        }
    }
}

/// `FILE.n`.
pub fn rotated_name(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The renames that rotate `path` keeping `keep` old files, in the order to do them (oldest
/// first, so none overwrites a file still to be moved): `FILE.(N-1)` → `FILE.N`, …,
/// `FILE` → `FILE.1`. With `keep` 0 there is none (the file is removed instead).
pub fn rotation_plan(path: &Path, keep: usize) -> Vec<(PathBuf, PathBuf)> {
    let mut plan = Vec::new();
    for n in (1..keep).rev() {
        plan.push((rotated_name(path, n), rotated_name(path, n + 1)));
    }
    if keep > 0 {
        plan.push((path.to_path_buf(), rotated_name(path, 1)));
    }
    plan
}

/// Rotates `path`: the oldest kept file is replaced, the others shift by one.
fn rotate(path: &Path, keep: usize) -> std::io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    for (from, to) in rotation_plan(path, keep) {
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_shifts_oldest_first() {
        let plan = rotation_plan(Path::new("/var/log/audit.jsonl"), 3);
        let names: Vec<(String, String)> = plan
            .iter()
            .map(|(a, b)| (a.display().to_string(), b.display().to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("/var/log/audit.jsonl.2", "/var/log/audit.jsonl.3"),
                ("/var/log/audit.jsonl.1", "/var/log/audit.jsonl.2"),
                ("/var/log/audit.jsonl", "/var/log/audit.jsonl.1"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert!(rotation_plan(Path::new("a"), 0).is_empty());
    }

    #[test]
    fn the_writer_rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let counters = Arc::new(AuditCounters::default());
        let settings = AuditSettings {
            path: path.clone(),
            max_size: 100,
            keep: 2,
        };
        let log = AuditLog::open(settings, counters.clone()).unwrap();
        for n in 0..30 {
            log.send(format!("{{\"line\":{n:04}}}"));
        }
        assert!(log.sync(Duration::from_secs(5)));
        assert_eq!(counters.lines.load(Ordering::Relaxed), 30);
        assert_eq!(counters.write_errors.load(Ordering::Relaxed), 0);
        assert!(!rotated_name(&path, 3).exists());
        for file in [path.clone(), rotated_name(&path, 1), rotated_name(&path, 2)] {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(text.len() <= 100, "{}: {}", file.display(), text.len());
            assert!(text.ends_with('\n'));
        }
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("0029"), "{last}");
    }
}
