//! The core's contract with the TypeScript façade, declared once.
//!
//! Everything JavaScript passes by number — cell, activation, loss and
//! optimizer codes, flag bits, status codes, the words of a stream-program
//! record, the optimizer's hyper-parameter block — is declared with the
//! macros of `decl.rs`, beside the code that decodes it. Each declaration
//! also yields a table of names and values, from which [`typescript`] writes
//! `ts/runtime/contract.ts`; the host test in this file fails when the
//! checked-in file differs (`npm run contract` rewrites it). The façade
//! imports those constants and never spells a code itself.

/// The TypeScript module of every code, flag, status and layout.
#[cfg(not(target_arch = "wasm32"))]
pub fn typescript() -> String {
    use crate::{attention, cells, conv, dense, elementwise, loss, optim, pooling, program, status};
    use core::fmt::Write;
    let mut s = String::new();
    let out = &mut s;
    let _ = writeln!(out, "// Generated from the Rust core (crate/src/contract.rs) by `npm run contract`; do not edit.");
    let _ = writeln!(out, "// `cargo test` fails when this file and the core's declarations disagree.");
    fn codes<T: Copy + Into<u32>>(out: &mut String, doc: &str, name: &str, v: &[(&str, T)]) {
        let _ = writeln!(out, "\n/** {doc} */");
        let body: Vec<String> = v.iter().map(|(n, c)| format!("{n}: {}", (*c).into())).collect();
        let _ = writeln!(out, "export const {name} = {{ {} }} as const;", body.join(", "));
        let _ = writeln!(out, "export type {name} = (typeof {name})[keyof typeof {name}];");
    }
    fn list(out: &mut String, doc: &str, name: &str, v: &[&str]) {
        let _ = writeln!(out, "\n/** {doc} */");
        let body: Vec<String> = v.iter().map(|f| format!("'{f}'")).collect();
        let _ = writeln!(out, "export const {name} = [{}] as const;", body.join(", "));
    }
    codes(out, "`cells::Cell`: which recurrent cell.", "Cell", cells::Cell::VARIANTS);
    let gates: Vec<String> = cells::Cell::VARIANTS.iter().map(|(_, c)| c.gates().to_string()).collect();
    let _ = writeln!(out, "\n/** `Cell::gates`: gate blocks `G` of each cell, indexed by its code. */");
    let _ = writeln!(out, "export const CELL_GATES: readonly number[] = [{}];", gates.join(", "));
    codes(out, "`cells::GateAct`: the gate activation of LSTM i, f, o and GRU r, z.", "GateAct", cells::GateAct::VARIANTS);
    codes(
        out,
        "`cells::flags`: bits of a recurrent call's `flags` word (the gate activation at `GATE_SHIFT`).",
        "CallFlag",
        cells::flags::TABLE,
    );
    codes(out, "`dense::Act`: a dense layer's activation.", "DenseAct", dense::Act::VARIANTS);
    codes(out, "`elementwise::Merge`: an element-wise merge of same-shaped tensors.", "Merge", elementwise::Merge::VARIANTS);
    codes(out, "`attention::Score`: how attention scores queries against keys.", "AttnScore", attention::Score::VARIANTS);
    codes(out, "`attention::FLAGS`: bits of an attention call's `flags` word.", "AttnFlag", attention::FLAGS);
    list(out, "`attention::Attn`: an attention call's u32 words, in order.", "ATTN_FIELDS", attention::Attn::FIELDS);
    list(
        out,
        "`attention::AttnGrads`: an attention backward's gradient words, in order.",
        "ATTN_GRADS_FIELDS",
        attention::AttnGrads::FIELDS,
    );
    list(out, "`conv::ConvDims`: a convolution's u32 geometry block, in order.", "CONV_DIMS_FIELDS", conv::ConvDims::FIELDS);
    codes(out, "`pooling::Pool`: what a pooling layer takes from each window.", "Pool", pooling::Pool::VARIANTS);
    list(out, "`pooling::PoolDims`: a windowed pooling's u32 geometry block, in order.", "POOL_DIMS_FIELDS", pooling::PoolDims::FIELDS);
    codes(out, "`loss::Loss`: the loss kernels.", "Loss", loss::Loss::VARIANTS);
    codes(out, "`optim::Kind`: the optimizers.", "Optimizer", optim::Kind::VARIANTS);
    list(out, "`optim::Hyper`: the optimizer's f32 hyper-parameter block, in order.", "HYPER_FIELDS", optim::Hyper::FIELDS);
    codes(out, "`status::Status`: what every kernel call returns.", "Status", status::Status::VARIANTS);
    let msgs: Vec<String> = status::Status::VARIANTS.iter().map(|(_, c)| format!("{}: '{}'", *c as u32, c.message())).collect();
    let _ = writeln!(out, "\n/** `Status::message`, by code. */");
    let _ = writeln!(out, "export const STATUS_MESSAGES: Readonly<Record<number, string>> = {{ {} }};", msgs.join(", "));
    let _ = writeln!(out, "\n/** `program::RECORD`: words per stream-program record (the op code first). */");
    let _ = writeln!(out, "export const RECORD_WORDS = {};", program::RECORD);
    codes(out, "`program::Op`: a stream-program record's op code (word 0).", "Op", program::Op::VARIANTS);
    let _ = writeln!(out, "\n/** `program::RECORDS`: each record's fields after the op code, in word order. */");
    let _ = writeln!(out, "export const RECORD_FIELDS = {{");
    for (op, fields) in program::RECORDS {
        let name = program::Op::VARIANTS.iter().find(|(_, o)| o == op).map(|(n, _)| *n).unwrap_or("?");
        let body: Vec<String> = fields.iter().map(|f| format!("'{f}'")).collect();
        let _ = writeln!(out, "  {name}: [{}],", body.join(", "));
    }
    let _ = writeln!(out, "}} as const;");
    list(out, "`program::Q8Desc`: the words an int8 recurrent record's `desc` points at.", "Q8_DESC_FIELDS", program::Q8Desc::FIELDS);
    s
}

// a host tool: it reads and writes ts/runtime/contract.ts
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    /// `ts/runtime/contract.ts` is what [`super::typescript`] writes now
    /// (`UPDATE_CONTRACT=1` rewrites it; `npm run contract` does that).
    #[test]
    fn typescript_contract_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ts/runtime/contract.ts");
        let want = super::typescript();
        if std::env::var_os("UPDATE_CONTRACT").is_some() {
            std::fs::write(path, &want).expect("write ts/runtime/contract.ts");
            return;
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        if have != want {
            let first = have.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(have.lines().count().min(want.lines().count()));
            panic!(
                "ts/runtime/contract.ts differs from the core's declarations from line {}:\n  file: {:?}\n  core: {:?}\nrun `npm run contract` to regenerate it",
                first + 1,
                have.lines().nth(first),
                want.lines().nth(first)
            );
        }
    }
}
