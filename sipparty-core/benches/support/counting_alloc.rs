//! The counting global allocator every benchmark shares: heap allocations
//! per operation (`ALLOCS`) and live heap bytes (`LIVE`, for memory per
//! transaction or dialog). It forwards to the system allocator.
//!
//! Included by each bench with `#[path = "support/counting_alloc.rs"] mod
//! counting_alloc;` (cargo does not build this file as a bench of its own).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Counts calls and bytes, then delegates to [`System`].
pub struct Counting;

/// Heap bytes currently allocated.
#[allow(dead_code)] // not every bench measures memory
pub static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocation and reallocation calls so far.
pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// The bench crates are not `forbid(unsafe_code)`; this only counts and
// forwards, with the caller's contract passed on unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations per call of `op`, over 1,000 calls after one warm-up
/// call.
#[allow(dead_code)] // not every bench counts per operation
pub fn allocs_per_op(mut op: impl FnMut()) -> f64 {
    const N: usize = 1000;
    op();
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..N {
        op();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / N as f64
}
