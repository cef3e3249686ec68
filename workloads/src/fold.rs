//! Folding repetitive stretches of output — 50 times the same three system calls on
//! other objects, a loop that unhooks 50 wait queues — so that a person can read the
//! rest. Two lines have the same *shape* when they are equal once every run of digits is
//! masked (`epitem7` and `epitem8`, `pipe10->wait` and `pipe14->wait`). A block of `p`
//! lines whose shape repeats at least `min_repeats` times in a row is shown once in
//! full, then one line that says how often it repeats, then its last occurrence.
//! [`fold_identical`] folds only blocks that repeat exactly, so that no value is hidden.

/// A line's shape: every number masked, except a CPU's (`cpu1` stays `cpu1`: a block
/// one CPU runs is not the same as one another CPU runs), and runs of spaces collapsed.
fn shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    let mut keep = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                keep = out.ends_with("cpu");
                if !keep {
                    out.push('#');
                }
            }
            if keep {
                out.push(c);
            }
            in_number = true;
        } else {
            in_number = false;
            // Columns padded to the width of a number shift with it.
            if !(c == ' ' && out.ends_with(' ')) {
                out.push(c);
            }
        }
    }
    out
}

/// Folds `lines` where blocks repeat with the same shape. `period_max` bounds the block
/// length searched; `min_repeats` (≥ 3) is how often a block must repeat to be folded.
/// `summary(p, more, first, last)` makes the line that replaces the middle occurrences:
/// the block has `p` lines, repeats `more` more times after its first occurrence (the
/// last one included), and the folded stretch covers `lines[first..last]`.
pub fn fold(
    lines: &[String],
    period_max: usize,
    min_repeats: usize,
    summary: &dyn Fn(usize, usize, usize, usize) -> String,
) -> Vec<String> {
    fold_by(lines, &shape, period_max, min_repeats, summary)
}

/// [`fold`], but only blocks that repeat exactly, character for character: nothing
/// the folded lines say is lost.
pub fn fold_identical(
    lines: &[String],
    period_max: usize,
    min_repeats: usize,
    summary: &dyn Fn(usize, usize, usize, usize) -> String,
) -> Vec<String> {
    fold_by(
        lines,
        &|line| line.to_string(),
        period_max,
        min_repeats,
        summary,
    )
}

/// Whether the `p`-line block at `lines[first - p..first]` repeats exactly in
/// `lines[first..last + p]` (a stretch that [`fold`] folded): then folding it hid no
/// value.
pub fn repeats_exactly(lines: &[String], p: usize, first: usize, last: usize) -> bool {
    let block = &lines[first - p..first];
    lines[first..last + p]
        .chunks(p)
        .all(|occurrence| occurrence == block)
}

/// [`fold`] with `key` saying which lines are the same.
fn fold_by(
    lines: &[String],
    key: &dyn Fn(&str) -> String,
    period_max: usize,
    min_repeats: usize,
    summary: &dyn Fn(usize, usize, usize, usize) -> String,
) -> Vec<String> {
    let min_repeats = min_repeats.max(3);
    let shapes: Vec<String> = lines.iter().map(|l| key(l)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut best: Option<(usize, usize)> = None; // (period, repeats)
        let remaining = lines.len() - i;
        for p in 1..=period_max.min(remaining / min_repeats) {
            let mut repeats = 1;
            while i + (repeats + 1) * p <= lines.len()
                && (0..p).all(|k| shapes[i + k] == shapes[i + repeats * p + k])
            {
                repeats += 1;
            }
            if repeats >= min_repeats {
                let better = match best {
                    None => true,
                    Some((bp, br)) => p * repeats > bp * br,
                };
                if better {
                    best = Some((p, repeats));
                }
            }
        }
        match best {
            Some((p, repeats)) => {
                out.extend(lines[i..i + p].iter().cloned());
                let last = i + (repeats - 1) * p;
                out.push(summary(p, repeats - 1, i + p, last));
                out.extend(lines[last..last + p].iter().cloned());
                i += repeats * p;
            }
            None => {
                out.push(lines[i].clone());
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_blocks_fold_to_first_summary_last() {
        let mut lines = vec!["start".to_string()];
        for i in 0..10 {
            lines.push(format!("lock pipe{i}"));
            lines.push(format!("unlock pipe{i}"));
        }
        lines.push("end".to_string());
        let folded = fold(&lines, 8, 3, &|p, more, _, _| {
            format!("({p} lines x {more})")
        });
        assert_eq!(
            folded,
            [
                "start",
                "lock pipe0",
                "unlock pipe0",
                "(2 lines x 9)",
                "lock pipe9",
                "unlock pipe9",
                "end"
            ]
        );
    }

    #[test]
    fn identical_folding_keeps_every_value() {
        let mut lines = Vec::new();
        for i in 0..6 {
            lines.push(format!(
                "evs = epoll_wait(ep, 10, 0) = 1 [EPOLLIN:{}]",
                i / 5
            ));
        }
        let folded = fold_identical(&lines, 8, 3, &|p, more, first, last| {
            assert!(repeats_exactly(&lines, p, first, last));
            format!("({p} x {more})")
        });
        assert_eq!(
            folded,
            [
                "evs = epoll_wait(ep, 10, 0) = 1 [EPOLLIN:0]",
                "(1 x 4)",
                "evs = epoll_wait(ep, 10, 0) = 1 [EPOLLIN:0]",
                "evs = epoll_wait(ep, 10, 0) = 1 [EPOLLIN:1]",
            ]
        );
        // By shape the six lines are one stretch, and the summary can tell it hid values.
        let folded = fold(&lines, 8, 3, &|p, more, first, last| {
            assert!(!repeats_exactly(&lines, p, first, last));
            format!("({p} x {more})")
        });
        assert_eq!(folded.len(), 3);
    }

    #[test]
    fn short_repeats_stay() {
        let lines: Vec<String> = ["a1", "a2", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(fold(&lines, 4, 3, &|_, _, _, _| "x".into()), lines);
    }
}
