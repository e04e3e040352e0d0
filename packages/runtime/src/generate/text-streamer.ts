/** Turns generated token ids into text pieces that never split a UTF-8 character. */
export interface TextStreamer {
  /** Text that became complete with this token ('' while a multi-byte character is unfinished). */
  push(token: number): string;
  /** What is left at the end (an unfinished character comes out as U+FFFD). */
  flush(): string;
}
