//! Requests per operation, counted for every backend: what cloud storage charges for, and
//! what tests and benchmarks read to check that an operation costs what it should.

use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of request a repo makes. A listing counts one request per page of up to
/// 1,000 keys (what S3, GCS and Azure return per call); a bulk delete one per batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Get,
    Put,
    Head,
    List,
    Delete,
}

pub const OPS: [Op; 5] = [Op::Get, Op::Put, Op::Head, Op::List, Op::Delete];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Head => "head",
            Op::List => "list",
            Op::Delete => "delete",
        }
    }
}

/// Shared by every clone of a repo's storage (metadata and chunks alike).
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: [AtomicU64; 5],
}

impl RequestStats {
    pub fn count(&self, op: Op, n: u64) {
        self.counts[op as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self, op: Op) -> u64 {
        self.counts[op as usize].load(Ordering::Relaxed)
    }

    /// `(name, count)` for every kind of request.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        OPS.iter().map(|op| (op.name(), self.get(*op))).collect()
    }

    pub fn reset(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Requests a listing of `keys` keys took: one per page, at least one.
pub fn list_pages(keys: usize) -> u64 {
    (keys as u64).div_ceil(1000).max(1)
}
