/** The test file of mapped-file.test.ts: HEADER bytes, then ROWS×COLS f32 values (see value()). */
export const HEADER = 4096 + 100;
export const ROWS = 256;
export const COLS = 1024;

/** Weight (row r, col c). */
export function value(r: number, c: number): number {
  return (((r * 7 + c * 3) % 17) - 8) / 8;
}

export function fileBytes(): Uint8Array {
  const bytes = new Uint8Array(HEADER + ROWS * COLS * 4);
  const f = new Float32Array(bytes.buffer, HEADER, ROWS * COLS);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++) f[r * COLS + c] = value(r, c);
  return bytes;
}
