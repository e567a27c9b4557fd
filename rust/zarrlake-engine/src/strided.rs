//! Strided views of memory that the caller owns (a NumPy array's buffer, a chunk being
//! built), and copying a box of elements from one view to another.
//!
//! A view keeps its owner alive (`Owner`), so work that outlives the call that made it
//! (a cancelled future whose parallel part still runs) never touches freed memory.

use std::sync::Arc;

use zarrlake_core::{Error, Result};

/// Whatever keeps a view's memory alive (and, for a NumPy buffer, exported).
pub type Owner = Arc<dyn Send + Sync>;

/// An N-dimensional view: element `i` is at `base + Σ i[d] * strides[d]` (in bytes).
pub struct Strided {
    base: *mut u8,
    shape: Vec<usize>,
    strides: Vec<isize>,
    itemsize: usize,
    writable: bool,
    _owner: Owner,
}

// The raw pointer is only dereferenced inside `copy_box`, whose callers keep concurrent
// writes to disjoint boxes; the owner keeps the memory valid.
unsafe impl Send for Strided {}
unsafe impl Sync for Strided {}

/// One axis of a selection: `count` elements from `start`, `step` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub count: usize,
    pub step: usize,
}

impl Span {
    pub fn whole(len: usize) -> Self {
        Span {
            start: 0,
            count: len,
            step: 1,
        }
    }
}

impl Strided {
    /// A view of foreign memory.
    ///
    /// # Safety
    /// Every element the shape and strides describe must lie in memory that stays valid
    /// while `owner` lives, and, if `writable`, that may be written.
    pub unsafe fn from_raw(
        base: *mut u8,
        shape: Vec<usize>,
        strides: Vec<isize>,
        itemsize: usize,
        writable: bool,
        owner: Owner,
    ) -> Result<Self> {
        if shape.len() != strides.len() || itemsize == 0 {
            return Err(Error::InvalidInput(format!(
                "a strided view needs one stride per axis and a non-zero item size (shape {shape:?}, strides {strides:?}, item size {itemsize})"
            )));
        }
        Ok(Strided {
            base,
            shape,
            strides,
            itemsize,
            writable,
            _owner: owner,
        })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// Checks that `sel` picks elements inside this view only.
    pub fn check(&self, sel: &[Span], what: &str) -> Result<()> {
        check_selection(&self.shape, sel, what)
    }
}

/// Checks that `sel` picks elements inside an array of `shape` only.
pub fn check_selection(shape: &[usize], sel: &[Span], what: &str) -> Result<()> {
    let inside = |s: &Span, len: usize| {
        s.step > 0
            && (s.count == 0
                || (s.count - 1)
                    .checked_mul(s.step)
                    .and_then(|span| s.start.checked_add(span))
                    .is_some_and(|last| last < len))
    };
    if sel.len() == shape.len() && sel.iter().zip(shape).all(|(s, &len)| inside(s, len)) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what} selection {sel:?} does not fit an array of shape {shape:?}"
        )))
    }
}

/// A C-ordered buffer at `base` as a view; the memory is not owned by the view.
///
/// # Safety
/// `base` must point at room for `shape`'s elements of `itemsize` bytes that stays valid,
/// and is not otherwise accessed, while the view is used (and writable, if `writable`).
pub unsafe fn c_order_view(base: *mut u8, shape: &[usize], itemsize: usize, writable: bool) -> Strided {
    let mut strides = vec![0isize; shape.len()];
    let mut step = itemsize as isize;
    for d in (0..shape.len()).rev() {
        strides[d] = step;
        step *= shape[d] as isize;
    }
    Strided {
        base,
        shape: shape.to_vec(),
        strides,
        itemsize,
        writable,
        _owner: Arc::new(()),
    }
}

/// Copies the elements `src_sel` of `src` to the elements `dst_sel` of `dst`.
///
/// Both selections must have been `check`ed against their views and have equal counts.
///
/// # Safety
/// No other thread may write `dst_sel`'s elements or read them while this runs.
pub unsafe fn copy_box(src: &Strided, src_sel: &[Span], dst: &Strided, dst_sel: &[Span]) -> Result<()> {
    if !dst.writable || src.itemsize != dst.itemsize || src_sel.len() != dst_sel.len() {
        return Err(Error::InvalidInput("mismatched or read-only views".into()));
    }
    if src_sel.iter().zip(dst_sel).any(|(a, b)| a.count != b.count) {
        return Err(Error::InvalidInput(format!(
            "selections of different shapes: {src_sel:?} and {dst_sel:?}"
        )));
    }
    if src_sel.iter().any(|s| s.count == 0) {
        return Ok(());
    }
    let itemsize = src.itemsize;
    let mut s = src.base.cast_const();
    let mut d = dst.base;
    // Axes as (count, src stride, dst stride), after moving both pointers to the box start.
    let mut axes: Vec<(usize, isize, isize)> = Vec::with_capacity(src_sel.len());
    for i in 0..src_sel.len() {
        let (a, b) = (src_sel[i], dst_sel[i]);
        s = s.offset(a.start as isize * src.strides[i]);
        d = d.offset(b.start as isize * dst.strides[i]);
        if a.count > 1 {
            axes.push((
                a.count,
                a.step as isize * src.strides[i],
                b.step as isize * dst.strides[i],
            ));
        }
    }
    // Merge an axis into the one inside it where both sides are contiguous across them.
    let mut merged: Vec<(usize, isize, isize)> = Vec::with_capacity(axes.len());
    for axis in axes.into_iter().rev() {
        match merged.last_mut() {
            Some(inner) if axis.1 == inner.1 * inner.0 as isize && axis.2 == inner.2 * inner.0 as isize => {
                inner.0 *= axis.0;
            }
            _ => merged.push(axis),
        }
    }
    merged.reverse();
    let (run, run_src, run_dst) = merged.pop().unwrap_or((1, itemsize as isize, itemsize as isize));
    let contiguous_run = run_src == itemsize as isize && run_dst == itemsize as isize;
    let mut index = vec![0usize; merged.len()];
    loop {
        if contiguous_run {
            std::ptr::copy_nonoverlapping(s, d, run * itemsize);
        } else {
            let (mut ps, mut pd) = (s, d);
            for _ in 0..run {
                std::ptr::copy_nonoverlapping(ps, pd, itemsize);
                ps = ps.offset(run_src);
                pd = pd.offset(run_dst);
            }
        }
        // Odometer over the outer axes.
        let mut axis = merged.len();
        loop {
            if axis == 0 {
                return Ok(());
            }
            axis -= 1;
            let (count, ss, ds) = merged[axis];
            index[axis] += 1;
            s = s.offset(ss);
            d = d.offset(ds);
            if index[axis] < count {
                break;
            }
            s = s.offset(-(count as isize) * ss);
            d = d.offset(-(count as isize) * ds);
            index[axis] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &[(usize, usize, usize)]) -> Vec<Span> {
        v.iter()
            .map(|&(start, count, step)| Span { start, count, step })
            .collect()
    }

    #[test]
    fn copies_a_box_with_steps_between_c_order_buffers() {
        // 4x5 source of u16 values 0..20; copy rows 1..3, columns 0,2,4 into a 2x3 buffer.
        let mut src: Vec<u8> = (0u16..20).flat_map(|v| v.to_ne_bytes()).collect();
        let mut dst = vec![0u8; 2 * 3 * 2];
        unsafe {
            let s = c_order_view(src.as_mut_ptr(), &[4, 5], 2, true);
            let d = c_order_view(dst.as_mut_ptr(), &[2, 3], 2, true);
            let ss = sel(&[(1, 2, 1), (0, 3, 2)]);
            s.check(&ss, "source").unwrap();
            copy_box(&s, &ss, &d, &sel(&[(0, 2, 1), (0, 3, 1)])).unwrap();
        }
        let got: Vec<u16> = dst.chunks(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect();
        assert_eq!(got, vec![5, 7, 9, 10, 12, 14]);
    }

    #[test]
    fn merges_contiguous_axes_and_broadcasts_zero_strides() {
        let mut one = 7u32.to_ne_bytes().to_vec();
        let mut dst = vec![0u8; 3 * 4 * 4];
        unsafe {
            let s = Strided::from_raw(one.as_mut_ptr(), vec![3, 4], vec![0, 0], 4, false, Arc::new(())).unwrap();
            let d = c_order_view(dst.as_mut_ptr(), &[3, 4], 4, true);
            copy_box(&s, &sel(&[(0, 3, 1), (0, 4, 1)]), &d, &sel(&[(0, 3, 1), (0, 4, 1)])).unwrap();
        }
        assert!(dst.chunks(4).all(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) == 7));
    }

    #[test]
    fn refuses_selections_outside_the_view() {
        let mut buf = vec![0u8; 10];
        let v = unsafe { c_order_view(buf.as_mut_ptr(), &[10], 1, true) };
        assert!(v.check(&sel(&[(5, 5, 1)]), "x").is_ok());
        assert!(v.check(&sel(&[(5, 6, 1)]), "x").is_err());
        assert!(v.check(&sel(&[(0, 4, 3)]), "x").is_ok());
        assert!(v.check(&sel(&[(1, 4, 3)]), "x").is_err());
        assert!(v.check(&sel(&[(0, 2, 0)]), "x").is_err());
        assert!(v.check(&sel(&[(0, 1, 1), (0, 1, 1)]), "x").is_err());
    }

    #[test]
    fn copies_into_a_read_only_view_are_refused() {
        let mut a = vec![0u8; 4];
        let mut b = vec![0u8; 4];
        unsafe {
            let s = c_order_view(a.as_mut_ptr(), &[4], 1, true);
            let d = Strided::from_raw(b.as_mut_ptr(), vec![4], vec![1], 1, false, Arc::new(())).unwrap();
            assert!(copy_box(&s, &[Span::whole(4)], &d, &[Span::whole(4)]).is_err());
        }
    }
}
