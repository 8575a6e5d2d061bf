/**
 * Typed errors. Every error the library throws on purpose is a
 * `RecurrentWasmError`; the subclass says what kind of mistake it was and the
 * message names what was expected and what was received.
 */
export class RecurrentWasmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor or argument has the wrong shape or size. */
export class ShapeError extends RecurrentWasmError {}

/** A value is out of range, not finite, or of the wrong type. */
export class ValueError extends RecurrentWasmError {}

/** The WebAssembly core could not be loaded, or was used before `init()`. */
export class InitError extends RecurrentWasmError {}

/** A file (model, weights, ONNX graph) is malformed, truncated or unsupported. */
export class FormatError extends RecurrentWasmError {}

/** A kernel refused its arguments (a bug in the caller or the façade). */
export class KernelError extends RecurrentWasmError {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Format a shape as `[2, 3, 4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
