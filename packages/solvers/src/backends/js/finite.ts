/** True when any element of array[start, end) is NaN or ±Infinity. */
export function hasNonFinite(array: ArrayLike<number>, start = 0, end = array.length): boolean {
  for (let i = start; i < end; i++) {
    const v = array[i]!;
    if (v - v !== 0) return true; // NaN - NaN and Inf - Inf are NaN; finite - itself is 0
  }
  return false;
}
