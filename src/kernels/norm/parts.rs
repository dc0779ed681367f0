//! A CPU backend's norm computed in parts, wherever the parts of the vector lie (Dask's
//! chunks, one process's rows), with the bits of one call on the whole vector.
//!
//! Every CPU backend sums in a pairwise tree whose shape depends only on the length and the
//! leaf size ([`crate::kernels::norm::pairwise_sum`]'s shape): a node is the same bits
//! wherever it is computed, on any thread. So a vector cut at leaf edges ([`NormTree::align`])
//! is the union of whole nodes ([`NormTree::nodes`]); each node's [`Partial`] is computed
//! where its elements are ([`NormTree::partial`]), and the tree above them is rebuilt from
//! the partials alone ([`NormTree::combine`]). [`next_pass`](crate::kernels::norm::next_pass)
//! says which pass the norm needs next (L2 needs up to three).
//!
//! ```
//! use hpnum::kernels::norm::parts::NormTree;
//! use hpnum::kernels::norm::{NextPass, Partial, lcg_vector, next_pass};
//! use hpnum::{Backend, NormKind, Simd};
//!
//! let v = lcg_vector::<f64>(100_000, 7)?;
//! let x = v.as_slice().unwrap();
//! let tree = NormTree::Simd { isa: Simd::new().isa() };
//! // Two "workers", cut near the middle, at a leaf's edge.
//! let cut = tree.align::<f64>(x.len(), 50_000)?;
//! let mut done: Vec<Partial<f64>> = Vec::new();
//! let norm = loop {
//!     match next_pass(NormKind::L2, &done) {
//!         NextPass::Done(norm) => break norm,
//!         NextPass::Run(pass) => {
//!             let mut parts = Vec::new();
//!             for range in [0..cut, cut..x.len()] {
//!                 for node in tree.nodes::<f64>(x.len(), range)? {
//!                     parts.push((node.clone(), tree.partial(&x[node], pass, false)?));
//!                 }
//!             }
//!             done.push(tree.combine(x.len(), &parts)?);
//!         }
//!     }
//! };
//! assert_eq!(norm.to_bits(), Simd::new().norm(v.view(), NormKind::L2)?.to_bits());
//! # Ok::<(), hpnum::Error>(())
//! ```

use std::ops::Range;

use ndarray::ArrayView1;

use crate::error::{Error, Result};
use crate::kernels::norm::simd::{Reducer, leaf_len};
use crate::kernels::norm::{PAIRWISE_BLOCK, Partial, Pass, reference_partial};
use crate::real::{PerPrecision, Real};
use crate::simd::element::SimdReal;
use crate::simd::isa::{Isa, Level};

/// Which pairwise tree a CPU backend's norm sums in: its leaves' size decides its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormTree {
    /// The scalar backend's (and the reference's): blocks of [`PAIRWISE_BLOCK`] elements.
    Scalar,
    /// The SIMD and rayon backends' at instruction set `isa`: leaves of a fixed number of
    /// elements per lane, so the shape (and the bits) depend on the lane count. Every part
    /// must be computed at this `isa`.
    Simd {
        /// The instruction set whose lane count shapes the tree.
        isa: Isa,
    },
}

/// A tree node: the range of elements it sums.
type Node = Range<usize>;

impl NormTree {
    /// Elements of `T` in a full leaf.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if this CPU cannot run the tree's instruction set.
    pub fn leaf_len<T: Real>(self) -> Result<usize> {
        T::on(&Typed).leaf_len(self)
    }

    /// The leaf edge nearest to `at` in a vector of `len` elements (the lower one on a tie;
    /// `len` from `at ≥ len` on): where the vector may be cut into parts.
    ///
    /// # Errors
    /// As [`NormTree::leaf_len`].
    pub fn align<T: Real>(self, len: usize, at: usize) -> Result<usize> {
        let leaf = self.leaf_len::<T>()?;
        let mut node = 0..len;
        loop {
            if at >= node.end {
                return Ok(node.end);
            }
            if node.len() <= leaf {
                let nearer_start = at - node.start <= node.end - at;
                return Ok(if nearer_start { node.start } else { node.end });
            }
            let (left, right) = halves(&node);
            node = if at < right.start { left } else { right };
        }
    }

    /// The fewest nodes of the tree over `len` elements that tile `range`, in order.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `range` is not within `0..len` or an end of it is not
    /// a leaf edge ([`NormTree::align`]); as [`NormTree::leaf_len`].
    pub fn nodes<T: Real>(self, len: usize, range: Range<usize>) -> Result<Vec<Node>> {
        if range.start > range.end || range.end > len {
            return Err(Error::invalid(
                "range",
                format!("{range:?} is not a part of a vector of {len} elements"),
            ));
        }
        let leaf = self.leaf_len::<T>()?;
        let mut nodes = Vec::new();
        let mut pending: Vec<Node> = Vec::new();
        pending.push(0..len);
        while let Some(node) = pending.pop() {
            if node.is_empty() || node.end <= range.start || range.end <= node.start {
                continue;
            }
            if range.start <= node.start && node.end <= range.end {
                nodes.push(node);
            } else if node.len() <= leaf {
                return Err(Error::invalid(
                    "range",
                    format!(
                        "{range:?} cuts the leaf {node:?} of the tree over {len} elements: \
                         cut at leaf edges (NormTree::align)"
                    ),
                ));
            } else {
                let (left, right) = halves(&node);
                pending.extend([right, left]);
            }
        }
        Ok(nodes)
    }

    /// `pass` over the elements of one node (of any tree over any length: a node's partial
    /// depends on its length alone), on the calling thread or, when `parallel`, forked on
    /// rayon's current pool as the rayon backend does (the same bits).
    ///
    /// # Errors
    /// [`Error::Interrupted`] if a stop was asked for meanwhile; as [`NormTree::leaf_len`].
    pub fn partial<T: Real>(self, node: &[T], pass: Pass<T>, parallel: bool) -> Result<Partial<T>> {
        T::on(&Typed).partial(self, node, pass, parallel)
    }

    /// The partial of the whole vector of `len` elements from its nodes' (`parts`, in any
    /// order, tiling `0..len` with nodes of this tree): the tree above them, rebuilt.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `parts` are not nodes of the tree, overlap, or leave a
    /// gap; as [`NormTree::leaf_len`].
    pub fn combine<T: Real>(self, len: usize, parts: &[(Node, Partial<T>)]) -> Result<Partial<T>> {
        let leaf = self.leaf_len::<T>()?;
        let mut sorted: Vec<&(Node, Partial<T>)> = parts.iter().collect();
        sorted.sort_by_key(|(node, _)| (node.start, node.end));
        let mut used = 0;
        let whole = combine_node(0..len, leaf, &sorted, &mut used)?;
        if used != parts.len() {
            return Err(Error::invalid(
                "parts",
                format!(
                    "{} of the {} parts are not nodes of the tree over {len} elements, or \
                     overlap",
                    parts.len() - used,
                    parts.len()
                ),
            ));
        }
        Ok(whole)
    }
}

/// What a tree does in one element type: the public methods take any [`Real`], the SIMD
/// code needs [`SimdReal`] (crate-private), and [`Real::on`] joins them.
trait InPrecision<T: Real> {
    fn leaf_len(&self, tree: NormTree) -> Result<usize>;
    fn partial(
        &self,
        tree: NormTree,
        node: &[T],
        pass: Pass<T>,
        parallel: bool,
    ) -> Result<Partial<T>>;
}

/// The one implementation of [`InPrecision`], for both precisions.
struct Typed;

impl<T: SimdReal> InPrecision<T> for Typed {
    fn leaf_len(&self, tree: NormTree) -> Result<usize> {
        Ok(match tree {
            NormTree::Scalar => PAIRWISE_BLOCK,
            NormTree::Simd { isa } => leaf_len::<T>(Level::named(isa, "simd")?),
        })
    }

    fn partial(
        &self,
        tree: NormTree,
        node: &[T],
        pass: Pass<T>,
        parallel: bool,
    ) -> Result<Partial<T>> {
        match tree {
            NormTree::Scalar => Ok(reference_partial(ArrayView1::from(node), pass)),
            NormTree::Simd { isa } => {
                let level = Level::named(isa, "simd")?;
                let reducer = Reducer::new(level, parallel, size_of_val(node));
                let partial = reducer.tree(node, pass, leaf_len::<T>(level));
                reducer.watch.check()?;
                Ok(partial)
            }
        }
    }
}

impl PerPrecision for Typed {
    type In<T: Real> = dyn InPrecision<T>;

    fn f32(&self) -> &(dyn InPrecision<f32> + 'static) {
        self
    }

    fn f64(&self) -> &(dyn InPrecision<f64> + 'static) {
        self
    }
}

/// The tree's nodes cut at a grain: each node of at most `grain` elements (or a leaf) is
/// one piece, in order. How the rayon backend shares a norm between threads: the pieces'
/// partials, folded back by the same descent, are the tree's bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cut {
    /// Elements in a full leaf.
    pub leaf: usize,
    /// The longest piece, unless it is a leaf.
    pub grain: usize,
}

impl Cut {
    fn is_piece(self, node: &Node) -> bool {
        node.len() <= self.grain.max(self.leaf)
    }

    /// The pieces of the tree over `len` elements, in order.
    pub(crate) fn pieces(self, len: usize) -> Vec<Node> {
        let mut pieces = Vec::new();
        let mut pending: Vec<Node> = Vec::new();
        pending.push(0..len);
        while let Some(node) = pending.pop() {
            if self.is_piece(&node) {
                pieces.push(node);
            } else {
                let (left, right) = halves(&node);
                pending.extend([right, left]);
            }
        }
        pieces
    }

    /// The whole vector's partial from its pieces' (in the order of [`Cut::pieces`]).
    pub(crate) fn fold<T: Real>(self, len: usize, partials: &[Partial<T>]) -> Partial<T> {
        let mut next = partials.iter();
        self.fold_node(0..len, &mut next)
    }

    fn fold_node<'a, T: Real>(
        self,
        node: Node,
        next: &mut impl Iterator<Item = &'a Partial<T>>,
    ) -> Partial<T> {
        if self.is_piece(&node) {
            return next.next().copied().unwrap_or_else(Partial::empty);
        }
        let (left, right) = halves(&node);
        let left = self.fold_node(left, next);
        left.combine(self.fold_node(right, next))
    }
}

/// A node's two children: split at half its length, as every CPU tree splits.
fn halves(node: &Node) -> (Node, Node) {
    let mid = node.start + node.len() / 2;
    (node.start..mid, mid..node.end)
}

/// `node`'s partial: a part's if one is exactly it, else its children's combined.
fn combine_node<T: Real>(
    node: Node,
    leaf: usize,
    sorted: &[&(Node, Partial<T>)],
    used: &mut usize,
) -> Result<Partial<T>> {
    if node.is_empty() {
        return Ok(Partial::empty());
    }
    let first = sorted.partition_point(|(part, _)| part.start < node.start);
    if let Some((_, partial)) = sorted[first..]
        .iter()
        .take_while(|(part, _)| part.start == node.start)
        .find(|(part, _)| part.end == node.end)
    {
        *used += 1;
        return Ok(*partial);
    }
    if node.len() <= leaf {
        return Err(Error::invalid(
            "parts",
            format!("no part covers the leaf {node:?} whole"),
        ));
    }
    let (left, right) = halves(&node);
    let left = combine_node(left, leaf, sorted, used)?;
    let right = combine_node(right, leaf, sorted, used)?;
    Ok(left.combine(right))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::norm::{NextPass, NormKind, lcg_vector, next_pass, reference};

    /// The norm of `x` cut at `cuts` (aligned first), computed part by part.
    fn in_parts(tree: NormTree, x: &[f32], cuts: &[usize], kind: NormKind) -> Result<f32> {
        let mut edges = vec![0];
        for &cut in cuts {
            edges.push(tree.align::<f32>(x.len(), cut)?);
        }
        edges.push(x.len());
        let mut done = Vec::new();
        loop {
            match next_pass(kind, &done) {
                NextPass::Done(norm) => return Ok(norm),
                NextPass::Run(pass) => {
                    let mut parts = Vec::new();
                    for pair in edges.windows(2) {
                        for node in tree.nodes::<f32>(x.len(), pair[0]..pair[1])? {
                            let partial = tree.partial(&x[node.clone()], pass, true)?;
                            parts.push((node, partial));
                        }
                    }
                    parts.reverse(); // combine must not depend on the order they come in
                    done.push(tree.combine(x.len(), &parts)?);
                }
            }
        }
    }

    #[test]
    fn parts_give_the_bits_of_one_call_for_every_cut() {
        let v = lcg_vector::<f32>(10_007, 3).unwrap();
        // Plain; every square overflowing (L2 takes all three passes); every square
        // below the underflow threshold (so does it).
        for scale in [1.0, 1e25, 1e-25] {
            let x: Vec<f32> = v.iter().map(|&x| x * scale).collect();
            let x = &x[..];
            parts_match_one_call(x, scale);
        }
    }

    fn parts_match_one_call(x: &[f32], scale: f32) {
        for tree in [NormTree::Scalar, NormTree::Simd { isa: Isa::best() }] {
            for kind in NormKind::ALL {
                let whole = match tree {
                    NormTree::Scalar => reference(ArrayView1::from(x), kind),
                    NormTree::Simd { isa } => {
                        let simd = crate::backends::simd::Simd::with_isa(isa).unwrap();
                        crate::kernels::norm::simd::norm(simd.level(), ArrayView1::from(x), kind)
                            .unwrap()
                    }
                };
                for cuts in [
                    &[][..],
                    &[1],
                    &[5000],
                    &[3, 4, 4000, 9999],
                    &[2500, 5000, 7500],
                ] {
                    let parts = in_parts(tree, x, cuts, kind).unwrap();
                    assert_eq!(
                        parts.to_bits(),
                        whole.to_bits(),
                        "{tree:?} {kind} ×{scale} cut at {cuts:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_part_that_is_not_a_node_is_an_error() {
        let tree = NormTree::Scalar;
        let leaf = Partial::<f32>::empty();
        assert!(
            tree.nodes::<f32>(100, 0..10).is_err(),
            "a cut inside a leaf"
        );
        assert!(tree.nodes::<f32>(100, 0..101).is_err(), "beyond the end");
        let halves = [(0..50, leaf), (50..100, leaf)];
        assert!(tree.combine(100, &halves).is_ok());
        assert!(tree.combine(100, &halves[..1]).is_err(), "a gap");
        let extra = [(0..50, leaf), (50..100, leaf), (50..75, leaf)];
        assert!(tree.combine(100, &extra).is_err(), "an overlap");
        assert!(
            tree.combine(100, &[(0..40, leaf), (40..100, leaf)])
                .is_err()
        );
        assert_eq!(tree.combine::<f32>(0, &[]), Ok(Partial::empty()));
    }

    #[test]
    fn align_moves_a_cut_to_the_nearest_leaf_edge() {
        let tree = NormTree::Scalar; // 100 → 50 → 25: leaves of 25
        assert_eq!(tree.align::<f32>(100, 10), Ok(0));
        assert_eq!(tree.align::<f32>(100, 13), Ok(25));
        assert_eq!(tree.align::<f32>(100, 60), Ok(50));
        assert_eq!(tree.align::<f32>(100, 100), Ok(100));
        assert_eq!(tree.align::<f32>(100, 500), Ok(100));
    }
}
