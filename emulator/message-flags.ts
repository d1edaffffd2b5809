// Bit flags on a compact message record: decorations rendered on demand instead of stored as JSON.

export const F_MENTION = 1;
export const F_ATTACHMENT = 2;
export const F_UNKNOWN_PROP = 4;
export const F_SUBJECT = 8;
export const F_HIGH_IMPORTANCE = 16;
export const F_TEXT_BODY = 32;
export const F_SYSTEM = 64;
/** A seeded message: it may carry issue-4 content (hosted contents, files, external senders), picked by hash. */
export const F_RICH = 128;
