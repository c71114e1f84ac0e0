//! Peak memory of the agent's process tree: every child of this process and their
//! children, sampled with `ps` (the same on Linux and macOS) a few times a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Samples until stopped; `stop` returns the peak in KiB.
pub(super) struct PeakSampler {
    peak: Arc<AtomicU64>,
    handle: tokio::task::JoinHandle<()>,
}

impl PeakSampler {
    pub(super) fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let p = peak.clone();
        let handle = tokio::spawn(async move {
            loop {
                if let Some(kib) = descendants_rss_kib(std::process::id()).await {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { peak, handle }
    }

    pub(super) async fn stop(self) -> u64 {
        self.handle.abort();
        let _ = self.handle.await;
        self.peak.load(Ordering::Relaxed)
    }
}

/// The summed resident memory of every descendant of `root`, in KiB.
async fn descendants_rss_kib(root: u32) -> Option<u64> {
    let out = tokio::process::Command::new("ps")
        .args(["-A", "-o", "pid=,ppid=,rss="])
        .output()
        .await
        .ok()?;
    Some(sum_descendants(&String::from_utf8_lossy(&out.stdout), root))
}

/// From `ps -o pid=,ppid=,rss=` lines: the RSS of `root`'s descendants (not `root`, and not
/// the `ps` that printed them, which is a child too but gone by now).
pub(super) fn sum_descendants(table: &str, root: u32) -> u64 {
    let rows: Vec<(u32, u32, u64)> = table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
            ))
        })
        .collect();
    let mut children: HashMap<u32, Vec<(u32, u64)>> = HashMap::new();
    for (pid, ppid, rss) in &rows {
        children.entry(*ppid).or_default().push((*pid, *rss));
    }
    let mut total = 0;
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for (child, rss) in children.get(&p).into_iter().flatten() {
            total += rss;
            stack.push(*child);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_whole_tree_below_the_root() {
        let table = "  1  0 100\n 10  1 5\n 20 10 1000\n 21 20 500\n 30  1 7\n 40 99 9999\n";
        assert_eq!(sum_descendants(table, 10), 1500);
        assert_eq!(sum_descendants(table, 1), 1512);
        assert_eq!(sum_descendants(table, 40), 0);
    }
}
