// The bit-level view of `real` = f32, for shaders that must classify values on any driver.
// WGSL lets a driver assume that no NaN or infinity occurs and flush subnormals to zero,
// so float comparisons cannot find NaN and float arithmetic cannot be trusted with a
// subnormal: everything here works on the bits (IEEE 754 binary32) with integer operations,
// and builds floats only where the value is normal or an exact integer.
//
// The host prepends this (or bits/f64.wgsl) after `alias real = f32;` and REALS_PER_VEC4.

// One value's bits.
alias real_bits = u32;

// The bits of `real` number `lane` of a 16-byte load.
fn real_bits_in(load: vec4<u32>, lane: u32) -> real_bits {
    return load[lane];
}

// The bits of |x|. Ordered as integers, magnitudes order as values, +∞ above every finite
// value and every NaN above +∞: the integer maximum is a NaN-sticky L∞.
fn magnitude_bits(bits: real_bits) -> real_bits {
    return bits & 0x7fffffffu;
}

// The larger of two magnitudes' bits.
fn larger_magnitude(a: real_bits, b: real_bits) -> real_bits {
    return max(a, b);
}

// Neither ∞ nor NaN.
fn is_finite_magnitude(m: real_bits) -> bool {
    return m < 0x7f800000u;
}

// Subnormal or zero: below the smallest normal, 2⁻¹²⁶.
fn is_subnormal_magnitude(m: real_bits) -> bool {
    return m < 0x00800000u;
}

// A subnormal magnitude in units of the smallest subnormal (2⁻¹⁴⁹): an integer below 2²³,
// exact as a normal f32. The host multiplies sums of these by SUBNORMAL_UNIT.
fn subnormal_units(m: real_bits) -> real {
    return f32(m);
}

// A normal magnitude's value, built like any other: `bitcast<f32>` here measured 30 times
// slower on Mesa's software driver (6 ms for a 16-element norm), and on a GPU the
// arithmetic is free beside the loads.
fn normal_magnitude(m: real_bits) -> real {
    return scaled_magnitude(m, 0);
}

// |x| · 2^-shift for any finite magnitude, subnormal ones included, built from the integer
// significand and exponent; results below the normal range may become zero, which is
// harmless where this is used (values far below the scale).
fn scaled_magnitude(m: real_bits, shift: i32) -> real {
    let biased = i32(m >> 23u);
    let fraction = m & 0x007fffffu;
    let significand = select(fraction | 0x00800000u, fraction, biased == 0);
    let exponent = select(biased - 150, -149, biased == 0);
    return ldexp(f32(significand), exponent - shift);
}

// `x`, rounded as it is, hidden from the compiler's fusing of multiplies and adds: WGSL
// lets a driver contract `a * b + c` into one fused operation (one rounding instead of
// two), and naga cannot forbid it (no SPIR-V `NoContraction`). `one` is 1.0 loaded at run
// time; its bits XOR those of 1.0 are a zero the compiler cannot know, and an integer OR
// with it is an operation no float contraction can look through.
fn rounded(x: real, one: real) -> real {
    return bitcast<f32>(bitcast<u32>(x) | (bitcast<u32>(one) ^ 0x3f800000u));
}

// A magnitude's bits as (high, low) words that order lexicographically as the magnitudes
// do, for reductions that work on u32 (subgroupMax): an f32 has only the high word.
fn magnitude_high_word(m: real_bits) -> u32 {
    return m;
}

fn magnitude_low_word(m: real_bits) -> u32 {
    return 0u;
}

fn magnitude_from_words(high: u32, low: u32) -> real_bits {
    return high;
}
