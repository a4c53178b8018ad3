/**
 * Named errors with messages a person can act on. Every error that can reach the UI or the command line is one of
 * these (or is wrapped into one by `toUserMessage`), so no stack trace is ever shown for bad input.
 * Modules add their own subclasses here, grouped by area.
 */
export class SaehdError extends Error {
  /** A short stable code for tests and logs, e.g. 'not-dfl'. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

// ---- files and formats -------------------------------------------------------------------------------------------

/** The bytes are not an image we can read (not a JPEG/PNG, or truncated). */
export class NotAnImageError extends SaehdError {
  constructor(detail: string) {
    super('not-image', `not a readable image: ${detail}`);
  }
}
export class TruncatedJpegError extends SaehdError {
  constructor(detail: string) {
    super('truncated-jpeg', `truncated or damaged JPEG: ${detail}`);
  }
}
/** A JPEG without the APP15 dictionary DeepFaceLab's extractor writes. */
export class NoDflMetadataError extends SaehdError {
  constructor() {
    super('not-dfl', 'no DeepFaceLab metadata: extract faces first');
  }
}
/** The pickle uses something outside the subset DFL writes, or is damaged / hostile. */
export class PickleError extends SaehdError {
  constructor(detail: string) {
    super('bad-pickle', `unreadable DeepFaceLab metadata (pickle): ${detail}`);
  }
}
/** A global the safe pickle parser refuses (it never executes anything). */
export class ForbiddenPickleGlobalError extends SaehdError {
  constructor(readonly global: string) {
    super('forbidden-global', `refused pickle global "${global}": only the NumPy array constructors DFL writes are allowed`);
  }
}
export class ImageTooLargeError extends SaehdError {
  constructor(width: number, height: number, limit: number) {
    super('image-too-large', `image size ${width}x${height} is beyond the ${limit}x${limit} limit`);
  }
}
export class InvalidMetadataError extends SaehdError {
  constructor(detail: string) {
    super('bad-metadata', `DeepFaceLab metadata is inconsistent: ${detail}`);
  }
}
/** The pickled metadata does not fit one APP15 segment (at most 65,533 bytes, spec G.1). */
export class MetadataTooLargeError extends SaehdError {
  constructor(readonly bytes: number) {
    super('metadata-too-large', `DeepFaceLab metadata is ${bytes} bytes, over the 65,533 bytes a JPEG APP15 segment can hold (is the mask too large?)`);
  }
}

// ---- storage ------------------------------------------------------------------------------------------------------

export class QuotaError extends SaehdError {
  constructor(detail: string) {
    super('quota', `browser storage is full (${detail}); what was already stored is kept`);
  }
}

// ---- options / models ---------------------------------------------------------------------------------------------

export class OptionError extends SaehdError {
  constructor(readonly option: string, detail: string) {
    super('bad-option', `option ${option}: ${detail}`);
  }
}
/** A weight file's arrays do not fit the model built from the options (different dims, resolution or archi). */
export class WeightsMismatchError extends SaehdError {
  constructor(detail: string) {
    super('weights-mismatch', `weights do not fit this model: ${detail}`);
  }
}

export class AbortError extends SaehdError {
  constructor() {
    super('aborted', 'cancelled');
  }
}

/** One line for a person: the message of a SaehdError, or a generic wording of anything unexpected. */
export function toUserMessage(err: unknown): string {
  if (err instanceof SaehdError) return err.message;
  if (err instanceof Error && (err.name === 'QuotaExceededError' || /quota/i.test(err.message)))
    return new QuotaError(err.message).message;
  if (err instanceof Error && err.name === 'AbortError') return 'cancelled';
  const msg = err instanceof Error ? err.message : String(err);
  return `unexpected problem: ${msg.split('\n')[0]}`;
}

/** Throw the AbortError when the signal has fired. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

// ---- training -----------------------------------------------------------------------------------------------------

/** A training step produced NaN or ±Infinity; the step's update was not applied, so the weights are still good. */
export class NonFiniteLossError extends SaehdError {
  constructor(readonly iter: number, readonly srcLoss: number, readonly dstLoss: number) {
    super(
      'non-finite-loss',
      `training diverged at iteration ${iter} (src loss ${srcLoss}, dst loss ${dstLoss}); the update was skipped — ` +
        'resume from the last save, or turn on gradient clipping, or lower GAN / style powers',
    );
  }
}

/** A training batch does not match the model (sizes, channels, missing arrays). */
export class TrainingBatchError extends SaehdError {
  constructor(detail: string) {
    super('bad-batch', `training batch does not fit the model: ${detail}`);
  }
}

// ---- samples ------------------------------------------------------------------------------------------------------

/** A face cannot be turned into training samples (no landmarks, unknown or mark-only face type, empty faceset). */
export class SampleError extends SaehdError {
  constructor(detail: string) {
    super('bad-sample', `cannot make training samples: ${detail}`);
  }
}
