//! Whether a chunk holds only its fill value, by zarr-python's rule, so that the engine
//! skips (deletes) exactly the chunks zarr-python's own pipeline would.
//!
//! zarr-python compares bit patterns, except for a NaN fill value, which every NaN
//! matches (whatever its payload). Numeric equality and bit equality agree on every other
//! value of a float that is not zero, and zero fill values are compared by bits there too
//! (so `-0.0` is not a zero fill).

/// How to read an element's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementKind {
    Bool,
    Int,
    UInt,
    Float,
}

impl ElementKind {
    /// From NumPy's `dtype.kind` letter.
    pub fn from_numpy(kind: &str) -> Option<Self> {
        match kind {
            "b" => Some(ElementKind::Bool),
            "i" => Some(ElementKind::Int),
            "u" => Some(ElementKind::UInt),
            "f" => Some(ElementKind::Float),
            _ => None,
        }
    }
}

fn is_nan(bytes: &[u8]) -> bool {
    match bytes.len() {
        2 => {
            let bits = u16::from_ne_bytes([bytes[0], bytes[1]]);
            bits & 0x7c00 == 0x7c00 && bits & 0x03ff != 0
        }
        4 => f32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]).is_nan(),
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            f64::from_ne_bytes(b).is_nan()
        }
        _ => false,
    }
}

/// True if every element of `data` is `fill` (elements of `fill.len()` bytes).
pub fn all_fill(data: &[u8], fill: &[u8], kind: ElementKind) -> bool {
    let size = fill.len();
    if size == 0 || !data.len().is_multiple_of(size) {
        return false;
    }
    if kind == ElementKind::Float && is_nan(fill) {
        return data.chunks_exact(size).all(is_nan);
    }
    // Compare 64-byte blocks against the fill value repeated (a vectorised memcmp).
    if 64usize.is_multiple_of(size) {
        let pattern: Vec<u8> = fill.iter().copied().cycle().take(64).collect();
        let mut blocks = data.chunks_exact(64);
        let whole = blocks.all(|b| b == pattern.as_slice());
        return whole && blocks.remainder().chunks_exact(size).all(|e| e == fill);
    }
    data.chunks_exact(size).all(|e| e == fill)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    #[test]
    fn zero_fill_is_compared_by_bits() {
        let zero = 0f32.to_ne_bytes();
        assert!(all_fill(&f32s(&[0.0; 40]), &zero, ElementKind::Float));
        assert!(!all_fill(&f32s(&[0.0, -0.0, 0.0]), &zero, ElementKind::Float));
        let mut v = vec![0.0f32; 33];
        v[32] = 1.0; // in the remainder after the 64-byte blocks
        assert!(!all_fill(&f32s(&v), &zero, ElementKind::Float));
    }

    #[test]
    fn every_nan_matches_a_nan_fill() {
        let nan = f32::NAN.to_ne_bytes();
        let other_nan = f32::from_bits(0x7fc0_0001);
        assert!(all_fill(
            &f32s(&[f32::NAN, other_nan, -f32::NAN]),
            &nan,
            ElementKind::Float
        ));
        assert!(!all_fill(&f32s(&[f32::NAN, 1.0]), &nan, ElementKind::Float));
        // Integers are compared by bits whatever the pattern.
        assert!(!all_fill(&f32s(&[other_nan]), &nan, ElementKind::UInt));
        let half_nan = 0x7e00u16.to_ne_bytes();
        assert!(all_fill(&0x7e01u16.to_ne_bytes(), &half_nan, ElementKind::Float));
        assert!(!all_fill(&0x7c00u16.to_ne_bytes(), &half_nan, ElementKind::Float));
        // inf
    }

    #[test]
    fn other_values_and_sizes() {
        let data: Vec<u8> = std::iter::repeat_n(5i64.to_ne_bytes(), 9).flatten().collect();
        assert!(all_fill(&data, &5i64.to_ne_bytes(), ElementKind::Int));
        assert!(!all_fill(&data, &6i64.to_ne_bytes(), ElementKind::Int));
        assert!(all_fill(&[1, 1, 1], &[1], ElementKind::Bool));
        assert!(!all_fill(&[1, 1, 1], &[1, 1], ElementKind::Int)); // not whole elements
    }
}
