//! Fork-join over the threads that share this module's memory.
//!
//! The threaded build (`+atomics`, shared memory) is instantiated once per
//! thread: on the calling thread, and in each helper Worker, all on one
//! `WebAssembly.Memory`. Statics live in that memory, so this file's atomics
//! are shared by every instance. A helper calls [`worker_loop`] once and never
//! returns; the calling thread hands out work with [`par_for`].
//!
//! Protocol of one job (tasks `0..n`):
//! 1. the caller first sets `CLAIM = gen << 32` (closing the previous job to
//!    late helpers), then writes the job (closure pointer, trampoline, task
//!    count) and bumps `GEN` (waking sleeping helpers);
//! 2. every thread, the caller included, claims task indices by CAS on `CLAIM`
//!    whose high half must still be the generation it read the job for. A
//!    helper still working for the previous generation finds `CLAIM` retagged
//!    before any field of the new job is written, so it can neither claim with
//!    a stale generation nor run the new closure under the old one (which,
//!    were the job fields written first, it could when the new job has more
//!    tasks than the old);
//! 3. the caller returns once `DONE == n`. It never waits on a helper that has
//!    not started: unclaimed tasks are the caller's own.
//!
//! Helpers spin [`SPIN`] polls after a job before sleeping in
//! `memory.atomic.wait32`: long enough to stay awake between the steps of a
//! streaming loop and the GEMMs of one layer call (gaps of a few to ~10 µs;
//! a futex wake costs tens of µs), short enough to sleep between calls that
//! are far apart.
//!
//! Nested calls (a task that itself calls `par_for`) run serially in place: the
//! `ACTIVE` flag admits one job at a time.
//!
//! Every parallel kernel splits its output (columns or rows) so that each
//! element is computed by exactly the same instructions as in a serial run:
//! results are bit-identical for any thread count (tested).
//!
//! On hosts other than wasm (native tests) helpers are `std::thread`s that
//! poll with short sleeps instead of futex waits.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Whether this build can have helper threads (the threaded wasm build, or a
/// native host). Where it cannot, [`parts`] is the constant 1 and every
/// parallel branch compiles away (the single-threaded builds stay as small).
const ENABLED: bool = cfg!(any(target_feature = "atomics", not(target_arch = "wasm32")));

/// One cache line (64 bytes on the x86 and Arm cores wasm runs on): the
/// fields a helper polls, the ones the caller writes to publish a job, the
/// claim word and the completion count each get their own, so a helper's
/// polling does not pull lines the caller is writing (false sharing).
#[repr(align(64))]
struct Line<T>(T);

/// Threads taking part in a job (the caller + helpers); 1 = serial.
static THREADS: Line<AtomicUsize> = Line(AtomicUsize::new(1));
/// Helpers that have entered [`worker_loop`].
static READY: AtomicUsize = AtomicUsize::new(0);
static ACTIVE: AtomicBool = AtomicBool::new(false);
static SLEEPING: AtomicU32 = AtomicU32::new(0);
/// What helpers poll: the job generation.
static GEN: Line<AtomicU32> = Line(AtomicU32::new(0));
/// The job: closure, trampoline, task count (written before `GEN` moves).
static JOB: Line<[AtomicUsize; 3]> = Line([AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)]);
/// `generation << 32 | next unclaimed task`
static CLAIM: Line<AtomicU64> = Line(AtomicU64::new(0));
/// Tasks finished in this job; and tasks helpers have run since start
/// (evidence for tests that work was shared).
static DONE: Line<AtomicU32> = Line(AtomicU32::new(0));
static HELPED: Line<AtomicUsize> = Line(AtomicUsize::new(0));

/// Polls of `GEN` before a helper sleeps: ~0.3 ms in V8, so helpers stay
/// awake between the steps of a streaming loop (W1 with 2 threads: 24–26 µs
/// per step, against 31–35 with 2¹⁵ polls, which let them sleep).
const SPIN: u32 = 1 << 20;

/// Work below this many multiply-adds runs on the calling thread alone: a
/// fork-join costs about 1–2 µs (two cache-line round trips plus the claim),
/// the time of ~20–40 k multiply-adds.
pub const MIN_PARALLEL_MACS: usize = 1 << 16;

/// Threads a job may use now.
#[inline]
pub fn threads() -> usize {
    THREADS.0.load(SeqCst)
}

/// Use up to `n` threads (the caller + ready helpers); returns the number set.
pub fn set_threads(n: usize) -> usize {
    let n = n.clamp(1, 1 + READY.load(SeqCst));
    THREADS.0.store(n, SeqCst);
    n
}

/// Helpers that have entered [`worker_loop`].
pub fn ready() -> usize {
    READY.load(SeqCst)
}

/// Parts to split `units` of work into (`units` of about `macs_per_unit`
/// multiply-adds each): 1 when the job is too small to be worth a fork.
#[inline]
pub fn parts(units: usize, macs_per_unit: usize) -> usize {
    if !ENABLED {
        return 1;
    }
    let t = threads();
    if t <= 1 || units < 2 || units.saturating_mul(macs_per_unit) < MIN_PARALLEL_MACS {
        1
    } else {
        t.min(units)
    }
}

/// `[start, end)` of part `p` of `n` over `units`, in multiples of `align`
/// units (the last part takes the remainder).
#[inline]
pub fn span(units: usize, n: usize, p: usize, align: usize) -> (usize, usize) {
    let blocks = units.div_ceil(align);
    let b0 = blocks * p / n;
    let b1 = blocks * (p + 1) / n;
    ((b0 * align).min(units), (b1 * align).min(units))
}

/// `f(start, end)` over `0..units` (each unit about `cost_per_unit`
/// multiply-adds): once with the whole range when the work is too small to
/// fork, else in contiguous ranges split at multiples of `align` and spread
/// over the pool.
///
/// # Safety
/// `f` may run on several threads at once: calls for disjoint ranges must
/// touch disjoint memory. `f` need not be `Sync` — kernels capture raw
/// pointers — which is why this is unsafe.
pub unsafe fn par_ranges<F: Fn(usize, usize)>(units: usize, cost_per_unit: usize, align: usize, f: F) {
    struct Shared<F>(F);
    // Safety: the caller promises calls for disjoint ranges do not conflict.
    unsafe impl<F> Sync for Shared<F> {}
    impl<F: Fn(usize, usize)> Shared<F> {
        fn call(&self, a: usize, b: usize) {
            (self.0)(a, b)
        }
    }
    // never more parts than blocks of `align` units: a part with no block
    // would fork for nothing (and run the others' nested jobs serially)
    let n = parts(units, cost_per_unit).min(units.div_ceil(align));
    if n <= 1 {
        if units > 0 {
            f(0, units);
        }
        return;
    }
    let g = Shared(f);
    par_for(n, |t| {
        let (a, b) = span(units, n, t, align);
        if a < b {
            g.call(a, b);
        }
    });
}

/// `f(r)` for every row `r < rows` (independent rows, each costing about
/// `cost_per_row` multiply-adds), spread over the pool as [`par_ranges`].
///
/// # Safety
/// As [`par_ranges`]: calls for different rows must touch disjoint memory
/// (what the per-sample gate epilogues do).
pub unsafe fn par_rows<F: Fn(usize)>(rows: usize, cost_per_row: usize, f: F) {
    par_ranges(rows, cost_per_row, 1, |a, b| (a..b).for_each(&f));
}

unsafe fn trampoline<F: Fn(usize) + Sync>(data: usize, i: usize) {
    (*(data as *const F))(i)
}

/// Run `f(0) … f(tasks − 1)`, spread over the pool; returns when all are done.
/// Serial (in order, on this thread) when the pool has one thread, when
/// `tasks ≤ 1`, or inside another job.
pub fn par_for<F: Fn(usize) + Sync>(tasks: usize, f: F) {
    if !ENABLED || tasks <= 1 || threads() <= 1 || ACTIVE.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
        (0..tasks).for_each(&f);
        return;
    }
    let gen = GEN.0.load(SeqCst).wrapping_add(1);
    // retag first: see the protocol in the module comment
    CLAIM.0.store((gen as u64) << 32, SeqCst);
    JOB.0[0].store(&f as *const F as usize, SeqCst);
    JOB.0[1].store(trampoline::<F> as *const () as usize, SeqCst);
    JOB.0[2].store(tasks, SeqCst);
    DONE.0.store(0, SeqCst);
    GEN.0.store(gen, SeqCst);
    if SLEEPING.load(SeqCst) > 0 {
        notify(&GEN.0);
    }
    run_claims(gen, false);
    while DONE.0.load(SeqCst) < tasks as u32 {
        core::hint::spin_loop();
    }
    ACTIVE.store(false, SeqCst);
}

/// Claim and run tasks of job `gen` until none are left (or the job is over).
fn run_claims(gen: u32, helper: bool) {
    let data = JOB.0[0].load(SeqCst);
    let call = JOB.0[1].load(SeqCst);
    let tasks = JOB.0[2].load(SeqCst) as u32;
    loop {
        let c = CLAIM.0.load(SeqCst);
        if (c >> 32) as u32 != gen || (c as u32) >= tasks {
            return;
        }
        if CLAIM.0.compare_exchange(c, c + 1, SeqCst, SeqCst).is_ok() {
            // Safety: a successful claim of job `gen` means that job is not
            // done (the caller is still inside `par_for`) and `CLAIM` was not
            // retagged since, so no later job's fields had been written when
            // `data`/`call` were read after seeing `gen`: they are this job's.
            unsafe {
                let f: unsafe fn(usize, usize) = core::mem::transmute::<usize, unsafe fn(usize, usize)>(call);
                f(data, c as u32 as usize);
            }
            if helper {
                HELPED.0.fetch_add(1, SeqCst);
            }
            DONE.0.fetch_add(1, SeqCst);
        }
    }
}

/// A helper thread's life: wait for jobs and help with them, forever (a
/// helper ends with its Worker).
pub fn worker_loop() {
    let mut seen = GEN.0.load(SeqCst);
    READY.fetch_add(1, SeqCst);
    loop {
        let mut polls = 0u32;
        loop {
            let g = GEN.0.load(SeqCst);
            if g != seen {
                seen = g;
                break;
            }
            polls += 1;
            if polls < SPIN {
                core::hint::spin_loop();
            } else {
                SLEEPING.fetch_add(1, SeqCst);
                wait(&GEN.0, seen);
                SLEEPING.fetch_sub(1, SeqCst);
            }
        }
        run_claims(seen, true);
    }
}

/// Tasks helpers have run since the module started.
pub fn helped() -> usize {
    HELPED.0.load(SeqCst)
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
fn wait(a: &AtomicU32, expected: u32) {
    // Safety: `a` is a valid, aligned u32 in shared linear memory.
    unsafe {
        core::arch::wasm32::memory_atomic_wait32(a.as_ptr() as *mut i32, expected as i32, -1);
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
fn notify(a: &AtomicU32) {
    // Safety: as in `wait`.
    unsafe {
        core::arch::wasm32::memory_atomic_notify(a.as_ptr() as *mut i32, u32::MAX);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn wait(a: &AtomicU32, expected: u32) {
    while a.load(SeqCst) == expected {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn notify(_: &AtomicU32) {}

// Single-threaded wasm builds: no helper ever exists, nothing waits.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
fn wait(_: &AtomicU32, _: u32) {}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
fn notify(_: &AtomicU32) {}

/// Native only (tests): start `n − 1` helper `std::thread`s once and use `n` threads.
#[cfg(not(target_arch = "wasm32"))]
pub fn start_native(n: usize) -> usize {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        for _ in 1..n {
            std::thread::spawn(worker_loop);
        }
        while READY.load(SeqCst) < n - 1 {
            std::thread::yield_now();
        }
    });
    set_threads(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    #[cfg(not(target_arch = "wasm32"))] // native helper threads
    fn par_for_runs_each_task_once_and_nests_serially() {
        use std::sync::atomic::AtomicU64 as A;
        start_native(3);
        for tasks in [0usize, 1, 2, 3, 7, 64] {
            let hits: Vec<A> = (0..tasks).map(|_| A::new(0)).collect();
            par_for(tasks, |i| {
                hits[i].fetch_add(1, SeqCst);
                // a nested job runs in place
                let inner = A::new(0);
                par_for(4, |_| {
                    inner.fetch_add(1, SeqCst);
                });
                assert_eq!(inner.load(SeqCst), 4);
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "tasks {tasks}");
        }
    }

    #[test]
    fn spans_cover_units_in_aligned_blocks() {
        for units in [1usize, 5, 24, 100, 128, 1000] {
            for n in 1..5 {
                let mut next = 0;
                for p in 0..n {
                    let (a, b) = span(units, n, p, 3);
                    assert_eq!(a, next);
                    assert!(a % 3 == 0 || a == units);
                    next = b;
                }
                assert_eq!(next, units);
            }
        }
    }
}
