//! Exact assignment between two equal-size point sets under a distance cost, without an n x n
//! matrix: an epsilon-scaling auction for near-optimal duals, shortest augmenting paths for the
//! exact optimum, and a certificate checked against all n^2 pairs.
//!
//! Problem: rows a_0..a_{n-1}, columns b_0..b_{n-1} (dim coordinates each), cost
//! c_ij = |a_i - b_j|^2 (p = 2) or |a_i - b_j| (p = 1); find the permutation pi minimising
//! sum_i c_{i pi(i)}. Its LP dual: maximise sum_i u_i + sum_j v_j subject to
//! r_ij = c_ij - u_i - v_j >= 0 for all (i, j); a permutation with r_{i pi(i)} = 0 and a dual
//! feasible (u, v) is optimal (complementary slackness).
//!
//! Candidate lists: each row keeps `K` columns and a bound B_i <= c_ij - v_j for every column j
//! outside its list (the least value left out when the list was built from all columns: a
//! k-d tree search over the columns with each node's largest v_j when dim <= 8, an O(n dim)
//! pass otherwise). Every step below only lowers v_j, so B_i stays valid; a row whose list
//! cannot prove its answer is rebuilt (or, inside a Dijkstra, expanded over all columns).
//!
//! 1. Auction (Bertsekas, "The auction algorithm: a distributed relaxation method for the
//!    assignment problem", Ann. Oper. Res. 14, 1988, Gauss-Seidel forward auction with
//!    epsilon-scaling): an unassigned row i takes the column j1 of least w_ij = c_ij - v_j
//!    and lowers v_j1 by w2 - w1 + eps (w1, w2: the least and second least w_ij); eps falls by
//!    a factor `THETA` per phase from diam/4 to `EPS_FINAL` x diam (diam: the largest cost
//!    between the sets' bounding boxes). This gives an assignment within n eps of optimal and
//!    near-optimal duals v, so that step 2 has short augmenting paths.
//! 2. Exact repair: u_i = min_j c_ij - v_j (feasible for all pairs), rows whose column attains
//!    the minimum keep it, the others are freed and augmented by shortest augmenting paths
//!    (Crouse, IEEE TAES 52(4), 2016: scipy's `linear_sum_assignment` and its dual update) with
//!    a binary-heap Dijkstra: a scanned row relaxes its candidates and pushes the key
//!    D_i + B_i - u_i (a lower bound on any path through its other columns); when that key is
//!    the least in the heap the row relaxes all its columns. So each Dijkstra is exact on the
//!    complete bipartite graph and (u, v) stays feasible for all pairs.
//! 3. Certificate: a parallel pass over all n^2 pairs computes m_i = min_j (c_ij - v_j) and
//!    checks m_i >= u_i - tol. (Should rounding leave a row short, it is freed with u_i = m_i
//!    and re-augmented, and the check repeats.) With r_ij >= -tol for every pair, the total
//!    cost is within n tol of the optimum, its mean within tol, and tol = 1e-13 x the largest
//!    |c|, |u|, |v| met (a few hundred times the rounding in r_ij itself; the duals stay within
//!    a few times the largest cost): exact to float rounding.
//!
//! Memory O(n K); time O(n^2 dim) per full pass (two, parallel with rayon), O(K) per bid, and
//! per rebuild a k-d tree search (typically a few hundred columns) or O(n dim).

use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Candidate columns per row.
const K: usize = 12;

/// Factor by which the auction's eps falls per phase.
const THETA: f64 = 6.0;

/// The auction's last eps, relative to the largest cost.
const EPS_FINAL: f64 = 1e-9;

/// Relative tolerance of the certificate (times the magnitude of costs and duals).
const REL_TOL: f64 = 1e-13;

/// Certificate rounds after which the solver gives up (the first normally passes).
const MAX_ROUNDS: usize = 100;

const NONE: u32 = u32::MAX;

/// The cost c(x, y) = |x - y|^2 (p = 2) or |x - y| (p = 1), summed in coordinate order in f64.
#[inline(always)]
fn cost(x: &[f64], y: &[f64], p: u32) -> f64 {
    let d2: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| {
            let d = a - b;
            d * d
        })
        .sum();
    if p == 2 {
        d2
    } else {
        d2.sqrt()
    }
}

/// An exact solution: the assignment and a dual certificate.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Column assigned to each row.
    pub col4row: Vec<u32>,
    /// Row duals u_i.
    pub u: Vec<f64>,
    /// Column duals v_j.
    pub v: Vec<f64>,
    /// Total cost sum_i c_{i pi(i)}.
    pub total: f64,
    /// Work done, for benchmarks.
    pub stats: Stats,
    /// The certificate's tolerance: every pair has c_ij - u_i - v_j >= -tol.
    pub tol: f64,
}

/// Counts of the solver's steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Auction phases.
    pub phases: usize,
    /// Auction bids.
    pub bids: usize,
    /// Candidate-list rebuilds (O(n dim) each).
    pub rebuilds: usize,
    /// Rows left to the shortest augmenting paths.
    pub augmentations: usize,
    /// Dijkstra row expansions (O(n dim) each).
    pub expansions: usize,
    /// Certificate passes (the last one found no violated row; normally 1).
    pub rounds: usize,
}

/// A heap entry: a distance and an id (a column j < n, or n + i: row i's bound). Ordered for
/// a min-heap in `BinaryHeap` (least distance first, ties: least id).
#[derive(Clone, Copy, PartialEq)]
struct Key(f64, u32);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

/// The two point sets and the cost exponent; the columns also transposed (coordinate-major),
/// so that a row's costs to all columns are a vectorised loop.
struct Points<'a> {
    a: &'a [f64],
    b: &'a [f64],
    bt: Vec<f64>,
    dim: usize,
    p: u32,
}

impl<'a> Points<'a> {
    fn new(a: &'a [f64], b: &'a [f64], dim: usize, p: u32) -> Self {
        let n = b.len() / dim;
        let mut bt = vec![0.0; b.len()];
        for (j, y) in b.chunks_exact(dim).enumerate() {
            for (k, &t) in y.iter().enumerate() {
                bt[k * n + j] = t;
            }
        }
        Points { a, b, bt, dim, p }
    }
    fn row(&self, i: usize) -> &[f64] {
        &self.a[i * self.dim..(i + 1) * self.dim]
    }
    fn c(&self, i: usize, j: usize) -> f64 {
        cost(
            self.row(i),
            &self.b[j * self.dim..(j + 1) * self.dim],
            self.p,
        )
    }
    /// w_j = c_ij - v_j for every column j, into `w` (the same arithmetic as [`cost`], so the
    /// same values to the bit).
    fn values(&self, i: usize, v: &[f64], w: &mut Vec<f64>) {
        let n = v.len();
        w.resize(n, 0.0);
        let x = self.row(i);
        for (k, &xk) in x.iter().enumerate() {
            let col = &self.bt[k * n..(k + 1) * n];
            if k == 0 {
                for (s, &y) in w.iter_mut().zip(col) {
                    let d = xk - y;
                    *s = d * d;
                }
            } else {
                for (s, &y) in w.iter_mut().zip(col) {
                    let d = xk - y;
                    *s += d * d;
                }
            }
        }
        if self.p == 1 {
            w.iter_mut().for_each(|s| *s = s.sqrt());
        }
        for (s, &vj) in w.iter_mut().zip(v) {
            *s -= vj;
        }
    }
    /// The `best.len()` columns j of least w_j = c_ij - v_j, ascending (ties: least j), as
    /// (w_j, j); `w` is scratch.
    fn least(&self, i: usize, v: &[f64], w: &mut Vec<f64>, best: &mut [(f64, u32)]) {
        self.values(i, v, w);
        best.fill((f64::INFINITY, NONE));
        let k = best.len();
        let mut worst = f64::INFINITY;
        for (j, &r) in w.iter().enumerate() {
            if r < worst {
                let mut s = k - 1;
                while s > 0 && best[s - 1].0 > r {
                    best[s] = best[s - 1];
                    s -= 1;
                }
                best[s] = (r, j as u32);
                worst = best[k - 1].0;
            }
        }
    }
    /// For every row, [`Self::least`] with `k` entries, in parallel (the result does not
    /// depend on the thread count): n x k entries, row-major.
    fn scan(&self, v: &[f64], k: usize) -> Vec<(f64, u32)> {
        let mut out = vec![(0.0, NONE); self.a.len() / self.dim * k];
        out.par_chunks_mut(k)
            .enumerate()
            .for_each_init(Vec::new, |w, (i, best)| self.least(i, v, w, best));
        out
    }
    /// The largest cost between the two sets' bounding boxes (an upper bound on every c_ij).
    fn diameter(&self) -> f64 {
        let (mut lo, mut hi) = (
            vec![f64::INFINITY; self.dim],
            vec![f64::NEG_INFINITY; self.dim],
        );
        for x in self
            .a
            .chunks_exact(self.dim)
            .chain(self.b.chunks_exact(self.dim))
        {
            for (k, &t) in x.iter().enumerate() {
                lo[k] = lo[k].min(t);
                hi[k] = hi[k].max(t);
            }
        }
        cost(&lo, &hi, self.p)
    }
}

/// Columns per leaf of [`Blocks`].
const LEAF: usize = 16;

/// Largest dimension for which [`Blocks`] prune (bounding boxes say little beyond it).
const MAX_BLOCK_DIM: usize = 8;

/// A node of [`Blocks`]' tree: the columns at positions start..end.
#[derive(Clone, Copy)]
struct Node {
    start: u32,
    end: u32,
    /// Children (NONE for a leaf).
    kids: [u32; 2],
    parent: u32,
}

/// The columns in a median-split k-d tree (leaves of at most `LEAF` columns), each node with
/// its bounding box and largest v_j, so that the search for a row's least c_ij - v_j (best
/// first over nodes) skips every node with c(x, box) - max v >= the current k-th best
/// (c(x, box) <= c(x, y) for y in the box, also in floating point: clamping and rounding are
/// monotone).
struct Blocks {
    dim: usize,
    p: u32,
    n: usize,
    /// perm[pos] = j: the columns in tree order.
    perm: Vec<u32>,
    /// Tree order position of column j.
    pos_of: Vec<u32>,
    /// Leaf holding each position.
    leaf_of: Vec<u32>,
    /// Coordinates in tree order, coordinate-major (xs[k n + pos]).
    xs: Vec<f64>,
    /// v in tree order.
    vp: Vec<f64>,
    nodes: Vec<Node>,
    /// Bounding boxes, dim entries per node.
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// Largest v_j under each node.
    maxv: Vec<f64>,
    stack: Vec<(f64, u32)>,
}

impl Blocks {
    fn new(b: &[f64], dim: usize, p: u32, v: &[f64]) -> Self {
        let n = v.len();
        let mut perm: Vec<u32> = (0..n as u32).collect();
        let mut s = Blocks {
            dim,
            p,
            n,
            perm: Vec::new(),
            pos_of: vec![0; n],
            leaf_of: vec![0; n],
            xs: vec![0.0; n * dim],
            vp: vec![0.0; n],
            nodes: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
            maxv: Vec::new(),
            stack: Vec::new(),
        };
        s.split(&mut perm, b, 0, NONE);
        for (pos, &j) in perm.iter().enumerate() {
            s.pos_of[j as usize] = pos as u32;
            for k in 0..dim {
                s.xs[k * n + pos] = b[j as usize * dim + k];
            }
        }
        s.perm = perm;
        s.maxv = vec![0.0; s.nodes.len()];
        s.set_v(v);
        s
    }

    /// Adds the node of the columns `idx` (at positions offset..) and, unless it is a leaf,
    /// its two halves split at the median of the widest coordinate; returns its id.
    fn split(&mut self, idx: &mut [u32], b: &[f64], offset: usize, parent: u32) -> u32 {
        let dim = self.dim;
        let id = self.nodes.len();
        let (mut lo, mut hi) = (vec![f64::INFINITY; dim], vec![f64::NEG_INFINITY; dim]);
        for &j in idx.iter() {
            for k in 0..dim {
                lo[k] = lo[k].min(b[j as usize * dim + k]);
                hi[k] = hi[k].max(b[j as usize * dim + k]);
            }
        }
        self.lo.extend_from_slice(&lo);
        self.hi.extend_from_slice(&hi);
        self.nodes.push(Node {
            start: offset as u32,
            end: (offset + idx.len()) as u32,
            kids: [NONE; 2],
            parent,
        });
        if idx.len() <= LEAF {
            for pos in offset..offset + idx.len() {
                self.leaf_of[pos] = id as u32;
            }
            return id as u32;
        }
        let k = (0..dim)
            .max_by(|&x, &y| (hi[x] - lo[x]).total_cmp(&(hi[y] - lo[y])))
            .unwrap_or(0);
        let mid = idx.len() / 2;
        idx.select_nth_unstable_by(mid, |&x, &y| {
            b[x as usize * dim + k]
                .total_cmp(&b[y as usize * dim + k])
                .then(x.cmp(&y))
        });
        let (l, r) = idx.split_at_mut(mid);
        let left = self.split(l, b, offset, id as u32);
        let right = self.split(r, b, offset + mid, id as u32);
        self.nodes[id].kids = [left, right];
        id as u32
    }

    /// Copies v (column order) into tree order and recomputes every node's maximum.
    fn set_v(&mut self, v: &[f64]) {
        for (pos, &j) in self.perm.iter().enumerate() {
            self.vp[pos] = v[j as usize];
        }
        // Children come after their parent: a reverse sweep sees them first.
        for id in (0..self.nodes.len()).rev() {
            self.maxv[id] = self.node_max(id);
        }
    }

    fn node_max(&self, id: usize) -> f64 {
        let nd = self.nodes[id];
        if nd.kids[0] == NONE {
            self.vp[nd.start as usize..nd.end as usize]
                .iter()
                .fold(f64::NEG_INFINITY, |m, &x| m.max(x))
        } else {
            self.maxv[nd.kids[0] as usize].max(self.maxv[nd.kids[1] as usize])
        }
    }

    /// v_j was lowered to `vj`: updates the maxima on the path to the root.
    fn update(&mut self, j: usize, vj: f64) {
        let pos = self.pos_of[j] as usize;
        let old = self.vp[pos];
        self.vp[pos] = vj;
        let mut id = self.leaf_of[pos];
        while id != NONE && old >= self.maxv[id as usize] {
            let m = self.node_max(id as usize);
            if m == self.maxv[id as usize] {
                break;
            }
            self.maxv[id as usize] = m;
            id = self.nodes[id as usize].parent;
        }
    }

    /// c(x, box of node) - max v under it: a lower bound on c(x, b_j) - v_j below the node.
    fn lower(&self, x: &[f64], id: usize) -> f64 {
        let dim = self.dim;
        let (lo, hi) = (&self.lo[id * dim..][..dim], &self.hi[id * dim..][..dim]);
        let d2: f64 = x
            .iter()
            .zip(lo.iter().zip(hi))
            .map(|(&t, (&l, &h))| {
                let d = t - t.max(l).min(h);
                d * d
            })
            .sum();
        (if self.p == 2 { d2 } else { d2.sqrt() }) - self.maxv[id]
    }

    /// [`Points::least`] by the tree: the `best.len()` columns of least c(x, b_j) - v_j.
    fn least(&mut self, x: &[f64], best: &mut [(f64, u32)]) {
        let (n, p) = (self.n, self.p);
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        stack.push((self.lower(x, 0), 0u32));
        best.fill((f64::INFINITY, NONE));
        let k = best.len();
        let mut worst = f64::INFINITY;
        // Depth first, the nearer child first.
        while let Some((lb, id)) = stack.pop() {
            if lb >= worst {
                continue;
            }
            let nd = self.nodes[id as usize];
            if nd.kids[0] != NONE {
                let [l, r] = nd.kids;
                let (bl, br) = (self.lower(x, l as usize), self.lower(x, r as usize));
                let (near, far) = if bl <= br {
                    ((bl, l), (br, r))
                } else {
                    ((br, r), (bl, l))
                };
                if far.0 < worst {
                    stack.push(far);
                }
                if near.0 < worst {
                    stack.push(near);
                }
                continue;
            }
            for pos in nd.start as usize..nd.end as usize {
                let mut d2 = 0.0;
                for (kk, &t) in x.iter().enumerate() {
                    let d = t - self.xs[kk * n + pos];
                    d2 = if kk == 0 { d * d } else { d2 + d * d };
                }
                let r = if p == 2 { d2 } else { d2.sqrt() } - self.vp[pos];
                if r < worst {
                    let mut s = k - 1;
                    while s > 0 && best[s - 1].0 > r {
                        best[s] = best[s - 1];
                        s -= 1;
                    }
                    best[s] = (r, self.perm[pos]);
                    worst = best[k - 1].0;
                }
            }
        }
        self.stack = stack;
    }
}

/// The solver's state.
struct Solver<'a> {
    pts: &'a Points<'a>,
    n: usize,
    /// List length: K, or n when n <= K (then every list holds every column).
    kc: usize,
    /// Candidate lists (column, cost), `kc` per row.
    cand: Vec<(u32, f64)>,
    /// B_i: c_ij - v_j >= B_i for every column j outside row i's list.
    bound: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    col4row: Vec<u32>,
    row4col: Vec<u32>,
    stats: Stats,
    // Dijkstra buffers, reset after each augmentation.
    dist: Vec<f64>,
    row_dist: Vec<f64>,
    path: Vec<u32>,
    done: Vec<bool>,
    touched: Vec<u32>,
    scanned_rows: Vec<u32>,
    scanned_cols: Vec<u32>,
    heap: BinaryHeap<Key>,
    buf: Vec<(f64, u32)>,
    w: Vec<f64>,
    /// Spatial blocks of the columns for the auction's rebuilds (dim <= `MAX_BLOCK_DIM`).
    blocks: Option<Blocks>,
}

impl<'a> Solver<'a> {
    /// v = 0, no assignment, lists of each row's nearest columns.
    fn new(pts: &'a Points<'a>) -> Self {
        let n = pts.a.len() / pts.dim;
        let kc = K.min(n);
        let mut s = Solver {
            pts,
            n,
            kc,
            cand: vec![(NONE, 0.0); n * kc],
            bound: vec![f64::INFINITY; n],
            u: vec![0.0; n],
            v: vec![0.0; n],
            col4row: vec![NONE; n],
            row4col: vec![NONE; n],
            stats: Stats::default(),
            dist: vec![f64::INFINITY; n],
            row_dist: vec![0.0; n],
            path: vec![NONE; n],
            done: vec![false; n],
            touched: Vec::new(),
            scanned_rows: Vec::new(),
            scanned_cols: Vec::new(),
            heap: BinaryHeap::new(),
            buf: Vec::new(),
            w: Vec::new(),
            blocks: None,
        };
        s.rebuild_all();
        s
    }

    /// Entries per row of a full pass: the list and, when columns are left out, the bound.
    fn k1(&self) -> usize {
        if self.n > self.kc {
            self.kc + 1
        } else {
            self.kc
        }
    }

    /// Row i's list and bound from the `k1` least (c_ij - v_j, j) in `best`.
    fn set_list(&mut self, i: usize, best: &[(f64, u32)]) {
        let kc = self.kc;
        for (slot, &(_, j)) in self.cand[i * kc..(i + 1) * kc].iter_mut().zip(best) {
            *slot = (j, self.pts.c(i, j as usize));
        }
        self.bound[i] = if best.len() > kc {
            best[kc].0
        } else {
            f64::INFINITY
        };
    }

    /// Rebuilds every row's list from the current v (a parallel full pass); returns each
    /// row's min_j (c_ij - v_j).
    fn rebuild_all(&mut self) -> Vec<f64> {
        let k1 = self.k1();
        let all = self.pts.scan(&self.v, k1);
        let mut m = Vec::with_capacity(self.n);
        for (i, best) in all.chunks(k1).enumerate() {
            self.set_list(i, best);
            m.push(best[0].0);
        }
        m
    }

    /// Rebuilds row i's list from the current v (O(n dim)).
    fn rebuild(&mut self, i: usize) {
        self.stats.rebuilds += 1;
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(self.k1(), (0.0, NONE));
        match &mut self.blocks {
            Some(bl) => bl.least(self.pts.row(i), &mut buf),
            None => self.pts.least(i, &self.v, &mut self.w, &mut buf),
        }
        self.set_list(i, &buf);
        self.buf = buf;
    }

    /// Row i's least and second least w_ij = c_ij - v_j over all columns, and the column of
    /// the least: (w1, w2, j1) (w2 = inf when n = 1). Rebuilds the list when it cannot prove
    /// both.
    fn best2(&mut self, i: usize) -> (f64, f64, usize) {
        for pass in 0..2 {
            let (mut w1, mut w2, mut j1) = (f64::INFINITY, f64::INFINITY, NONE);
            for &(j, c) in &self.cand[i * self.kc..(i + 1) * self.kc] {
                let w = c - self.v[j as usize];
                if w < w1 || (w == w1 && j < j1) {
                    w2 = w1;
                    w1 = w;
                    j1 = j;
                } else if w < w2 {
                    w2 = w;
                }
            }
            if w2 <= self.bound[i] || pass == 1 {
                return (w1, w2.min(self.bound[i]), j1 as usize);
            }
            self.rebuild(i);
        }
        unreachable!()
    }

    /// The epsilon-scaling auction (module doc, step 1): leaves an assignment and duals v.
    fn auction(&mut self) {
        let diam = self.pts.diameter();
        if diam == 0.0 || self.n == 1 {
            return;
        }
        if self.pts.dim <= MAX_BLOCK_DIM {
            self.blocks = Some(Blocks::new(self.pts.b, self.pts.dim, self.pts.p, &self.v));
        }
        let eps_final = EPS_FINAL * diam;
        let mut eps = diam / 4.0;
        let mut queue = VecDeque::with_capacity(self.n);
        loop {
            self.stats.phases += 1;
            // Keep the rows that satisfy eps-CS for the new eps.
            for i in 0..self.n {
                let j = self.col4row[i];
                if j == NONE {
                    queue.push_back(i);
                    continue;
                }
                let (w1, _, _) = self.best2(i);
                let w = self.pts.c(i, j as usize) - self.v[j as usize];
                if w > w1 + eps {
                    self.col4row[i] = NONE;
                    self.row4col[j as usize] = NONE;
                    queue.push_back(i);
                }
            }
            while let Some(i) = queue.pop_front() {
                self.stats.bids += 1;
                let (w1, w2, j1) = self.best2(i);
                self.v[j1] -= w2 - w1 + eps;
                if let Some(bl) = &mut self.blocks {
                    bl.update(j1, self.v[j1]);
                }
                let prev = self.row4col[j1];
                if prev != NONE {
                    self.col4row[prev as usize] = NONE;
                    queue.push_back(prev as usize);
                }
                self.row4col[j1] = i as u32;
                self.col4row[i] = j1 as u32;
            }
            if eps <= eps_final {
                break;
            }
            eps = (eps / THETA).max(eps_final);
        }
        // Later steps lower v without updating the blocks.
        self.blocks = None;
    }

    /// Relaxes the candidate edges of row i, scanned at distance `d`, and pushes its bound.
    fn relax(&mut self, i: usize, d: f64) {
        let ui = self.u[i];
        for &(j, c) in &self.cand[i * self.kc..(i + 1) * self.kc] {
            let ju = j as usize;
            if self.done[ju] {
                continue;
            }
            let r = d + (c - self.v[ju]) - ui;
            if r < self.dist[ju] {
                if self.dist[ju] == f64::INFINITY {
                    self.touched.push(j);
                }
                self.dist[ju] = r;
                self.path[ju] = i as u32;
                self.heap.push(Key(r, j));
            }
        }
        if self.bound[i] < f64::INFINITY {
            let key = d + self.bound[i] - ui;
            self.heap.push(Key(key, (self.n + i) as u32));
        }
    }

    /// Expands row i (scanned at distance D_i) for the current Dijkstra: relaxes all its
    /// columns not yet done, O(n dim).
    fn expand(&mut self, i: usize) {
        self.stats.expansions += 1;
        let (d, ui) = (self.row_dist[i], self.u[i]);
        let mut w = std::mem::take(&mut self.w);
        self.pts.values(i, &self.v, &mut w);
        for (j, &wj) in w.iter().enumerate() {
            if self.done[j] {
                continue;
            }
            let r = d + wj - ui;
            if r < self.dist[j] {
                if self.dist[j] == f64::INFINITY {
                    self.touched.push(j as u32);
                }
                self.dist[j] = r;
                self.path[j] = i as u32;
                self.heap.push(Key(r, j as u32));
            }
        }
        self.w = w;
    }

    /// One shortest augmenting path from the free row `start` (exact over all n^2 pairs, see
    /// the module doc), Crouse's dual update and the augmentation. Keeps c_ij - u_i - v_j >= 0
    /// for every pair and = 0 on assigned pairs.
    fn augment(&mut self, start: usize) -> anyhow::Result<()> {
        self.stats.augmentations += 1;
        let n = self.n;
        let mut min_val = 0.0;
        let mut i = start;
        let sink = loop {
            self.scanned_rows.push(i as u32);
            self.row_dist[i] = min_val;
            self.relax(i, min_val);
            let j = loop {
                let Some(Key(r, id)) = self.heap.pop() else {
                    anyhow::bail!("exact assignment: no augmenting path (internal error)");
                };
                let id = id as usize;
                if id >= n {
                    self.expand(id - n);
                } else if !self.done[id] && r <= self.dist[id] {
                    break id;
                }
            };
            min_val = self.dist[j];
            self.done[j] = true;
            self.scanned_cols.push(j as u32);
            if self.row4col[j] == NONE {
                break j;
            }
            i = self.row4col[j] as usize;
        };
        // Dual update (Crouse's, as in scipy's rectangular_lsap.cpp).
        self.u[start] += min_val;
        for &r in &self.scanned_rows[1..] {
            let r = r as usize;
            self.u[r] += min_val - self.dist[self.col4row[r] as usize];
        }
        for &j in &self.scanned_cols {
            let j = j as usize;
            self.v[j] -= min_val - self.dist[j];
        }
        // Augment along the path.
        let mut j = sink as u32;
        loop {
            let r = self.path[j as usize];
            self.row4col[j as usize] = r;
            std::mem::swap(&mut self.col4row[r as usize], &mut j);
            if r as usize == start {
                break;
            }
        }
        for &j in &self.touched {
            self.dist[j as usize] = f64::INFINITY;
            self.done[j as usize] = false;
        }
        self.touched.clear();
        self.scanned_rows.clear();
        self.scanned_cols.clear();
        self.heap.clear();
        Ok(())
    }

    /// Sets u_i = m_i (each row's min_j c_ij - v_j) and frees every row whose column does not
    /// attain it by more than `tol`; returns the freed rows.
    fn free_slack_rows(&mut self, m: &[f64], tol: f64) -> Vec<usize> {
        let mut free = Vec::new();
        for (i, &mi) in m.iter().enumerate() {
            let j = self.col4row[i];
            let slack = if j == NONE {
                f64::INFINITY
            } else {
                self.pts.c(i, j as usize) - self.v[j as usize] - mi
            };
            if slack > tol {
                self.u[i] = mi;
                if j != NONE {
                    self.row4col[j as usize] = NONE;
                    self.col4row[i] = NONE;
                }
                free.push(i);
            } else {
                self.u[i] = self.pts.c(i, j as usize) - self.v[j as usize];
            }
        }
        free
    }
}

/// The optimal assignment of rows `a` to columns `b` (n x dim each, f64, finite) under
/// c = |x - y|^p, p = 1 or 2, with its dual certificate (see the module doc).
pub fn solve(a: &[f64], b: &[f64], dim: usize, p: u32) -> anyhow::Result<Solution> {
    anyhow::ensure!(p == 1 || p == 2, "exact assignment supports p = 1 or 2");
    anyhow::ensure!(dim > 0, "exact assignment needs dim >= 1");
    let n = a.len() / dim;
    anyhow::ensure!(
        n > 0 && a.len() == n * dim && b.len() == n * dim,
        "exact assignment needs two non-empty sets of equal size"
    );
    anyhow::ensure!(n < (NONE / 2) as usize, "exact assignment: too many points");
    anyhow::ensure!(
        a.iter().chain(b).all(|x| x.is_finite()),
        "exact assignment: non-finite coordinate in the input"
    );
    let pts = Points::new(a, b, dim, p);
    let pts = &pts;
    let mut s = Solver::new(pts);
    s.auction();
    let mut m = s.rebuild_all();
    // Exact repair: only rows whose column attains the row minimum keep it.
    let mut free = s.free_slack_rows(&m, 0.0);
    let tol = loop {
        s.stats.rounds += 1;
        for &i in &free {
            s.augment(i)?;
        }
        // Certificate over all pairs.
        m = s.rebuild_all();
        let scale =
            s.u.iter()
                .chain(&s.v)
                .fold(0f64, |a, x| a.max(x.abs()))
                .max((0..n).fold(0f64, |a, i| a.max(pts.c(i, s.col4row[i] as usize))));
        let tol = REL_TOL * scale;
        // With u_i taken as c_{i pi(i)} - v_{pi(i)} (every assigned edge tight), dual feasibility
        // min_j (c_ij - v_j) >= u_i - tol for all i proves the total within n tol of the optimum.
        free = (0..n)
            .filter(|&i| {
                let j = s.col4row[i] as usize;
                m[i] < pts.c(i, j) - s.v[j] - tol
            })
            .collect();
        if free.is_empty() {
            break tol;
        }
        anyhow::ensure!(
            s.stats.rounds < MAX_ROUNDS,
            "exact assignment: no certificate after {MAX_ROUNDS} rounds (internal error)"
        );
        for &i in &free {
            s.u[i] = m[i];
            let j = s.col4row[i] as usize;
            s.row4col[j] = NONE;
            s.col4row[i] = NONE;
        }
    };
    let total = (0..n).map(|i| pts.c(i, s.col4row[i] as usize)).sum();
    Ok(Solution {
        col4row: s.col4row,
        u: s.u,
        v: s.v,
        total,
        stats: s.stats,
        tol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{fill_normal, Rng, RngStreams};
    use rand::Rng as _;

    /// A GMM-40-like draw: 40 means uniform in [-40, 40]^2 (fixed by `means_seed`), unit
    /// variance; a share `bad` of the rows uniform in [-80, 80]^2 instead.
    fn gmm_like(n: usize, bad: f64, means_seed: u64, rng: &mut Rng) -> Vec<f64> {
        let mut mr = RngStreams::new(means_seed).stream("means", 0);
        let means: Vec<[f64; 2]> = (0..40)
            .map(|_| [mr.random_range(-40.0..40.0), mr.random_range(-40.0..40.0)])
            .collect();
        let mut z = vec![0f32; 2 * n];
        fill_normal(rng, &mut z);
        let mut out = Vec::with_capacity(2 * n);
        for (i, zz) in z.chunks(2).enumerate() {
            if (i as f64) < bad * n as f64 {
                out.push(rng.random_range(-80.0..80.0));
                out.push(rng.random_range(-80.0..80.0));
            } else {
                let m = means[rng.random_range(0..40)];
                out.push(m[0] + zz[0] as f64);
                out.push(m[1] + zz[1] as f64);
            }
        }
        out
    }

    fn lsap_total(a: &[f64], b: &[f64], dim: usize, p: u32) -> f64 {
        let n = a.len() / dim;
        let mut c = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = cost(&a[i * dim..][..dim], &b[j * dim..][..dim], p);
            }
        }
        let (r, cc) = lsap::solve(n, n, &c, false).unwrap();
        r.iter().zip(&cc).map(|(&i, &j)| c[i * n + j]).sum()
    }

    /// Checks, over all pairs, that the returned permutation and column duals prove optimality:
    /// with u_i = c_{i pi(i)} - v_{pi(i)} (assigned edges tight by definition, the solver's own
    /// u unused) every reduced cost c_ij - u_i - v_j is >= -tol, and tol is rounding-sized.
    fn check_certificate(s: &Solution, a: &[f64], b: &[f64], dim: usize, p: u32) {
        let n = s.u.len();
        let c = |i: usize, j: usize| cost(&a[i * dim..][..dim], &b[j * dim..][..dim], p);
        let mut seen = vec![false; n];
        let mut big = 0f64;
        for i in 0..n {
            let j = s.col4row[i] as usize;
            assert!(!seen[j], "column {j} assigned twice");
            seen[j] = true;
            big = big.max(c(i, j)).max(s.v[j].abs());
        }
        assert!(
            s.tol <= 1e-12 * (1.0 + 2.0 * big),
            "tol {} against scale {big}",
            s.tol
        );
        for i in 0..n {
            let j = s.col4row[i] as usize;
            let u = c(i, j) - s.v[j];
            for jj in 0..n {
                let r = c(i, jj) - u - s.v[jj];
                assert!(r >= -s.tol, "reduced cost {r} < -{} at ({i}, {jj})", s.tol);
            }
        }
    }

    #[test]
    fn matches_lsap_on_random_sets() {
        let mut rng = RngStreams::new(11).stream("t", 0);
        for (case, &(n, dim)) in [
            (1, 1),
            (2, 1),
            (3, 2),
            (7, 3),
            (12, 1),
            (30, 2),
            (50, 5),
            (64, 4),
            (101, 2),
            (150, 3),
        ]
        .iter()
        .enumerate()
        {
            for p in [1, 2] {
                let mut z = vec![0f32; 2 * n * dim];
                fill_normal(&mut rng, &mut z);
                let mut x: Vec<f64> = z.iter().map(|&t| t as f64).collect();
                if case % 3 == 1 {
                    // Ties: a coarse integer grid.
                    x.iter_mut().for_each(|t| *t = (*t * 2.0).round());
                }
                if case % 3 == 2 && n > 2 {
                    // Duplicated points on both sides (rows 0..n are a, n..2n are b).
                    for i in 1..2 * n {
                        if i % 2 == 0 {
                            let (h, t) = x.split_at_mut(i * dim);
                            t[..dim].copy_from_slice(&h[..dim]);
                        }
                    }
                }
                let (a, b) = x.split_at(n * dim);
                let s = solve(a, b, dim, p).unwrap();
                let want = lsap_total(a, b, dim, p);
                assert!(
                    (s.total - want).abs() <= 1e-12 * want.max(1e-300),
                    "n {n} dim {dim} p {p}: {} vs lsap {want}",
                    s.total
                );
                check_certificate(&s, a, b, dim, p);
            }
        }
    }

    #[test]
    fn bad_set_matches_lsap_and_certificate_holds() {
        // Half the rows 50 units away, n = 600; and the GMM-like bad set at n = 2,000 checked
        // by its certificate over all 4 million pairs.
        let mut rng = RngStreams::new(12).stream("t", 0);
        let n = 600;
        let mut z = vec![0f32; 4 * n];
        fill_normal(&mut rng, &mut z);
        let mut x: Vec<f64> = z.iter().map(|&t| t as f64).collect();
        for i in 0..n / 2 {
            x[2 * i] += 50.0;
        }
        let (a, b) = x.split_at(2 * n);
        for p in [1, 2] {
            let s = solve(a, b, 2, p).unwrap();
            let want = lsap_total(a, b, 2, p);
            assert!(
                (s.total - want).abs() <= 1e-12 * want,
                "{} vs {want}",
                s.total
            );
            check_certificate(&s, a, b, 2, p);
        }
        let n = 2000;
        let a = gmm_like(n, 0.45, 7, &mut rng);
        let b = gmm_like(n, 0.0, 7, &mut rng);
        let s = solve(&a, &b, 2, 2).unwrap();
        check_certificate(&s, &a, &b, 2, 2);
    }

    #[test]
    fn high_dimension_matches_lsap() {
        // LJ-55-sized rows (dim 165): the brute-force path (no k-d tree).
        let mut rng = RngStreams::new(14).stream("t", 0);
        let (n, dim) = (120, 165);
        let mut z = vec![0f32; 2 * n * dim];
        fill_normal(&mut rng, &mut z);
        let x: Vec<f64> = z.iter().map(|&t| t as f64).collect();
        let (a, b) = x.split_at(n * dim);
        for p in [1, 2] {
            let s = solve(a, b, dim, p).unwrap();
            let want = lsap_total(a, b, dim, p);
            assert!(
                (s.total - want).abs() <= 1e-12 * want,
                "{} vs {want}",
                s.total
            );
            check_certificate(&s, a, b, dim, p);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(solve(&[0.0, 1.0], &[0.0], 1, 2).is_err());
        assert!(solve(&[0.0], &[f64::NAN], 1, 2).is_err());
        assert!(solve(&[0.0], &[1.0], 1, 3).is_err());
        assert!(solve(&[], &[], 1, 2).is_err());
    }

    #[test]
    #[ignore = "timing: cargo test -p nsamp-core --lib candidate_lap::tests::timing -- --ignored --nocapture"]
    fn timing() {
        let mut rng = RngStreams::new(13).stream("t", 0);
        for n in [2000, 5000, 10000, 20000] {
            let b = gmm_like(n, 0.0, 7, &mut rng);
            for bad in [0.0, 0.45] {
                let a = gmm_like(n, bad, 7, &mut rng);
                for p in [2, 1] {
                    let t = std::time::Instant::now();
                    let s = solve(&a, &b, 2, p).unwrap();
                    println!(
                        "n {n} dim 2 bad {bad} p {p}: {:.2} s, {:?}, mean cost {:.6}",
                        t.elapsed().as_secs_f64(),
                        s.stats,
                        s.total / n as f64
                    );
                }
            }
        }
        for n in [1000, 2000] {
            let dim = 165;
            let mut z = vec![0f32; 2 * n * dim];
            fill_normal(&mut rng, &mut z);
            let x: Vec<f64> = z.iter().map(|&t| t as f64).collect();
            let (a, b) = x.split_at(n * dim);
            let t = std::time::Instant::now();
            let s = solve(a, b, dim, 2).unwrap();
            println!(
                "n {n} dim {dim} normal p 2: {:.2} s, {:?}",
                t.elapsed().as_secs_f64(),
                s.stats
            );
        }
    }
}
