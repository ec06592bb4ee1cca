//! Progress on the terminal: a bar (or plain lines every 10% when stderr is not
//! a terminal) for long commands, and a spinner for steps without a measure.
//! The library reports through callbacks; only this module draws.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::seed::LoadProgress;

/// A step without a measure of progress: a spinner on a terminal, a line otherwise.
struct Step {
    spinner: Option<ProgressBar>,
    started: std::time::Instant,
}

impl Step {
    fn start(what: &'static str) -> Step {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}…")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(what);
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            spinner
        });
        if spinner.is_none() {
            eprintln!("{what}…");
        }
        Step { spinner, started: std::time::Instant::now() }
    }

    fn finish(self) {
        if let Some(spinner) = self.spinner {
            spinner.finish_and_clear();
        }
        eprintln!("done in {:.1} s", self.started.elapsed().as_secs_f64());
    }
}

/// Progress through a count of events, or of input bytes.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: AtomicU64,
    /// Plain lines off a terminal; a bar still draws on one.
    lines: bool,
    step: Mutex<Option<Step>>,
}

impl Progress {
    /// Progress through `total` events.
    pub(super) fn events(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress::with(bar, total, true)
    }

    /// Progress through `total` bytes of input (a spinner when the size is unknown).
    pub(super) fn bytes(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = if total > 0 {
                (
                    ProgressBar::new(total),
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
                )
            } else {
                (ProgressBar::new_spinner(), "{spinner} [{elapsed_precise}] {bytes} read ({bytes_per_sec})")
            };
            bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar
        });
        // Plain lines are counted in events elsewhere; byte progress stays quiet off a terminal.
        Progress::with(bar, total, false)
    }

    /// No bar of its own: only the steps of a bulk load (see [`Progress::on_load`]).
    pub(super) fn steps_only() -> Progress {
        Progress::with(None, 0, false)
    }

    fn with(bar: Option<ProgressBar>, total: u64, lines: bool) -> Progress {
        Progress { bar, total, done: AtomicU64::new(0), lines, step: Mutex::new(None) }
    }

    pub(super) fn advance(&self, n: u64) {
        let before = self.done.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.lines && self.total > 0 => {
                let step = (self.total / 10).max(1);
                if before / step != after / step {
                    eprintln!("{after}/{} events ({}%)", self.total, after * 100 / self.total);
                }
            }
            None => {}
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// Draws what a bulk load reports; `counts` says whether its written events
    /// advance this bar (an import counts bytes instead).
    pub(super) fn on_load(&self, event: LoadProgress, counts: bool) {
        let mut step = self.step.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            LoadProgress::Written(n) if counts => self.advance(n),
            LoadProgress::Written(_) => {}
            LoadProgress::RebuildingIndexes => {
                self.finish();
                *step = Some(Step::start("building indexes and planner statistics"));
            }
            LoadProgress::Done => {
                self.finish();
                if let Some(step) = step.take() {
                    step.finish();
                }
            }
        }
    }
}
