//! Training on rows read from disk as it goes: the order an epoch visits its rows in (a full
//! seeded permutation where the rows are in memory; a shuffle window over blocks of rows where
//! they are read from a source, so that reads stay sequential), and a reader thread that
//! prepares the next batches while the backend computes (a bounded queue).

use super::batches::Rows;
use crate::{Matrix, Result, Rng};
use std::collections::VecDeque;
use std::sync::mpsc;

/// Rows read from the source in one piece when a data set streams (a block).
pub const BLOCK_ROWS: usize = 256;
/// Bytes of rows one shuffle window holds (rounded up to whole blocks, at least one batch).
pub const WINDOW_BYTES: usize = 64 << 20;
/// Batches the reader thread prepares ahead of the step that uses them.
pub const PREFETCH_BATCHES: usize = 2;

/// Shuffling over a window of blocks: an epoch visits the blocks of [`BLOCK_ROWS`] rows in a
/// seeded order, and the rows of each run of `blocks` consecutive blocks in that order (a
/// window) in a seeded order of their own. Every row is visited once per epoch, and a window is
/// read as `blocks` sequential reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Blocks per window.
    pub blocks: usize,
}

impl Window {
    /// The window for rows of `cols` f32 values and batches of `batch` rows: [`WINDOW_BYTES`]
    /// of rows, at least one batch, in whole blocks.
    pub fn new(cols: usize, batch: usize) -> Self {
        let rows = (WINDOW_BYTES / (4 * cols.max(1))).max(batch).max(1);
        Window {
            blocks: rows.div_ceil(BLOCK_ROWS),
        }
    }

    /// Rows in a window.
    pub fn rows(&self) -> usize {
        self.blocks * BLOCK_ROWS
    }

    /// Rows the streaming reader holds at most with batches of `batch` rows: the windows a batch
    /// spans plus one, and the batches queued and being assembled.
    pub fn held_rows(&self, batch: usize) -> usize {
        (batch.div_ceil(self.rows()) + 2) * self.rows() + (PREFETCH_BATCHES + 2) * batch
    }
}

/// The order an epoch visits rows `0..n` in.
#[derive(Clone, Debug)]
pub struct EpochOrder {
    /// Row numbers, each of `0..n` once.
    pub rows: Vec<u32>,
    /// With a window: the blocks in the order visited.
    blocks: Option<(Window, Vec<u32>)>,
}

impl EpochOrder {
    /// `0..n` in order, to be shuffled by [`EpochOrder::shuffle`]; `window` picks windowed
    /// shuffling, `None` a full permutation.
    pub fn new(n: usize, window: Option<Window>) -> Self {
        EpochOrder {
            rows: (0..n as u32).collect(),
            blocks: window.map(|w| (w, (0..n.div_ceil(BLOCK_ROWS) as u32).collect())),
        }
    }

    /// The next epoch's order. Without a window the previous order is shuffled again (the
    /// trainer's permutation since the first release); with one, the blocks are shuffled and
    /// then the rows within each window.
    pub fn shuffle(&mut self, rng: &mut Rng) {
        let n = self.rows.len();
        match &mut self.blocks {
            None => rng.shuffle(&mut self.rows),
            Some((window, blocks)) => {
                rng.shuffle(blocks);
                self.rows.clear();
                for group in blocks.chunks(window.blocks) {
                    let from = self.rows.len();
                    for &b in group {
                        let start = b as usize * BLOCK_ROWS;
                        self.rows
                            .extend(start as u32..(start + BLOCK_ROWS).min(n) as u32);
                    }
                    rng.shuffle(&mut self.rows[from..]);
                }
            }
        }
    }

    /// The window of each block (`[blocks]`), and each window's blocks in the order they are
    /// read (ascending), where the order is windowed.
    fn windows(&self) -> Option<(Vec<usize>, Vec<Vec<u32>>)> {
        let (window, blocks) = self.blocks.as_ref()?;
        let mut window_of = vec![0; blocks.len()];
        let mut groups = Vec::with_capacity(blocks.len().div_ceil(window.blocks));
        for (w, group) in blocks.chunks(window.blocks).enumerate() {
            let mut sorted = group.to_vec();
            sorted.sort_unstable();
            for &b in &sorted {
                window_of[b as usize] = w;
            }
            groups.push(sorted);
        }
        Some((window_of, groups))
    }
}

/// Rows of one window in memory: its blocks' rows, normalised, and where each block starts.
struct LoadedWindow {
    index: usize,
    rows: Matrix,
    /// `(block, first row of it in `rows`)`, ascending by block.
    starts: Vec<(u32, usize)>,
}

impl LoadedWindow {
    fn read(data: &Rows<'_>, index: usize, blocks: &[u32]) -> Result<Self> {
        let n = data.len();
        let mut ids = Vec::with_capacity(blocks.len() * BLOCK_ROWS);
        let mut starts = Vec::with_capacity(blocks.len());
        for &b in blocks {
            starts.push((b, ids.len()));
            let start = b as usize * BLOCK_ROWS;
            ids.extend(start as u32..(start + BLOCK_ROWS).min(n) as u32);
        }
        Ok(LoadedWindow {
            index,
            rows: data.gather(&ids)?,
            starts,
        })
    }

    /// Row `row` of the data set, which must lie in this window.
    fn row(&self, row: u32) -> &[f32] {
        let block = row / BLOCK_ROWS as u32;
        let at = self.starts.partition_point(|&(b, _)| b < block);
        let (_, first) = self.starts[at];
        let i = first + (row as usize - block as usize * BLOCK_ROWS);
        &self.rows.data[i * self.rows.cols..(i + 1) * self.rows.cols]
    }
}

/// Every batch of `order` cut into `batch` rows (the first `max_batches` of them), as
/// [`Rows::gather`] would give them, sent into `tx` in order; stops at the first error (sent) or
/// when the receiver is gone. A windowed order is read a window at a time.
pub fn read_batches(
    data: Rows<'_>,
    order: &EpochOrder,
    batch: usize,
    max_batches: usize,
    tx: mpsc::SyncSender<Result<Matrix>>,
) {
    let windows = order.windows();
    let mut loaded: VecDeque<LoadedWindow> = VecDeque::new();
    let mut next_window = 0;
    for rows in order.rows.chunks(batch.max(1)).take(max_batches) {
        let made = match &windows {
            None => data.gather(rows),
            Some((window_of, groups)) => (|| {
                let first = window_of[rows[0] as usize / BLOCK_ROWS];
                while loaded.front().is_some_and(|w| w.index < first) {
                    loaded.pop_front();
                }
                let cols = data.cols();
                let mut out = Vec::with_capacity(rows.len() * cols);
                for &r in rows {
                    let w = window_of[r as usize / BLOCK_ROWS];
                    while next_window <= w {
                        loaded.push_back(LoadedWindow::read(
                            &data,
                            next_window,
                            &groups[next_window],
                        )?);
                        next_window += 1;
                    }
                    let at = w - loaded.front().map_or(0, |l| l.index);
                    out.extend_from_slice(loaded[at].row(r));
                }
                Matrix::new(rows.len(), cols, out)
            })(),
        };
        let failed = made.is_err();
        if tx.send(made).is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windowed_epoch_visits_every_row_once_and_mixes_blocks() {
        let n = 10 * BLOCK_ROWS + 37;
        let window = Window { blocks: 3 };
        let mut order = EpochOrder::new(n, Some(window));
        let mut rng = Rng::new(5);
        let mut previous = Vec::new();
        for _ in 0..3 {
            order.shuffle(&mut rng);
            let mut seen = order.rows.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..n as u32).collect::<Vec<_>>());
            assert_ne!(order.rows, previous, "each epoch has its own order");
            // The first window's rows are those of the first 3 blocks visited, interleaved.
            let visited = &order.blocks.as_ref().unwrap().1[..3];
            let size = |b: u32| (n - b as usize * BLOCK_ROWS).min(BLOCK_ROWS);
            let len: usize = visited.iter().map(|&b| size(b)).sum();
            let block_of: Vec<u32> = order.rows[..len]
                .iter()
                .map(|&r| r / BLOCK_ROWS as u32)
                .collect();
            assert!(block_of.iter().all(|b| visited.contains(b)));
            let head = &block_of[..len / 3];
            assert!(head.iter().any(|&b| b != head[0]), "rows of blocks mixed");
            previous = order.rows.clone();
        }
    }

    #[test]
    fn a_full_order_is_the_permutation_the_trainer_always_made() {
        let mut order = EpochOrder::new(100, None);
        let mut rng = Rng::new(9);
        order.shuffle(&mut rng);
        let mut want: Vec<u32> = (0..100).collect();
        Rng::new(9).shuffle(&mut want);
        assert_eq!(order.rows, want);
    }

    #[test]
    fn the_reader_sends_each_batch_as_a_gather_would_give_it() {
        let n = 5 * BLOCK_ROWS + 11;
        let m = Matrix::new(n, 3, (0..n * 3).map(|i| i as f32).collect()).unwrap();
        let source = crate::data::MatrixSource::borrowed("m", &m);
        // Every other row, as a held-out split leaves them.
        let ids: Vec<u32> = (0..n as u32).step_by(2).collect();
        let data = Rows::Source {
            source: &source,
            rows: &ids,
            stats: None,
        };
        for window in [None, Some(Window { blocks: 1 }), Some(Window { blocks: 2 })] {
            let mut order = EpochOrder::new(data.len(), window);
            order.shuffle(&mut Rng::new(1));
            // Batches larger than a window, and a last short batch.
            let batch = 300;
            let (tx, rx) = mpsc::sync_channel(1);
            std::thread::scope(|s| {
                s.spawn(|| read_batches(data, &order, batch, usize::MAX, tx));
                let mut batches = 0;
                for (got, rows) in rx.iter().zip(order.rows.chunks(batch)) {
                    assert_eq!(got.unwrap(), data.gather(rows).unwrap(), "{window:?}");
                    batches += 1;
                }
                assert_eq!(batches, data.len().div_ceil(batch));
            });
        }
    }

    #[test]
    fn a_window_holds_a_batch_and_the_plan_counts_it() {
        let w = Window::new(768, 4096);
        assert!(w.rows() >= 4096 && w.rows() * 768 * 4 >= WINDOW_BYTES);
        assert_eq!(Window::new(1 << 20, 10).blocks, 1);
        assert!(w.held_rows(4096) >= 3 * w.rows());
    }
}
