// The bit-level view of `real` = f64, for shaders that must classify values on any driver.
// WGSL lets a driver assume that no NaN or infinity occurs and flush subnormals to zero,
// so float comparisons cannot find NaN and float arithmetic cannot be trusted with a
// subnormal: everything here works on the bits (IEEE 754 binary64, as two little-endian
// words: x = low, y = high) with integer operations, and builds floats only where the value
// is normal or an exact integer.
//
// The host prepends this (or bits/f32.wgsl) after `alias real = f64;` and REALS_PER_VEC4.

// One value's bits: (low word, high word).
alias real_bits = vec2<u32>;

// The bits of `real` number `lane` of a 16-byte load.
fn real_bits_in(load: vec4<u32>, lane: u32) -> real_bits {
    return select(load.xy, load.zw, lane == 1u);
}

// The bits of |x|. Ordered as integers (high word first), magnitudes order as values, +∞
// above every finite value and every NaN above +∞: the maximum is a NaN-sticky L∞.
fn magnitude_bits(bits: real_bits) -> real_bits {
    return vec2<u32>(bits.x, bits.y & 0x7fffffffu);
}

// The larger of two magnitudes' bits.
fn larger_magnitude(a: real_bits, b: real_bits) -> real_bits {
    let b_larger = b.y > a.y || (b.y == a.y && b.x > a.x);
    return select(a, b, b_larger);
}

// Neither ∞ nor NaN.
fn is_finite_magnitude(m: real_bits) -> bool {
    return m.y < 0x7ff00000u;
}

// Subnormal or zero: below the smallest normal, 2⁻¹⁰²².
fn is_subnormal_magnitude(m: real_bits) -> bool {
    return m.y < 0x00100000u;
}

// The 53-bit integer `high · 2³² + low`, exact in f64 (both steps are exact, so a fused
// multiply-add gives the same).
fn join_words(high: u32, low: u32) -> real {
    return f64(high) * 4294967296.0 + f64(low);
}

// A subnormal magnitude in units of the smallest subnormal (2⁻¹⁰⁷⁴): an integer below 2⁵²,
// exact as a normal f64. The host multiplies sums of these by SUBNORMAL_UNIT.
fn subnormal_units(m: real_bits) -> real {
    return join_words(m.y, m.x);
}

// |x| · 2^-shift for any finite magnitude, subnormal ones included, built from the integer
// significand and exponent; results below the normal range may become zero, which is
// harmless where this is used (values far below the scale).
fn scaled_magnitude(m: real_bits, shift: i32) -> real {
    let biased = i32(m.y >> 20u);
    let fraction = m.y & 0x000fffffu;
    let significand_high = select(fraction | 0x00100000u, fraction, biased == 0);
    let exponent = select(biased - 1075, -1074, biased == 0);
    return ldexp(join_words(significand_high, m.x), exponent - shift);
}

// A normal magnitude's value (no f64 bitcast in WGSL: built like any other).
fn normal_magnitude(m: real_bits) -> real {
    return scaled_magnitude(m, 0);
}

// `x`, rounded as it is, hidden from the compiler's fusing of multiplies and adds (see
// bits/f32.wgsl). WGSL has no 32-bit view of an f64 without SHADER_INT64 (naga's
// `bitcast` of an f64 is a u64), so the product is multiplied by `one`, 1.0 loaded at run
// time: exact, and a contraction of the following add can only fuse this multiply by
// one, which rounds the same. A compiler that also reassociated `(a * b) * one` could still
// fuse; none is known to.
fn rounded(x: real, one: real) -> real {
    return x * one;
}

// A magnitude's bits as (high, low) words that order lexicographically as the magnitudes
// do, for reductions that work on u32 (subgroupMax).
fn magnitude_high_word(m: real_bits) -> u32 {
    return m.y;
}

fn magnitude_low_word(m: real_bits) -> u32 {
    return m.x;
}

fn magnitude_from_words(high: u32, low: u32) -> real_bits {
    return vec2<u32>(low, high);
}
