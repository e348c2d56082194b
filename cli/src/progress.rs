//! Training progress for a person at a terminal (a bar) and for everyone else (a log file, CI,
//! nohup): a line every N steps with the step, the loss summary, images/s and the time left.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub enum Progress {
    Bar(ProgressBar),
    Lines(Lines),
}

pub struct Lines {
    every: u64,
    total: u64,
    first: u64,
    started: Instant,
}

impl Progress {
    /// A bar when stderr is a terminal and `quiet` is not asked; otherwise a line every
    /// `every` steps (0: only the last step's).
    pub fn new(total: u64, first: u64, quiet: bool, every: u64) -> Self {
        if !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(first);
            Self::Bar(bar)
        } else {
            Self::Lines(Lines {
                every,
                total,
                first,
                started: Instant::now(),
            })
        }
    }

    /// Step `done` (of the total) finished with this loss summary.
    pub fn update(&self, done: u64, summary: &str) {
        match self {
            Self::Bar(bar) => {
                bar.set_message(summary.to_owned());
                bar.set_position(done);
            }
            Self::Lines(lines) => {
                let due =
                    done == lines.total || (lines.every > 0 && done.is_multiple_of(lines.every));
                if due {
                    eprintln!(
                        "{}",
                        line(
                            done,
                            lines.total,
                            summary,
                            lines.started.elapsed(),
                            done - lines.first
                        )
                    );
                }
            }
        }
    }

    /// Leaves the bar as it is (training stopped with an error).
    pub fn abandon(&self) {
        if let Self::Bar(bar) = self {
            bar.abandon();
        }
    }

    pub fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish();
        }
    }
}

/// One progress line: `elapsed` is the time this process took for its `steps` steps (a resumed
/// run's earlier steps are not in it), from which the time left follows.
fn line(done: u64, total: u64, summary: &str, elapsed: Duration, steps: u64) -> String {
    let percent = 100.0 * done as f64 / total.max(1) as f64;
    let left = if steps == 0 {
        Duration::ZERO
    } else {
        elapsed.mul_f64((total - done) as f64 / steps as f64)
    };
    format!(
        "step {done}/{total} ({percent:.1}%): {summary} | {} elapsed, {} left",
        clock(elapsed),
        clock(left)
    )
}

/// h:mm:ss.
fn clock(duration: Duration) -> String {
    let s = duration.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_the_step_the_summary_and_the_time_left_from_this_process_steps() {
        // 400 steps in 100 s, 2,000 to go: 500 s left.
        let text = line(
            1200,
            3200,
            "G 3.100 | 12.5 img/s",
            Duration::from_secs(100),
            400,
        );
        assert_eq!(
            text,
            "step 1200/3200 (37.5%): G 3.100 | 12.5 img/s | 0:01:40 elapsed, 0:08:20 left"
        );
        assert_eq!(clock(Duration::from_secs(3 * 3600 + 5 * 60 + 9)), "3:05:09");
        // The last step: nothing left.
        assert!(line(10, 10, "x", Duration::from_secs(5), 10)
            .ends_with("0:00:05 elapsed, 0:00:00 left"));
    }
}
