//! Stream programs: what a session compiles a model into, and how the core
//! checks and runs one.
//!
//! A program is a list of fixed-size records of `u32` words: word 0 is the
//! op, the rest the fields declared below, in order (pointers are byte
//! offsets of buffers the session allocated once; 0 = absent). [`step`] runs
//! every record once for a batch of rows — one call per time step, no
//! allocation — on the kernels of `stream.rs`. The layout is declared once,
//! here: the façade builds records from the generated field lists
//! (`ts/runtime/contract.ts`), never by position.
//!
//! [`check`] validates a program before it runs: every buffer a record names
//! inside memory with the size its dimensions imply, written buffers disjoint
//! from the record's others, codes known. A program that passed is not
//! re-checked while it and the call's arguments stay the same.

use crate::attention::{self, Attn};
use crate::cells::{self, Cell, GateAct};
use crate::decl::{codes, words};
use crate::dense::Act;
use crate::elementwise::{self, Merge as MergeOp};
use crate::gemm;
use crate::quant;
use crate::region::{check_ids, Check};
use crate::status::Status;
use crate::stream::{packed_cols, packed_len, q8_h_cols, Q8Weights, RecurStep, RecurStepQ8};

/// Words per record, the op code included, so records can be walked without
/// decoding them.
pub const RECORD: usize = 16;

/// Declares the records: the op codes ([`Op`]), one struct per record with
/// its fields in word order (after the op), and [`RECORDS`] for the contract.
macro_rules! records {
    ($($(#[$m:meta])* $name:ident = $op:literal { $($(#[$fm:meta])* $f:ident,)* })*) => {
        codes! {
            /// A record's op code (word 0).
            pub enum Op {
                $($name = $op,)*
            }
        }
        $(
            words! {
                $(#[$m])*
                pub struct $name: [u32] { $($(#[$fm])* $f,)* }
            }
            const _: () = assert!($name::LEN < RECORD);
            impl $name {
                /// The fields of a record whose op is this one.
                #[inline(always)]
                pub fn of(rec: &[u32; RECORD]) -> Self {
                    Self::read(rec[1..1 + Self::LEN].try_into().unwrap())
                }
            }
        )*
        /// Each op with its fields' names, in word order.
        pub const RECORDS: &[(Op, &[&str])] = &[$((Op::$name, $name::FIELDS),)*];
    };
}

records! {
    /// `out [B, E] = table[ids]`: an embedding lookup.
    Embed = 1 {
        /// `[B]` i32 ids in `[0, V)`
        ids,
        /// `[V, E]`
        table,
        v,
        e,
        out,
    }
    /// `out [B, O] = act(inp·Wᵀ + bias)`.
    Dense = 2 {
        /// `[B, I]`
        inp,
        /// `[O, I]`
        w,
        /// `[O]` or 0
        bias,
        i,
        o,
        /// `dense::Act`
        act,
        out,
    }
    /// One recurrent step on f32 weights (`stream::RecurStep`).
    Recur = 3 {
        /// `cells::Cell`
        cell,
        /// `cells::GateAct`
        gate,
        /// `[B, I]`
        inp,
        i,
        h,
        /// `stream::pack` output
        packed,
        /// `[G·H]`
        b_ih,
        /// `[G·H]`
        b_hh,
        /// `[B, H]`, updated
        state_h,
        /// `[B, H]` (LSTM), updated
        state_c,
        /// scratch `[B, I + H]`
        xh,
        /// scratch `[B, packed_cols]`
        z,
        /// `[B, H]`
        out,
    }
    /// Layer normalisation over the last axis.
    LNorm = 4 {
        /// `[B, N]`
        inp,
        /// `[N]`
        gamma,
        /// `[N]`
        beta,
        n,
        /// ε as f32 bits
        eps,
        /// scratch `[B, 2]`
        stats,
        out,
    }
    /// One recurrent step on int8 weights (`stream::RecurStepQ8`); the same
    /// words as [`Recur`] but `desc` and `rh`.
    RecurQ8 = 5 {
        cell,
        gate,
        inp,
        i,
        h,
        /// the [`Q8Desc`] words of this direction's weights
        desc,
        b_ih,
        b_hh,
        state_h,
        state_c,
        /// scratch `[B, H]` for `r ⊙ h`
        rh,
        z,
        out,
        /// scratch `[B, G·H]`: the `h` product
        zh,
        /// scratch of `quant::act_scratch_len(B, max(I, H))` bytes
        a16,
    }
    /// A dense layer on int8 weights.
    DenseQ8 = 6 {
        inp,
        /// `quant::pack` output of `W [O, I]`
        qw,
        /// `[O]` per-row scales
        sw,
        bias,
        i,
        o,
        act,
        out,
        /// scratch of `quant::act_scratch_len(B, I)` bytes
        a16,
    }
    /// One attention step (`attention::forward`): the [`Attn`] words at
    /// `call`, whose `batch` is the program's rows — the queries of this step
    /// against keys and values that stay put between steps (an encoder's).
    Attend = 7 {
        call,
    }
    /// `dst[r, 0..len] = src[r, 0..len]` for every row: one part of a concatenation.
    Rows = 8 {
        len,
        src,
        /// floats from one row of `src` to the next
        src_stride,
        dst,
        dst_stride,
    }
    /// `out [B, n]` an element-wise merge (`elementwise::Merge` `op`) of `k` (2 to 4) inputs `x0…`.
    Merge = 9 {
        op,
        k,
        n,
        x0,
        x1,
        x2,
        x3,
        out,
    }
}

words! {
    /// An int8 recurrent layer's weights (one direction): packed `W_ih`
    /// (`G·H` columns), packed `W_hh` (`G·H`, or `2H` — `r`, `z` — for the
    /// reset-before GRU) and, for the reset-before GRU only, packed `W_hn`
    /// (`H`), each with its per-row scales.
    pub struct Q8Desc: [u32] {
        qx,
        sx,
        qh,
        sh,
        qn,
        sn,
    }
}

#[inline(always)]
fn ptr(w: u32) -> *mut f32 {
    w as usize as *mut f32
}

fn recur_step(r: &Recur) -> RecurStep {
    RecurStep {
        cell: Cell::from_u32(r.cell).unwrap_or(Cell::RnnTanh),
        gate: GateAct::from_u32(r.gate).unwrap_or(GateAct::Sigmoid),
        inp: ptr(r.inp),
        i: r.i as usize,
        h: r.h as usize,
        packed: ptr(r.packed),
        b_ih: ptr(r.b_ih),
        b_hh: ptr(r.b_hh),
        hs: ptr(r.state_h),
        cs: ptr(r.state_c),
        xh: ptr(r.xh),
        z: ptr(r.z),
        out: ptr(r.out),
    }
}

impl RecurQ8 {
    /// The words an f32 recurrent record shares with this one (`rh` in `xh`'s place).
    fn common(&self) -> Recur {
        let RecurQ8 { cell, gate, inp, i, h, b_ih, b_hh, state_h, state_c, rh, z, out, .. } = *self;
        Recur { cell, gate, inp, i, h, packed: 0, b_ih, b_hh, state_h, state_c, xh: rh, z, out }
    }

    /// # Safety
    /// `desc` points at [`Q8Desc::LEN`] words inside memory.
    unsafe fn desc(&self) -> Q8Desc {
        Q8Desc::read(&*(self.desc as usize as *const [u32; Q8Desc::LEN]))
    }
}

/// # Safety
/// `r.desc` points at the descriptor's words inside memory.
unsafe fn recur_step_q8(r: &RecurQ8) -> RecurStepQ8 {
    let d = r.desc();
    RecurStepQ8 {
        st: recur_step(&r.common()),
        w: Q8Weights {
            qx: d.qx as usize as *const i8,
            sx: ptr(d.sx),
            qh: d.qh as usize as *const i8,
            sh: ptr(d.sh),
            qn: d.qn as usize as *const i8,
            sn: ptr(d.sn),
        },
        zh: ptr(r.zh),
        a16: r.a16 as usize as *mut i16,
    }
}

/// The attention words an `Attend` record points at.
///
/// # Safety
/// `r.call` points at [`Attn::LEN`] words inside memory (checked).
unsafe fn attend_words(r: &Attend) -> Attn {
    Attn::read(&*(r.call as usize as *const [u32; Attn::LEN]))
}

/// The program's records.
fn records(program: &[u32]) -> impl Iterator<Item = &[u32; RECORD]> {
    program.chunks_exact(RECORD).map(|c| c.try_into().unwrap())
}

/// Run one step of the program for a batch of `b` rows.
///
/// # Safety
/// The program passed [`check`] for at least `b` rows; `apack` holds
/// `gemm::packed_a_len(b, I + H)` floats for every f32 recurrent record.
#[inline(never)] // called from stream_step and stream_run: one copy
pub unsafe fn step(program: &[u32], b: usize, apack: *mut f32) {
    for rec in records(program) {
        match Op::from_u32(rec[0]) {
            Some(Op::Embed) => {
                let r = Embed::of(rec);
                crate::embedding::forward(b, r.e as usize, r.ids as usize as *const i32, ptr(r.table), ptr(r.out));
            }
            Some(Op::Dense) => {
                let r = Dense::of(rec);
                let act = Act::from_u32(r.act).unwrap_or(Act::Linear);
                crate::dense::forward(b, r.i as usize, r.o as usize, ptr(r.inp), ptr(r.w), ptr(r.bias), ptr(r.out), act);
            }
            Some(Op::Recur) => recur_step(&Recur::of(rec)).run(b, apack),
            Some(Op::RecurQ8) => recur_step_q8(&RecurQ8::of(rec)).run(b),
            Some(Op::DenseQ8) => {
                let r = DenseQ8::of(rec);
                let act = Act::from_u32(r.act).unwrap_or(Act::Linear);
                let (i, o) = (r.i as usize, r.o as usize);
                crate::stream::dense_q8(
                    b,
                    i,
                    o,
                    ptr(r.inp),
                    r.qw as usize as *const i8,
                    ptr(r.sw),
                    ptr(r.bias),
                    ptr(r.out),
                    r.a16 as usize as *mut i16,
                    act,
                );
            }
            Some(Op::LNorm) => {
                let r = LNorm::of(rec);
                let n = r.n as usize;
                crate::layernorm::forward(b, n, ptr(r.inp), ptr(r.gamma), ptr(r.beta), f32::from_bits(r.eps), ptr(r.out), ptr(r.stats));
            }
            Some(Op::Attend) => {
                let a = attend_words(&Attend::of(rec));
                if let Some(g) = attention::Geometry::new(&a) {
                    attention::forward(&g, &attention::pointers(&a, &g));
                }
            }
            Some(Op::Rows) => {
                let r = Rows::of(rec);
                let (len, ss, ds) = (r.len as usize, r.src_stride as usize, r.dst_stride as usize);
                elementwise::copy_rows(b, len, ptr(r.src), ss, 1, ptr(r.dst), ds, 1, false);
            }
            Some(Op::Merge) => {
                let r = Merge::of(rec);
                if let Some(op) = MergeOp::from_u32(r.op) {
                    let xs = [r.x0, r.x1, r.x2, r.x3].map(|x| ptr(x) as *const f32);
                    elementwise::merge_forward(op, b * r.n as usize, &xs[..r.k as usize], ptr(r.out));
                }
            }
            None => {}
        }
    }
}

std::thread_local! {
    /// The last program [`check`] passed: its call's arguments, then its
    /// [`program_key`] words.
    static CHECKED: core::cell::RefCell<Vec<usize>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// What a program's checks depend on besides the call's arguments: the record
/// words and the words each int8 or attention record points at (the regions' sizes and
/// places all derive from these, and memory never shrinks, so a program that
/// passed once passes again while they are unchanged). `sink` sees them in
/// order until it returns false.
///
/// # Safety
/// `prog` passed [`check_full`] (each descriptor lies inside memory).
unsafe fn program_key(prog: &[u32], mut sink: impl FnMut(usize) -> bool) -> bool {
    prog.iter().all(|&w| sink(w as usize))
        && records(prog).all(|r| {
            let (at, n) = match Op::from_u32(r[0]) {
                Some(Op::RecurQ8) => (RecurQ8::of(r).desc, Q8Desc::LEN),
                Some(Op::Attend) => (Attend::of(r).call, Attn::LEN),
                _ => return true,
            };
            core::slice::from_raw_parts(at as usize as *const u32, n).iter().all(|&w| sink(w as usize))
        })
}

/// Check the program of `records` records at `program` for a batch of up to
/// `b` rows ([`check_full`]), unless it and the arguments equal the last ones
/// that passed: a session checks its program once, then compares ~40 words
/// per step (the full check was a quarter of a small int8 LSTM's step).
pub fn check(program: usize, records: usize, b: usize, apack: usize, apack_len: usize) -> Result<&'static [u32], Status> {
    let args = [program, records, b, apack, apack_len];
    let hit = CHECKED.with_borrow(|k| {
        if k.get(..args.len()) != Some(&args[..]) {
            return None;
        }
        // the words of a program that passed with these arguments: inside
        // memory, and the descriptors are read only once every word matched
        let prog = unsafe { core::slice::from_raw_parts(program as *const u32, records * RECORD) };
        let mut it = k[args.len()..].iter();
        unsafe { program_key(prog, |w| it.next() == Some(&w)) && it.next().is_none() }.then_some(prog)
    });
    if let Some(prog) = hit {
        return Ok(prog);
    }
    let prog = check_full(program, records, b, apack, apack_len)?;
    CHECKED.with_borrow_mut(|k| {
        k.clear();
        k.extend_from_slice(&args);
        unsafe {
            program_key(prog, |w| {
                k.push(w);
                true
            })
        };
    });
    Ok(prog)
}

/// Every record's buffers inside memory with the sizes its fields imply for
/// `b` rows, written buffers disjoint from the record's others, codes known.
fn check_full(program: usize, records: usize, b: usize, apack: usize, apack_len: usize) -> Result<&'static [u32], Status> {
    let words = cells::mul(records, RECORD).ok_or(Status::Overflow)?;
    let mut ck = Check::new();
    ck.add(program, Some(words), false, true)?;
    ck.add(apack, Some(apack_len), true, true)?;
    let prog = unsafe { core::slice::from_raw_parts(program as *const u32, words) };
    let mul = cells::mul;
    for rec in self::records(prog) {
        let mut c = Check::new();
        let u = |w: u32| w as usize;
        match Op::from_u32(rec[0]).ok_or(Status::BadKind)? {
            Op::Embed => {
                let r = Embed::of(rec);
                c.add(u(r.ids), Some(b), false, true)?;
                c.add(u(r.table), mul(u(r.v), u(r.e)), false, true)?;
                c.add(u(r.out), mul(b, u(r.e)), true, true)?;
            }
            Op::Dense => {
                let r = Dense::of(rec);
                let (i, o) = (u(r.i), u(r.o));
                c.add(u(r.inp), mul(b, i), false, true)?;
                c.add(u(r.w), mul(o, i), false, true)?;
                c.add(u(r.bias), Some(o), false, false)?;
                c.add(u(r.out), mul(b, o), true, true)?;
                Act::from_u32(r.act).ok_or(Status::BadKind)?;
            }
            Op::DenseQ8 => {
                let r = DenseQ8::of(rec);
                let (i, o) = (u(r.i), u(r.o));
                c.add(u(r.inp), mul(b, i), false, true)?;
                c.add_bytes(u(r.qw), quant::packed_len(i, o), 1, false, true)?;
                c.add(u(r.sw), Some(o), false, true)?;
                c.add(u(r.bias), Some(o), false, false)?;
                Act::from_u32(r.act).ok_or(Status::BadKind)?;
                c.add(u(r.out), mul(b, o), true, true)?;
                c.add_bytes(u(r.a16), quant::act_scratch_len(b, i), 4, true, true)?;
            }
            Op::Recur => {
                let r = Recur::of(rec);
                let (cell, i, h) = recur_common(&mut c, b, &r)?;
                c.add(u(r.packed), packed_len(cell, i, h), false, true)?;
                c.add(u(r.xh), mul(b, i + h), true, true)?;
                if gemm::packed_a_len(b, i + h) > apack_len {
                    return Err(Status::OutOfBounds);
                }
            }
            Op::RecurQ8 => {
                let r = RecurQ8::of(rec);
                let (cell, i, h) = recur_common(&mut c, b, &r.common())?;
                let gh = cell.gates() * h;
                c.add(u(r.rh), mul(b, h), true, true)?;
                c.add(u(r.zh), mul(b, gh), true, true)?;
                c.add_bytes(u(r.a16), quant::act_scratch_len(b, i.max(h)), 4, true, true)?;
                // the weights: the descriptor, then what it points at
                c.add(u(r.desc), Some(Q8Desc::LEN), false, true)?;
                let d = unsafe { r.desc() };
                let hc = q8_h_cols(cell, h);
                let reset_before = cell == Cell::GruResetBefore;
                c.add_bytes(u(d.qx), quant::packed_len(i, gh), 1, false, true)?;
                c.add(u(d.sx), Some(gh), false, true)?;
                c.add_bytes(u(d.qh), quant::packed_len(h, hc), 1, false, true)?;
                c.add(u(d.sh), Some(hc), false, true)?;
                c.add_bytes(if reset_before { u(d.qn) } else { 0 }, quant::packed_len(h, h), 1, false, reset_before)?;
                c.add(if reset_before { u(d.sn) } else { 0 }, Some(h), false, reset_before)?;
            }
            Op::LNorm => {
                let r = LNorm::of(rec);
                let n = u(r.n);
                c.add(u(r.inp), mul(b, n), false, true)?;
                c.add(u(r.gamma), Some(n), false, true)?;
                c.add(u(r.beta), Some(n), false, true)?;
                c.add(u(r.stats), mul(b, 2), true, true)?;
                c.add(u(r.out), mul(b, n), true, true)?;
            }
            Op::Attend => {
                let r = Attend::of(rec);
                c.add(u(r.call), Some(Attn::LEN), false, true)?;
                let a = unsafe { attend_words(&r) };
                let (g, _) = attention::checked(&mut c, &a, false)?;
                if g.b != b {
                    return Err(Status::BadShape);
                }
            }
            Op::Rows => {
                let r = Rows::of(rec);
                let (len, ss, ds) = (u(r.len), u(r.src_stride), u(r.dst_stride));
                // rows of the destination must not overlap one another
                if b > 1 && ds < len {
                    return Err(Status::Overlap);
                }
                let extent = |stride: usize| mul(b - 1, stride).and_then(|x| x.checked_add(len));
                c.add(u(r.src), extent(ss), false, true)?;
                c.add(u(r.dst), extent(ds), true, true)?;
            }
            Op::Merge => {
                let r = Merge::of(rec);
                let op = MergeOp::from_u32(r.op).ok_or(Status::BadKind)?;
                let (lo, hi) = op.arity();
                let k = u(r.k);
                if k < lo.max(2) || k > hi.min(4) {
                    return Err(Status::BadKind);
                }
                let n = mul(b, u(r.n));
                for x in &[r.x0, r.x1, r.x2, r.x3][..k] {
                    c.add(u(*x), n, false, true)?;
                }
                c.add(u(r.out), n, true, true)?;
            }
        }
        c.disjoint()?;
    }
    Ok(prog)
}

/// What f32 and int8 recurrent records share: codes known, and the input,
/// biases, states, gate scratch and output added to `c` (`xh` and `packed`,
/// which differ, are the caller's). Returns the cell, `I` and `H`.
fn recur_common(c: &mut Check, b: usize, r: &Recur) -> Result<(Cell, usize, usize), Status> {
    let u = |w: u32| w as usize;
    let cell = Cell::from_u32(r.cell).ok_or(Status::BadKind)?;
    GateAct::from_u32(r.gate).ok_or(Status::BadKind)?;
    let (i, h) = (u(r.i), u(r.h));
    let gh = cell.gates() * h;
    c.add(u(r.inp), cells::mul(b, i), false, true)?;
    c.add(u(r.b_ih), Some(gh), false, true)?;
    c.add(u(r.b_hh), Some(gh), false, true)?;
    c.add(u(r.state_h), cells::mul(b, h), true, true)?;
    c.add(if cell == Cell::Lstm { u(r.state_c) } else { 0 }, cells::mul(b, h), true, false)?;
    c.add(u(r.z), cells::mul(b, packed_cols(cell, h)), true, true)?;
    c.add(u(r.out), cells::mul(b, h), true, true)?;
    Ok((cell, i, h))
}

/// The ids of every embedding record's input, for a batch of `b`.
///
/// # Safety
/// `prog` passed [`check`] for at least `b` rows.
pub unsafe fn check_program_ids(prog: &[u32], b: usize) -> Result<(), Status> {
    for rec in records(prog) {
        if rec[0] == Op::Embed as u32 {
            let r = Embed::of(rec);
            check_ids(r.ids as usize, b, r.v as usize)?;
        }
    }
    Ok(())
}
