//! Emission of kept loops and buffers (see [`crate::region`]).
//!
//! A kept loop is emitted twice: where the forward pass runs it, as the user's loop with the
//! carried variables as `let mut` variables, pushing what its reverse needs on the tape; and
//! where the reverse sweep reaches it, as the loop over the same range reversed, popping those
//! values and accumulating adjoints. A fused loop (a reduction whose adjoints are constants)
//! runs its reverse body inside the forward loop and keeps no tape.
//!
//! Before / after, for `let mut s = 0.0; for i in 0..N { s += x[i] * x[i]; }` with `s` the
//! result:
//!
//! ```text
//! let mut d_x = [0.0; N];
//! let mut s = 0.0;
//! for i in 0..N {
//!     s = s + x[i] * x[i];
//!     d_x[i] += x[i] + x[i];
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use super::{float_type, literal, unique, Home, Plan, PlanSpec, Prec, Taken};
use crate::ir::{FloatTy, Graph, Id, Node, Op};
use crate::lower::Function;
use crate::region::{Affine, ArrayRef, Input, Region};

/// What every plan of a function shares: the names of its arrays and of the tape.
pub(super) struct Ctx {
    float: FloatTy,
    /// The function's parameters, by index.
    params: Vec<Ident>,
    buffers: Vec<Ident>,
    d_buffers: Vec<Ident>,
    buffer_shapes: Vec<Vec<usize>>,
    /// The parameters whose gradient kept loops accumulate, with the array's name.
    pub d_params: BTreeMap<usize, Ident>,
    /// The parameters that kept loops read.
    pub params_loaded: BTreeSet<usize>,
    tape: Option<Ident>,
    /// Whether the function has kept loops or buffers.
    pub has_loops: bool,
    /// Each array parameter by the node of its first element: its element nodes in row-major
    /// order, and the expression of the whole array (`x`, or `*x` for a reference), so that a
    /// buffer made of a whole parameter is a copy of it, not a literal of its elements.
    whole_params: BTreeMap<Id, (Vec<Id>, TokenStream)>,
    /// Parameters whose gradient array one loop of the function's body writes, each element
    /// at most once over the whole loop, and nothing else adds to: that loop assigns its
    /// adjoints (`d_x[2 * i] = a`) instead of adding them to the zeroed array. By parameter,
    /// the loop's region. See [`sole_writers`].
    sole_writers: BTreeMap<usize, u32>,
}

impl Ctx {
    pub fn new(f: &Function, graph: &Graph, gradient: &[Id], taken: &mut Taken) -> Ctx {
        let mut loaded = BTreeSet::new();
        let mut differentiated_loads = BTreeSet::new();
        let mut tape = false;
        let mut has_loops = !f.buffers.is_empty();
        visit_regions(graph, &mut |region| {
            has_loops = true;
            let adjoint = region.adjoint.as_ref();
            tape |= adjoint.is_some_and(|a| !a.fused);
            for input in &region.inputs {
                if let Input::Load {
                    array: ArrayRef::Param { param, .. },
                    ..
                } = input
                {
                    loaded.insert(*param);
                }
            }
            let adjoint_loads = param_loads_with_adjoints(region).map(|load| load.param);
            differentiated_loads.extend(adjoint_loads.filter(|&p| f.params[p].differentiated));
        });
        let ident = |name: String| Ident::new(&name, Span::call_site());
        let buffers: Vec<Ident> = f
            .buffers
            .iter()
            .map(|b| ident(unique(&b.name, taken)))
            .collect();
        let d_buffers = f
            .buffers
            .iter()
            .map(|b| ident(unique(&format!("d_{}", b.name), taken)))
            .collect();
        let d_params = differentiated_loads
            .iter()
            .map(|&p| {
                let name = super::unraw(&f.params[p].ident);
                (p, ident(unique(&format!("d_{name}"), taken)))
            })
            .collect();
        Ctx {
            float: graph.float(),
            params: f.params.iter().map(|p| p.ident.clone()).collect(),
            buffers,
            d_buffers,
            buffer_shapes: f.buffers.iter().map(|b| b.shape.clone()).collect(),
            d_params,
            params_loaded: loaded,
            tape: tape.then(|| ident(unique("tape", taken))),
            has_loops,
            whole_params: whole_params(f),
            sole_writers: sole_writers(f, graph, gradient),
        }
    }

    /// The arrays of gradients that kept loops accumulate, and the tape, declared first.
    pub fn declarations(&self, f: &Function) -> Vec<TokenStream> {
        let mut out = Vec::new();
        for (&p, d) in &self.d_params {
            let zeros = self.zeros(&f.params[p].shape);
            out.push(quote!(let mut #d = #zeros;));
        }
        if let Some(tape) = &self.tape {
            let ty = float_type(self.float);
            out.push(quote!(let mut #tape: ::std::vec::Vec<#ty> = ::std::vec::Vec::new();));
        }
        out
    }

    /// The adjoint array of buffer `buf`.
    pub fn buffer_adjoint(&self, buf: u32) -> &Ident {
        &self.d_buffers[buf as usize]
    }

    /// The shape of buffer `buf`.
    pub fn buffer_shape(&self, buf: u32) -> &[usize] {
        &self.buffer_shapes[buf as usize]
    }

    fn zeros(&self, shape: &[usize]) -> TokenStream {
        let zero = literal(0.0, self.float).0;
        shape.iter().rev().fold(zero, |inner, &len| {
            let len = Literal::usize_unsuffixed(len);
            quote!([#inner; #len])
        })
    }

    /// `name[i][j]...` for an element of a parameter or buffer at affine indices.
    fn element(
        &self,
        array: &ArrayRef,
        index: &[Affine],
        vars: &[Ident],
        adjoint: bool,
    ) -> TokenStream {
        let (name, prefix) = match array {
            ArrayRef::Param { param, prefix } => {
                let name = if adjoint {
                    self.d_params.get(param).cloned()
                } else {
                    self.params.get(*param).cloned()
                };
                (name, prefix.clone())
            }
            ArrayRef::Buffer(b) => {
                let names = if adjoint {
                    &self.d_buffers
                } else {
                    &self.buffers
                };
                (names.get(*b as usize).cloned(), Vec::new())
            }
        };
        let prefix = prefix.iter().map(|&i| Literal::usize_unsuffixed(i));
        let index = index.iter().map(|a| affine(a, vars));
        quote!(#name #([#prefix])* #([#index])*)
    }

    /// The element of buffer `b` at a flat index, as `[i][j]` indices.
    fn buffer_index(&self, b: u32, flat: u32) -> Vec<Affine> {
        let shape = &self.buffer_shapes[b as usize];
        let mut rest = flat as usize;
        let mut index = vec![0usize; shape.len()];
        for (k, &len) in shape.iter().enumerate().rev() {
            index[k] = rest % len.max(1);
            rest /= len.max(1);
        }
        index
            .into_iter()
            .map(|i| Affine::constant(i as i64))
            .collect()
    }
}

/// Calls `f` on every region of `graph`, nested ones included.
fn visit_regions(graph: &Graph, f: &mut dyn FnMut(&Region)) {
    for region in &graph.regions {
        f(region);
        visit_regions(&region.body, f);
    }
}

/// An affine of loop variables as a `usize` expression: the terms added first, then the
/// subtracted ones, so that no intermediate value is negative.
fn affine(a: &Affine, vars: &[Ident]) -> TokenStream {
    let term = |level: u32, c: i64| {
        let var = vars.get(level as usize).cloned();
        let c = c.unsigned_abs();
        if c == 1 {
            quote!(#var)
        } else {
            let c = Literal::u64_unsuffixed(c);
            quote!(#c * #var)
        }
    };
    let mut added: Vec<TokenStream> = a
        .terms
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|&(l, c)| term(l, c))
        .collect();
    let mut subtracted: Vec<TokenStream> = a
        .terms
        .iter()
        .filter(|(_, c)| *c < 0)
        .map(|&(l, c)| term(l, c))
        .collect();
    let constant = Literal::u64_unsuffixed(a.constant.unsigned_abs());
    if a.constant > 0 || added.is_empty() && a.constant == 0 {
        added.push(quote!(#constant));
    } else if a.constant < 0 {
        subtracted.push(quote!(#constant));
    }
    if added.is_empty() {
        added.push(quote!(0));
    }
    quote!(#(#added)+* #(- #subtracted)*)
}

/// A carried variable's end-of-iteration value, read by the reversed body without a tape.
struct Shift {
    /// The body node of the value.
    next: Id,
    /// The local the reversed body reads it from.
    local: Ident,
    /// The value at the end of the iteration being reversed, stepped back one iteration at a
    /// time.
    running: Ident,
    /// The popped start value of the iteration: the end value of the one reversed next.
    start: Ident,
    /// The forward loop's carried variable, which holds the loop's result.
    result: Ident,
}

/// The decisions for one kept loop.
pub(super) struct RegionPlan<'a> {
    region: &'a Region,
    var: Ident,
    carried: Vec<Ident>,
    d_carried: Vec<Ident>,
    /// The adjoint accumulator of each captured operand whose adjoint is read.
    d_captured: BTreeMap<usize, Ident>,
    forward: Plan<'a>,
    reverse: Option<Plan<'a>>,
    /// Forward values the reverse body reads, in the order they are pushed, each with the
    /// name the reversed body pops it into and the expression the forward body pushes.
    taped: Vec<(Id, Ident, TokenStream)>,
    /// Carried values at the end of an iteration that the reverse body reads, not taped: the
    /// value at the end of iteration `i` is the one at the start of iteration `i + 1`, which
    /// the tape holds, or the loop's result for the last. See [`shift_carried`].
    shifted: Vec<Shift>,
    /// The locals that hold the seeds as a reversed iteration starts, by input.
    seeds: BTreeMap<usize, Ident>,
    fused: bool,
    /// The region's index if it is a loop of the function's body.
    top_index: Option<u32>,
}

impl<'a> Plan<'a> {
    /// Plans every live kept loop of this graph, naming the variables its nodes stand for.
    pub(super) fn plan_loops(&mut self, taken: &mut Taken) {
        let mut loops: BTreeMap<u32, (Option<Id>, Option<Id>)> = BTreeMap::new();
        for &id in &self.live {
            match self.graph.op(id) {
                Op::Loop { region, .. } => loops.entry(region).or_default().0 = Some(id),
                Op::LoopAdj { region, .. } => loops.entry(region).or_default().1 = Some(id),
                _ => {}
            }
        }
        for (r, (id, adj)) in loops {
            let plan = self.plan_region(id, adj, r, taken);
            self.loops.insert(r, plan);
        }
    }

    /// Plans region `r`, whose forward loop is `id` and reversed loop `adj` where this graph
    /// emits them (a reversed body emits only the reversed loop of a loop inside it: the
    /// forward one ran in the forward body).
    fn plan_region(
        &mut self,
        id: Option<Id>,
        adj: Option<Id>,
        r: u32,
        taken: &mut Taken,
    ) -> RegionPlan<'a> {
        let graph: &'a Graph = self.graph;
        let region = &graph.regions[r as usize];
        // The reversed loop's node, wherever it is emitted: the names of its results, and so
        // what the reversed body computes and the forward body pushes, must not depend on
        // which of the two plans asks.
        let reversed_here = adj.is_some();
        let adj = adj.or_else(|| {
            (0..graph.len())
                .map(Id::new)
                .find(|&a| matches!(graph.op(a), Op::LoopAdj { region, .. } if region == r))
        });
        let ident = |name: String| Ident::new(&name, Span::call_site());
        let var = ident(unique(&region.var, taken));
        let mut vars = self.vars.clone();
        vars.push(var.clone());
        let mut carried = Vec::new();
        let mut d_carried = Vec::new();
        for (k, c) in region.carried.iter().enumerate() {
            let name = ident(unique(&c.name, taken));
            if let Some(out) = id.and_then(|id| graph.lookup(&node(Op::LoopOut(k as u32), id))) {
                self.names.insert(out, name.clone());
            }
            carried.push(name);
            let d = ident(unique(&format!("d_{}", c.name), taken));
            if let Some(out) =
                adj.and_then(|a| graph.lookup(&node(Op::LoopAdjOut(c.init as u32), a)))
            {
                self.names.insert(out, d.clone());
            }
            d_carried.push(d);
        }
        let mut d_captured = BTreeMap::new();
        for input in &region.inputs {
            let Input::Captured(k) = input else { continue };
            let Some(out) = adj.and_then(|a| graph.lookup(&node(Op::LoopAdjOut(*k as u32), a)))
            else {
                continue;
            };
            let operand = region.operands[*k];
            // `d_` and the name of the value, or of the parameter element (`w[3]` gives
            // `d_w_3`).
            let base = match self.names.get(&operand) {
                Some(name) => super::unraw(name),
                None => identifier(&self.reference(operand).0.to_string()),
            };
            let d = ident(unique(&format!("d_{base}"), taken));
            self.names.insert(out, d.clone());
            d_captured.insert(*k, d);
        }
        let adjoint = region.adjoint.as_ref().filter(|_| adj.is_some());
        let fused = adjoint.is_some_and(|a| a.fused);
        let reverse_roots = adjoint.map(|a| reverse_roots(region, a, &d_captured, self.ctx));
        let mut taped_ids = match (&reverse_roots, adjoint) {
            (Some(roots), Some(a)) => taped(region, roots, a.forward_len),
            _ => Vec::new(),
        };
        // Both loops emitted by this plan, the forward one in its outermost block: its
        // carried variables are then in scope wherever the reversed loop is.
        let forward_at_top = id.is_some_and(|id| {
            !self.params.contains_key(&id)
                && self.blocks.get(&Home::Top).is_some_and(|b| b.contains(&id))
        });
        let same_block = forward_at_top && reversed_here && !fused;
        let shifts = if same_block {
            shift_carried(region, &mut taped_ids)
        } else {
            Vec::new()
        };
        let access = self.input_access(region, &carried, &vars);
        let mut forward_roots: Vec<Id> = region.roots();
        forward_roots.extend(taped_ids.iter().copied());
        let forward_spec = PlanSpec {
            roots: forward_roots,
            params: access.clone(),
            user_names: &region.names,
            wanted: BTreeMap::new(),
            forced: taped_ids.iter().copied().collect(),
            vars: vars.clone(),
        };
        let mut forward = Plan::build(&region.body, forward_spec, self.ctx, taken);
        let taped: Vec<(Id, Ident, TokenStream)> = taped_ids
            .iter()
            .map(|&t| match forward.names.get(&t) {
                Some(name) => (t, name.clone(), quote!(#name)),
                None => {
                    let base = match region.body.op(t) {
                        Op::Param(k) => match &region.inputs[k as usize] {
                            Input::Carried(c) => format!("{}_start", region.carried[*c].name),
                            _ => "element".to_string(),
                        },
                        _ => "t".to_string(),
                    };
                    let name = ident(unique(&base, taken));
                    (t, name, access.get(&t).cloned().unwrap_or_default())
                }
            })
            .collect();
        let shifted: Vec<Shift> = shifts
            .iter()
            .map(|&(k, next, start)| {
                let name = &region.carried[k].name;
                let local = ident(unique(&format!("{name}_next"), taken));
                let running = ident(unique(&format!("{name}_end"), taken));
                // `shift_carried` put every start value on the tape, so it has a name there;
                // were it missing, the emitted code would name an undefined local and fail to
                // build, never read a wrong value.
                let start = taped
                    .iter()
                    .find(|(t, _, _)| *t == start)
                    .map_or_else(|| ident(unique("missing", taken)), |(_, n, _)| n.clone());
                Shift {
                    next,
                    local,
                    running,
                    start,
                    result: carried[k].clone(),
                }
            })
            .collect();
        forward.buffer_adjoints_here = fused || !region_has_reverse(adjoint);
        let mut seeds = BTreeMap::new();
        let reverse = match (reverse_roots, adjoint) {
            (Some(roots), Some(a)) => {
                let mut params = access;
                for (k, input) in region.inputs.iter().enumerate() {
                    let name = match input {
                        Input::Seed(c) => format!("seed_{}", region.carried[*c].name),
                        Input::StoreSeed(s) => format!(
                            "seed_{}",
                            self.ctx.buffers[region.stores[*s].buffer as usize]
                        ),
                        _ => continue,
                    };
                    let Some(p) = region.param(k) else { continue };
                    let name = ident(unique(&name, taken));
                    params.insert(p, quote!(#name));
                    seeds.insert(k, name);
                }
                for (t, name, _) in &taped {
                    params.insert(*t, quote!(#name));
                }
                for shift in &shifted {
                    let local = &shift.local;
                    params.insert(shift.next, quote!(#local));
                }
                for n in forward_structural(&region.body, &roots, a.forward_len) {
                    params.entry(n).or_default();
                }
                for n in forward_elements(&region.body, &roots, a.forward_len) {
                    params.entry(n).or_default();
                }
                let spec = PlanSpec {
                    roots,
                    params,
                    user_names: &region.names,
                    wanted: BTreeMap::new(),
                    forced: BTreeSet::new(),
                    vars: vars.clone(),
                };
                let mut plan = Plan::build(&region.body, spec, self.ctx, taken);
                plan.buffer_adjoints_here = true;
                Some(plan)
            }
            _ => None,
        };
        RegionPlan {
            region,
            var,
            carried,
            d_carried,
            d_captured,
            forward,
            reverse,
            taped,
            shifted,
            seeds,
            fused,
            top_index: self.vars.is_empty().then_some(r),
        }
    }

    /// How the body reads each of its inputs.
    fn input_access(
        &self,
        region: &Region,
        carried: &[Ident],
        vars: &[Ident],
    ) -> BTreeMap<Id, TokenStream> {
        let ty = float_type(self.graph.float());
        let mut access = BTreeMap::new();
        for (k, input) in region.inputs.iter().enumerate() {
            let Some(p) = region.param(k) else { continue };
            let tokens = match input {
                Input::Carried(c) => {
                    let name = &carried[*c];
                    quote!(#name)
                }
                Input::Captured(op) => self.reference(region.operands[*op]).0,
                Input::Load { array, index } => self.ctx.element(array, index, vars, false),
                Input::Index(a) => {
                    let a = affine(a, vars);
                    quote!((#a) as #ty)
                }
                Input::Seed(_) | Input::StoreSeed(_) => continue,
            };
            access.insert(p, tokens);
        }
        access
    }

    /// The statement of a loop, buffer or buffer-adjoint node.
    pub(super) fn structural_statement(&self, id: Id, with_let: bool) -> TokenStream {
        let node = self.graph.node(id);
        match node.op {
            Op::Loop { region, .. } => self
                .loops
                .get(&region)
                .map(|p| p.forward_loop(self))
                .unwrap_or_default(),
            Op::LoopAdj { region, .. } => self
                .loops
                .get(&region)
                .map(|p| p.reverse_loop(self, id))
                .unwrap_or_default(),
            Op::BufInit { buf, .. } => self.buffer_init(node, buf),
            Op::BufElem { buf, index } | Op::BufAdjRead { buf, index } => {
                let adjoint = matches!(node.op, Op::BufAdjRead { .. });
                let at = self.ctx.buffer_index(buf, index);
                let element = self
                    .ctx
                    .element(&ArrayRef::Buffer(buf), &at, &self.vars, adjoint);
                let name = self.names.get(&id);
                if with_let {
                    quote!(let #name = #element;)
                } else {
                    quote!(#name = #element;)
                }
            }
            Op::BufAdj { buf, index } => {
                let at = self.ctx.buffer_index(buf, index);
                let element = self
                    .ctx
                    .element(&ArrayRef::Buffer(buf), &at, &self.vars, true);
                let value = self.operand(node.args[1], Prec::If);
                quote!(#element += #value;)
            }
            _ => TokenStream::new(),
        }
    }

    fn buffer_init(&self, node: &Node, buf: u32) -> TokenStream {
        let name = &self.ctx.buffers[buf as usize];
        let shape = &self.ctx.buffer_shapes[buf as usize];
        let first = node.args.first().copied();
        let same = first.is_some_and(|f| node.args.iter().all(|&a| a == f));
        // A loop body's graph numbers its nodes apart: only the function's graph (the plan
        // outside every loop) holds parameter elements.
        let whole = first
            .filter(|_| self.vars.is_empty())
            .and_then(|f| self.ctx.whole_params.get(&f))
            .filter(|(elements, _)| *elements == node.args);
        let value = match first {
            _ if whole.is_some() => whole.map(|(_, array)| array.clone()).unwrap_or_default(),
            Some(f) if same && self.graph.constant(f).is_some() => {
                let element = self.operand(f, Prec::If);
                shape.iter().rev().fold(element, |inner, &len| {
                    let len = Literal::usize_unsuffixed(len);
                    quote!([#inner; #len])
                })
            }
            _ => {
                let items: Vec<TokenStream> = node
                    .args
                    .iter()
                    .map(|&a| self.operand(a, Prec::If))
                    .collect();
                super::nested(&items, shape, self.graph.float()).0
            }
        };
        let mut out = quote!(let mut #name = #value;);
        if self.buffer_adjoints_here {
            out.extend(self.buffer_adjoint_declaration(buf));
        }
        out
    }

    fn buffer_adjoint_declaration(&self, buf: u32) -> TokenStream {
        let d = &self.ctx.d_buffers[buf as usize];
        let zeros = self.ctx.zeros(&self.ctx.buffer_shapes[buf as usize]);
        quote!(let mut #d = #zeros;)
    }
}

/// See [`Ctx::sole_writers`]. `gradient` is the function's gradient, scalar by scalar: the
/// contributions of the code outside loops, which must all be zero.
fn sole_writers(f: &Function, graph: &Graph, gradient: &[Id]) -> BTreeMap<usize, u32> {
    // Every loop that adds to each parameter's gradient: by the top-level region, or `None`
    // for a loop inside another, which runs many times.
    let mut writers: BTreeMap<usize, BTreeSet<Option<u32>>> = BTreeMap::new();
    for (r, region) in graph.regions.iter().enumerate() {
        for load in param_loads_with_adjoints(region) {
            writers
                .entry(load.param)
                .or_default()
                .insert(Some(r as u32));
        }
        visit_regions(&region.body, &mut |inner| {
            for load in param_loads_with_adjoints(inner) {
                writers.entry(load.param).or_default().insert(None);
            }
        });
    }
    let mut out = BTreeMap::new();
    for (index, _, range) in super::gradient_ranges(f) {
        let outside = gradient.get(range).unwrap_or_default();
        if outside.iter().any(|&g| graph.constant(g) != Some(0.0)) {
            continue;
        }
        let Some(found) = writers.get(&index) else {
            continue;
        };
        if let [Some(r)] = found.iter().copied().collect::<Vec<_>>().as_slice() {
            if writes_each_element_once(&graph.regions[*r as usize], index) {
                out.insert(index, *r);
            }
        }
    }
    out
}

/// An element of a parameter that a kept loop's body reads, and whose adjoint the reversed
/// body adds to the parameter's gradient.
struct AdjointLoad<'r> {
    param: usize,
    prefix: &'r [usize],
    index: &'r [Affine],
}

/// The loads of parameter elements in `region` that have an adjoint.
fn param_loads_with_adjoints(region: &Region) -> impl Iterator<Item = AdjointLoad<'_>> {
    let adjoint = region.adjoint.as_ref();
    let with_adjoint =
        move |k: usize| adjoint.is_some_and(|a| a.inputs.get(k).copied().flatten().is_some());
    region
        .inputs
        .iter()
        .enumerate()
        .filter_map(move |(k, input)| match input {
            Input::Load {
                array: ArrayRef::Param { param, prefix },
                index,
            } if with_adjoint(k) => Some(AdjointLoad {
                param: *param,
                prefix,
                index,
            }),
            _ => None,
        })
}

/// Whether the adjoints `region` adds to parameter `param`'s gradient land on distinct
/// elements in every iteration: each at a 1-D index `a·i + c` of the loop's own variable,
/// with one stride `a ≠ 0` and offsets distinct modulo `a` (`2i` and `2i + 1`), so no element
/// is written twice by one iteration or by two.
fn writes_each_element_once(region: &Region, param: usize) -> bool {
    let mut stride = None;
    let mut residues = BTreeSet::new();
    for load in param_loads_with_adjoints(region).filter(|l| l.param == param) {
        let [at] = load.index else {
            return false;
        };
        let &[(level, a)] = at.terms.as_slice() else {
            return false;
        };
        let one_stride = *stride.get_or_insert(a) == a;
        if !load.prefix.is_empty() || level != region.level || a == 0 || !one_stride {
            return false;
        }
        if !residues.insert(at.constant.rem_euclid(a.abs())) {
            return false;
        }
    }
    stride.is_some()
}

/// See [`Ctx::whole_params`].
fn whole_params(f: &Function) -> BTreeMap<Id, (Vec<Id>, TokenStream)> {
    let declared = f.item.sig.inputs.iter().filter_map(|arg| match arg {
        syn::FnArg::Typed(t) => Some(&*t.ty),
        syn::FnArg::Receiver(_) => None,
    });
    let mut out = BTreeMap::new();
    for ((index, p), ty) in f.params.iter().enumerate().zip(declared) {
        if p.shape.is_empty() {
            continue;
        }
        let elements: Vec<Id> = f
            .slots
            .iter()
            .filter(|s| s.param == index)
            .map(|s| s.id)
            .collect();
        let ident = &p.ident;
        let array = match ty {
            syn::Type::Reference(_) => quote!(*#ident),
            _ => quote!(#ident),
        };
        if let Some(&first) = elements.first() {
            out.insert(first, (elements, array));
        }
    }
    out
}

/// The letters, digits and underscores of `text`, runs of anything else as one `_`, without
/// a leading or trailing `_`: a name made from an expression such as `w [3]`.
fn identifier(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    match trimmed.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => trimmed.to_string(),
        _ => format!("v_{trimmed}"),
    }
}

/// The trip count of a range with constant bounds.
fn range_constant(range: &crate::region::LoopRange) -> Option<usize> {
    let (start, end) = (range.start.as_constant()?, range.end.as_constant()?);
    usize::try_from(end.checked_sub(start)?).ok()
}

/// Whether a loop's reverse runs apart from its forward loop.
fn region_has_reverse(adjoint: Option<&crate::region::RegionAdjoint>) -> bool {
    adjoint.is_some_and(|a| !a.fused)
}

/// A node, for a lookup.
fn node(op: Op, arg: Id) -> Node {
    Node {
        op,
        args: vec![arg],
    }
}

/// What a reversed body must compute: the adjoints of its inputs that go somewhere, and the
/// effects of its adjoint code.
fn reverse_roots(
    region: &Region,
    adjoint: &crate::region::RegionAdjoint,
    d_captured: &BTreeMap<usize, Ident>,
    ctx: &Ctx,
) -> Vec<Id> {
    let mut roots = Vec::new();
    for (k, input) in region.inputs.iter().enumerate() {
        let Some(a) = adjoint.inputs.get(k).copied().flatten() else {
            continue;
        };
        let wanted = match input {
            Input::Carried(_) => true,
            Input::Captured(op) => d_captured.contains_key(op),
            Input::Load {
                array: ArrayRef::Param { param, .. },
                ..
            } => ctx.d_params.contains_key(param),
            Input::Load {
                array: ArrayRef::Buffer(_),
                ..
            } => true,
            _ => false,
        };
        if wanted {
            roots.push(a);
        }
    }
    roots.extend(adjoint.effects.iter().copied());
    roots
}

/// The operands of a node that its value or effect depends on: not the element a buffer
/// adjoint belongs to, nor the buffer an adjoint read follows.
fn value_args(node: &Node) -> &[Id] {
    match node.op {
        Op::BufAdj { .. } => &node.args[1..],
        Op::BufAdjRead { .. } => &[],
        _ => &node.args,
    }
}

/// The forward values (below `forward_len`) that the adjoint code reachable from `roots`
/// reads, not counting constants, loops and the inputs the reversed body reads again (see
/// [`Input::is_recomputable`]): the values the tape carries.
fn taped(region: &Region, roots: &[Id], forward_len: usize) -> Vec<Id> {
    let body = &region.body;
    let mut out: Vec<Id> = reached_forward(body, roots, forward_len)
        .into_iter()
        .filter(|&n| match body.op(n) {
            Op::Param(k) => region
                .inputs
                .get(k as usize)
                .is_some_and(|i| !i.is_recomputable()),
            op => !matches!(
                op,
                Op::Const(_) | Op::Int(_) | Op::Loop { .. } | Op::BufInit { .. }
            ),
        })
        .collect();
    out.sort();
    out
}

/// Takes off `taped` each carried variable's end-of-iteration value (its `next` node), putting
/// the variable's start value on instead if it is not there: the start of iteration `i + 1` is
/// the end of iteration `i`, so a reversed iteration finds its end value in the start value
/// the next one popped (the loop's result for the last), and a recurrence tapes one value per
/// iteration instead of two. Gives, for each, the carried index, the `next` node and the
/// start value's parameter node.
fn shift_carried(region: &Region, taped: &mut Vec<Id>) -> Vec<(usize, Id, Id)> {
    let mut shifts = Vec::new();
    for (k, c) in region.carried.iter().enumerate() {
        let start = region
            .inputs
            .iter()
            .position(|i| *i == Input::Carried(k))
            .and_then(|p| region.param(p));
        let Some(start) = start.filter(|&s| s != c.next) else {
            continue;
        };
        let Some(at) = taped.iter().position(|&t| t == c.next) else {
            continue;
        };
        taped.remove(at);
        if let Err(place) = taped.binary_search(&start) {
            taped.insert(place, start);
        }
        shifts.push((k, c.next, start));
    }
    shifts
}

/// The loops and buffers of the forward body that the adjoint code names for order only.
fn forward_structural(body: &Graph, roots: &[Id], forward_len: usize) -> Vec<Id> {
    reached_forward(body, roots, forward_len)
        .into_iter()
        .filter(|&n| matches!(body.op(n), Op::Loop { .. } | Op::BufInit { .. }))
        .collect()
}

/// The forward elements of buffers whose adjoints the code reachable from `roots` adds to.
/// A buffer adjoint names its element for order only (see [`value_args`]); the element was
/// read in the forward pass, and the reverse code must not read it again, which would run
/// the loop that wrote it a second time.
fn forward_elements(body: &Graph, roots: &[Id], forward_len: usize) -> BTreeSet<Id> {
    let mut seen = BTreeSet::new();
    let mut elements = BTreeSet::new();
    let mut stack: Vec<Id> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if id.index() < forward_len || !seen.insert(id) {
            continue;
        }
        let node = body.node(id);
        if let (Op::BufAdj { .. }, Some(&element)) = (node.op, node.args.first()) {
            if element.index() < forward_len {
                elements.insert(element);
            }
        }
        stack.extend(value_args(node).iter().copied());
    }
    elements
}

/// The forward nodes the adjoint code reachable from `roots` reads directly.
fn reached_forward(body: &Graph, roots: &[Id], forward_len: usize) -> BTreeSet<Id> {
    let mut seen = BTreeSet::new();
    let mut forward = BTreeSet::new();
    let mut stack: Vec<Id> = roots.to_vec();
    while let Some(id) = stack.pop() {
        // A call's partial derivative is built by differentiation but computed by the
        // forward call: it is a forward value too.
        if id.index() < forward_len || matches!(body.op(id), Op::CallGrad { .. }) {
            forward.insert(id);
            continue;
        }
        if !seen.insert(id) {
            continue;
        }
        stack.extend(value_args(body.node(id)).iter().copied());
    }
    forward
}

impl RegionPlan<'_> {
    fn header(&self, parent: &Plan<'_>, reversed: bool) -> TokenStream {
        let range = &self.region.range;
        let start = affine(&range.start, &parent.vars);
        let end = affine(&range.end, &parent.vars);
        let var = &self.var;
        if reversed {
            quote!(for #var in (#start..#end).rev())
        } else {
            quote!(for #var in #start..#end)
        }
    }

    /// The loop where the forward pass runs it.
    fn forward_loop(&self, parent: &Plan<'_>) -> TokenStream {
        let region = self.region;
        let mut before = Vec::new();
        for (c, name) in region.carried.iter().zip(&self.carried) {
            let init = parent.operand(region.operands[c.init], Prec::If);
            before.push(quote!(let mut #name = #init;));
        }
        let body = self.forward.statements();
        let mut pushes = Vec::new();
        if !self.fused && self.reverse.is_some() {
            if let Some(tape) = &parent.ctx.tape {
                // A loop of the function's body with a known trip count reserves what it
                // pushes, so the tape grows once.
                let trips = range_constant(&region.range).filter(|_| parent.vars.is_empty());
                let total = trips.and_then(|t| t.checked_mul(self.taped.len()));
                if let Some(total) = total.filter(|&n| n > 0) {
                    let total = Literal::usize_unsuffixed(total);
                    before.push(quote!(#tape.reserve(#total);));
                }
                for (t, _, value) in &self.taped {
                    let ty = float_type(parent.graph.float());
                    let value = if self.region.body.op(*t).is_bool() {
                        quote!(#ty::from(u8::from(#value)))
                    } else {
                        value.clone()
                    };
                    pushes.push(quote!(#tape.push(#value);));
                }
            }
        }
        let stores = region.stores.iter().map(|s| {
            let element = self.forward.ctx.element(
                &ArrayRef::Buffer(s.buffer),
                &s.index,
                &self.forward.vars,
                false,
            );
            let value = self.forward.operand(s.value, Prec::If);
            quote!(#element = #value;)
        });
        let mut after = Vec::new();
        if self.fused {
            for name in self.d_captured.values() {
                let zero = literal(0.0, parent.graph.float()).0;
                before.push(quote!(let mut #name = #zero;));
            }
            after.extend(self.reverse_body(parent));
        }
        let update = self.carried_update(&self.carried, |k| {
            let next = region.carried[k].next;
            self.forward.operand(next, Prec::If)
        });
        let header = self.header(parent, region.range.reversed);
        quote! {
            #(#before)*
            #header {
                #(#body)*
                #(#pushes)*
                #(#stores)*
                #(#after)*
                #update
            }
        }
    }

    /// `a = x;`, or `(a, b) = (x, y);` for several, so each reads the values before any is
    /// assigned.
    fn carried_update(&self, names: &[Ident], value: impl Fn(usize) -> TokenStream) -> TokenStream {
        let pairs: Vec<(Ident, TokenStream)> = names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.clone(), value(k)))
            .filter(|(n, v)| *n != v.to_string())
            .collect();
        match pairs.as_slice() {
            [] => TokenStream::new(),
            [(n, v)] => quote!(#n = #v;),
            many => {
                let (names, values): (Vec<_>, Vec<_>) = many.iter().cloned().unzip();
                quote!((#(#names),*) = (#(#values),*);)
            }
        }
    }

    /// The loop where the reverse sweep reaches it; for a fused loop, only the adjoints of
    /// the carried variables' initial values, which are the constant seeds.
    fn reverse_loop(&self, parent: &Plan<'_>, adj: Id) -> TokenStream {
        let region = self.region;
        let seeds = &parent.graph.node(adj).args;
        if self.fused {
            let lets = self.d_carried.iter().zip(seeds).map(|(d, &s)| {
                let seed = parent.operand(s, Prec::If);
                quote!(let #d = #seed;)
            });
            return quote!(#(#lets)*);
        }
        let mut before = Vec::new();
        for (d, &s) in self.d_carried.iter().zip(seeds) {
            let seed = parent.operand(s, Prec::If);
            before.push(quote!(let mut #d = #seed;));
        }
        for name in self.d_captured.values() {
            let zero = literal(0.0, parent.graph.float()).0;
            before.push(quote!(let mut #name = #zero;));
        }
        let mut pops = Vec::new();
        if let Some(tape) = &parent.ctx.tape {
            for (t, name, _) in self.taped.iter().rev() {
                let pop = quote!(#tape.pop().unwrap_or_default());
                if region.body.op(*t).is_bool() {
                    pops.push(quote!(let #name = #pop != 0.0;));
                } else {
                    pops.push(quote!(let #name = #pop;));
                }
            }
        }
        // Each shifted value starts as the loop's result, then steps back one iteration.
        let mut steps = Vec::new();
        for Shift {
            local,
            running,
            start,
            result,
            ..
        } in &self.shifted
        {
            before.push(quote!(let mut #running = #result;));
            pops.push(quote!(let #local = #running;));
            steps.push(quote!(#running = #start;));
        }
        let body = self.reverse_body(parent);
        let header = self.header(parent, !region.range.reversed);
        quote! {
            #(#before)*
            #header {
                #(#pops)*
                #(#body)*
                #(#steps)*
            }
        }
    }

    /// The reversed body: seeds, the adjoint statements, and where each input's adjoint goes.
    fn reverse_body(&self, _parent: &Plan<'_>) -> Vec<TokenStream> {
        let Some(reverse) = &self.reverse else {
            return Vec::new();
        };
        let region = self.region;
        let ctx = reverse.ctx;
        let vars = &reverse.vars;
        let mut out = Vec::new();
        for b in self
            .forward
            .live
            .iter()
            .filter_map(|&id| match region.body.op(id) {
                Op::BufInit { buf, .. } if !self.fused => Some(buf),
                _ => None,
            })
        {
            out.push(reverse.buffer_adjoint_declaration(b));
        }
        for (&k, name) in &self.seeds {
            match &region.inputs[k] {
                Input::Seed(c) => {
                    let d = &self.d_carried[*c];
                    out.push(quote!(let #name = #d;));
                }
                Input::StoreSeed(s) => {
                    let store = &region.stores[*s];
                    let element =
                        ctx.element(&ArrayRef::Buffer(store.buffer), &store.index, vars, true);
                    let zero = literal(0.0, region.body.float()).0;
                    out.push(quote!(let #name = #element; #element = #zero;));
                }
                _ => {}
            }
        }
        // Stores whose seed the adjoint does not read still reset the overwritten element.
        for (s, store) in region.stores.iter().enumerate() {
            let has_seed = self
                .seeds
                .keys()
                .any(|&k| region.inputs[k] == Input::StoreSeed(s));
            if !has_seed {
                let element =
                    ctx.element(&ArrayRef::Buffer(store.buffer), &store.index, vars, true);
                let zero = literal(0.0, region.body.float()).0;
                out.push(quote!(#element = #zero;));
            }
        }
        out.extend(reverse.statements());
        let Some(adjoint) = region.adjoint.as_ref() else {
            return out;
        };
        let input_adjoint = |k: usize| adjoint.inputs.get(k).copied().flatten();
        let mut carried_values = vec![None; region.carried.len()];
        for (k, input) in region.inputs.iter().enumerate() {
            let Some(a) = input_adjoint(k) else { continue };
            match input {
                Input::Carried(c) => carried_values[*c] = Some(a),
                Input::Captured(op) => {
                    if let Some(d) = self.d_captured.get(op) {
                        let value = reverse.operand(a, Prec::If);
                        out.push(quote!(#d += #value;));
                    }
                }
                Input::Load { array, index } => {
                    let wanted = match array {
                        ArrayRef::Param { param, .. } => ctx.d_params.contains_key(param),
                        ArrayRef::Buffer(_) => true,
                    };
                    if wanted {
                        let element = ctx.element(array, index, vars, true);
                        let value = reverse.operand(a, Prec::If);
                        let sole = match array {
                            ArrayRef::Param { param, .. } => self
                                .top_index
                                .is_some_and(|r| ctx.sole_writers.get(param) == Some(&r)),
                            ArrayRef::Buffer(_) => false,
                        };
                        if sole {
                            out.push(quote!(#element = #value;));
                        } else {
                            out.push(quote!(#element += #value;));
                        }
                    }
                }
                _ => {}
            }
        }
        if !self.fused {
            let zero = literal(0.0, region.body.float()).0;
            out.push(
                self.carried_update(&self.d_carried, |c| match carried_values[c] {
                    Some(a) => reverse.operand(a, Prec::If),
                    None => zero.clone(),
                }),
            );
        }
        out
    }
}
