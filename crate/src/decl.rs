//! Declarations of what crosses the ABI as numbers: each macro declares the
//! Rust item the core decodes and, beside it, the table of names and values
//! `contract.rs` writes the TypeScript constants from.

/// A `#[repr(u32)]` enum whose values cross the ABI, with `from_u32` and
/// `VARIANTS` (every value and its name, in declaration order).
macro_rules! codes {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $n:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(u32)]
        pub enum $name {
            $($(#[$vm])* $v = $n,)*
        }

        impl $name {
            /// Every value with its name, in declaration order.
            pub const VARIANTS: &'static [(&'static str, $name)] = &[$((stringify!($v), $name::$v),)*];

            pub fn from_u32(v: u32) -> Option<Self> {
                match v {
                    $($n => Some($name::$v),)*
                    _ => None,
                }
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v as u32
            }
        }
    };
}
pub(crate) use codes;

/// Named constants of one type, with `TABLE` (name, value) for the contract.
macro_rules! named_consts {
    ($(#[$m:meta])* pub $table:ident: $t:ty { $($(#[$cm:meta])* $c:ident = $v:expr,)* }) => {
        $($(#[$cm])* pub const $c: $t = $v;)*
        $(#[$m])*
        pub const $table: &[(&str, $t)] = &[$((stringify!($c), $c),)*];
    };
}
pub(crate) use named_consts;

/// A fixed run of named words (`u32` or `f32`) passed through memory, as a
/// struct: `read` takes the words in field order, `FIELDS` names them.
macro_rules! words {
    ($(#[$m:meta])* pub struct $name:ident: [$t:ty] { $($(#[$fm:meta])* $f:ident,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            /// The fields' names, in word order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($f),)*];
            /// Words of the layout.
            pub const LEN: usize = Self::FIELDS.len();

            /// From `LEN` words in field order.
            #[inline(always)]
            pub fn read(w: &[$t; Self::LEN]) -> Self {
                let mut k = 0;
                $name {
                    $($f: {
                        k += 1;
                        w[k - 1]
                    },)*
                }
            }

            /// The words in field order.
            pub fn to_words(&self) -> [$t; Self::LEN] {
                [$(self.$f,)*]
            }
        }
    };
}
pub(crate) use words;
