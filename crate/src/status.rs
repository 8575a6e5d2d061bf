//! What every kernel call returns: a status code instead of a trap. The
//! façade turns a non-zero one into a `KernelError` with [`Status::message`]
//! (a bug to report: it checks every argument first, with better messages).

use crate::decl::codes;

codes! {
    /// A kernel call's outcome.
    pub enum Status {
        Ok = 0,
        /// An unknown cell, activation, loss, optimizer or op code, or a zero dimension.
        BadKind = 1,
        /// A size computation overflowed.
        Overflow = 2,
        /// A region lies (partly) outside linear memory.
        OutOfBounds = 3,
        /// A written region overlaps another region of the call.
        Overlap = 4,
        /// A length, id or class index is out of its range.
        OutOfRange = 5,
        /// A required region is missing (null).
        Missing = 6,
        /// A region is not aligned for its element type.
        Misaligned = 7,
        /// A geometry (convolution, pooling, attention) is inconsistent.
        BadShape = 8,
    }
}

impl Status {
    /// What went wrong, for the `KernelError` message.
    pub fn message(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadKind => "invalid cell kind or dimensions",
            Status::Overflow => "a size computation overflowed",
            Status::OutOfBounds => "a region lies outside wasm memory",
            Status::Overlap => "an output region overlaps another region",
            Status::OutOfRange => "a sequence length is outside [0, T]",
            Status::Missing => "a required region is missing",
            Status::Misaligned => "a region is not 4-byte aligned",
            Status::BadShape => "an inconsistent convolution, pooling or attention geometry",
        }
    }
}

/// The code an export returns for a check's result.
pub fn code(r: Result<(), Status>) -> i32 {
    match r {
        Ok(()) => Status::Ok as i32,
        Err(e) => e as i32,
    }
}
