//! Loops kept as loops: a `for` body lowered once, as a region of its own (see
//! [`crate::region`]), instead of once per iteration.
//!
//! While a body is lowered, the builder holds the body's graph and the enclosing graph waits in
//! a [`Frame`]. A name of an enclosing scope read in the body is *captured*: it becomes a
//! parameter of the body and an operand of the loop node. A name the body assigns (found by a
//! scan of the body before it is lowered) is *carried*: its value as each iteration starts is a
//! parameter, and the loop node gives its value at the end. An array the body writes, or
//! reads at an index that depends on the loop variable, is a *buffer*: a mutable array in the
//! emitted code, whose elements the body loads and stores.
//!
//! An attempt to keep a loop can fail (a construct a kept body does not support, listed in
//! [`Lower::fail_kept`]'s callers); the loop is then unrolled, unless its bounds depend on a
//! kept loop's variable or `loops = "keep"` was asked for, where the failure is the error.
//! Nothing of a failed attempt stays: its messages go to a scratch sink, and every binding it
//! changed is restored.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proc_macro2::Span;
use syn::{Expr, ExprForLoop, Pat, Stmt};

use super::{Lower, Value};
use crate::error::{Diagnostics, Place};
use crate::ir::{Graph, Id, Op};
use crate::region::{
    unrolled_len, Affine, ArrayRef, Buffer, Carried, Input, LoopMode, LoopRange, Region, Store,
    AUTO_MIN_TRIP, UNROLL_BUDGET,
};

/// A kept loop's body being lowered.
pub(super) struct Frame {
    /// The enclosing graph, while the builder holds the body's.
    saved: Graph,
    saved_names: BTreeMap<Id, String>,
    /// The first scope of the body; scopes below it belong to enclosing levels.
    scope_base: usize,
    /// The smallest and largest value of the loop variable, for bounds checks.
    range: (i64, i64),
    inputs: Vec<Input>,
    operands: Vec<Id>,
    captures: HashMap<Id, Id>,
    stores: Vec<Store>,
    buffers_read: BTreeSet<u32>,
    buffers_written: BTreeSet<u32>,
    /// Buffers of enclosing levels that loops inside this body read or write.
    inner_read: BTreeSet<u32>,
    inner_written: BTreeSet<u32>,
    inner_loops: Vec<Id>,
    /// The last effect on each buffer in this body's graph.
    effects: HashMap<u32, Id>,
    /// Why the body cannot be kept, first reason only.
    failed: Option<String>,
}

/// The bounds of a `for` range, `start..end`, descending if `reversed`.
pub(super) struct Bounds {
    pub start: Affine,
    pub end: Affine,
    pub reversed: bool,
}

impl Bounds {
    /// The values of the range in iteration order, if they are known at compile time.
    pub fn constant(&self) -> Option<(i64, i64)> {
        Some((self.start.as_constant()?, self.end.as_constant()?))
    }
}

/// The outcome of an attempt to keep a loop.
pub(super) enum Keep {
    Kept,
    Unroll,
    Failed(String),
}

/// What a failed attempt changed, to undo.
struct Undo {
    diags: Diagnostics,
    rebound: Vec<(usize, usize, Option<Value>)>,
    silenced: usize,
    unrolled: usize,
    buffers: usize,
}

impl Lower<'_> {
    /// The kept-loop nesting level of the code being lowered (0: the function body).
    pub(super) fn level(&self) -> u32 {
        self.frames.len() as u32
    }

    /// The level of the bindings of scope `scope`.
    pub(super) fn level_of_binding(&self, scope: usize) -> u32 {
        self.level_of_scope(scope)
    }

    /// Whether buffer `b` was made at the current level.
    pub(super) fn is_own_buffer(&self, b: u32) -> bool {
        self.buffer_levels.get(b as usize) == Some(&self.level())
    }

    /// The level of the bindings of scope `scope`.
    fn level_of_scope(&self, scope: usize) -> u32 {
        self.frames.iter().filter(|f| f.scope_base <= scope).count() as u32
    }

    /// Marks the body being kept as unkeepable; lowering goes on, without a message.
    pub(super) fn fail_kept(&mut self, reason: impl Into<String>) -> Option<Value> {
        if let Some(frame) = self.frames.last_mut() {
            frame.failed.get_or_insert_with(|| reason.into());
        }
        self.silenced += 1;
        None
    }

    /// Tries to lower `f` as a kept loop; see the module documentation.
    pub(super) fn keep(&mut self, f: &ExprForLoop, bounds: &Bounds, forced: bool) -> Keep {
        // A loop that never runs is the same unrolled, and its body's indices need not fit.
        if bounds.constant().is_some_and(|(start, end)| end <= start) {
            return Keep::Unroll;
        }
        if !self.path.is_empty() {
            return Keep::Failed("it is inside an `if` on a float condition".into());
        }
        let Some(range) = self.var_range(bounds) else {
            return Keep::Failed("its bounds are out of range".into());
        };
        if range.0 < 0 {
            // The emitted loop variable is a `usize`, as an index is.
            return Keep::Failed("its range has negative values".into());
        }
        let mut undo = Undo {
            diags: std::mem::take(self.diags),
            rebound: Vec::new(),
            silenced: self.silenced,
            unrolled: self.unrolled,
            buffers: self.buffers.len(),
        };
        let assigned = assigned_names(&f.body);
        let outer = match self.outer_state(&assigned, &mut undo) {
            Ok(outer) => outer,
            Err(reason) => return self.abandon(undo, Keep::Failed(reason)),
        };
        let returns_before = self.conditional_returns.len();
        self.enter(range, &outer);
        if let Pat::Ident(p) = &*f.pat {
            let index = Value::Index(Affine::var(self.level() - 1));
            self.bind(&p.ident, Some(index), false);
        }
        self.block(&f.body);
        let returned =
            self.returned.take().is_some() || self.conditional_returns.len() > returns_before;
        self.conditional_returns.truncate(returns_before);
        let (frame, body, names, nexts) = self.leave(&outer);
        let failure = frame.failed.clone().or_else(|| {
            let first = self.diags.first_message();
            returned
                .then(|| "it has a `return`".to_string())
                .or(first.map(|m| format!("its body has an error: {m}")))
                .or_else(|| {
                    nexts
                        .is_none()
                        .then(|| "a carried variable was lost".into())
                })
        });
        if let Some(reason) = failure {
            return self.abandon(undo, Keep::Failed(reason));
        }
        let trip = bounds
            .constant()
            .map(|(s, e)| usize::try_from(e.saturating_sub(s)).unwrap_or(0));
        let small = trip.is_some_and(|t| t.saturating_mul(unrolled_len(&body)) <= UNROLL_BUDGET);
        if small && !forced && self.loop_mode == LoopMode::Auto {
            return self.abandon(undo, Keep::Unroll);
        }
        let var = match &*f.pat {
            Pat::Ident(p) => syn::ext::IdentExt::unraw(&p.ident).to_string(),
            _ => "i".to_string(),
        };
        let merged = std::mem::replace(self.diags, undo.diags);
        debug_assert!(merged.is_empty());
        self.commit(
            frame,
            body,
            names,
            nexts.unwrap_or_default(),
            &outer,
            bounds,
            var,
        );
        Keep::Kept
    }

    /// The smallest and largest value of a loop variable over `bounds`.
    fn var_range(&self, bounds: &Bounds) -> Option<(i64, i64)> {
        let ranges = self.ranges();
        let (lo, _) = bounds.start.interval(&ranges)?;
        let (_, hi) = bounds.end.interval(&ranges)?;
        Some((lo, hi.checked_sub(1)?))
    }

    /// The largest trip count of a loop over `bounds` in the enclosing loops' ranges.
    fn longest_trip(&self, bounds: &Bounds) -> usize {
        let longest = self
            .var_range(bounds)
            .and_then(|(lo, last)| last.checked_sub(lo)?.checked_add(1));
        longest.map_or(usize::MAX, |t| usize::try_from(t).unwrap_or(0))
    }

    fn ranges(&self) -> Vec<(i64, i64)> {
        self.frames.iter().map(|f| f.range).collect()
    }

    /// Decides, in the enclosing scope, what each assigned name becomes: a carried float, or
    /// a buffer (made from a local array if it is not one yet).
    fn outer_state(
        &mut self,
        assigned: &BTreeSet<String>,
        undo: &mut Undo,
    ) -> Result<Outer, String> {
        let mut outer = Outer::default();
        for name in assigned {
            let Some((scope, index, value)) = self.find(name) else {
                continue;
            };
            let Some(value) = value else {
                continue;
            };
            let owner = self.level_of_scope(scope);
            match value {
                Value::Float(id) => {
                    let id = self.lift_float(owner, id);
                    outer.carried.push((name.clone(), id));
                }
                Value::Buffer(b) => outer.buffers.push((name.clone(), b)),
                Value::Array(_) if owner == self.level() => {
                    let b = self.make_buffer(name, &value)?;
                    undo.rebound.push((scope, index, Some(value)));
                    self.scopes[scope][index].value = Some(Value::Buffer(b));
                    outer.buffers.push((name.clone(), b));
                }
                other => {
                    return Err(format!(
                        "it assigns `{name}`, {} of an enclosing scope",
                        other.kind()
                    ))
                }
            }
        }
        Ok(outer)
    }

    /// A new buffer holding the elements of the local array `value`, created here.
    fn make_buffer(&mut self, name: &str, value: &Value) -> Result<u32, String> {
        let mut shape = Vec::new();
        let mut leaves = Vec::new();
        flatten(value, 0, &mut shape, &mut leaves)?;
        let b = self.buffers.len() as u32;
        self.buffers.push(Buffer {
            name: name.to_string(),
            shape,
        });
        self.buffer_levels.push(self.level());
        let arity = leaves.len() as u32;
        let init = self.b.add(Op::BufInit { buf: b, arity }, leaves);
        self.effects_mut().insert(b, init);
        Ok(b)
    }

    fn effects_mut(&mut self) -> &mut HashMap<u32, Id> {
        match self.frames.last_mut() {
            Some(frame) => &mut frame.effects,
            None => &mut self.top_effects,
        }
    }

    fn effects(&self) -> &HashMap<u32, Id> {
        match self.frames.last() {
            Some(frame) => &frame.effects,
            None => &self.top_effects,
        }
    }

    /// Pushes the frame of a body: swaps in its graph, binds the carried variables and buffers.
    fn enter(&mut self, range: (i64, i64), outer: &Outer) {
        let float = self.b.graph().float();
        let saved = std::mem::replace(self.b.graph_mut(), Graph::of(float));
        let saved_names = std::mem::take(&mut self.names);
        self.frames.push(Frame {
            saved,
            saved_names,
            scope_base: self.scopes.len(),
            range,
            inputs: Vec::new(),
            operands: Vec::new(),
            captures: HashMap::new(),
            stores: Vec::new(),
            buffers_read: BTreeSet::new(),
            buffers_written: BTreeSet::new(),
            inner_read: BTreeSet::new(),
            inner_written: BTreeSet::new(),
            inner_loops: Vec::new(),
            effects: HashMap::new(),
            failed: None,
        });
        self.scopes.push(Vec::new());
        for (k, (name, init)) in outer.carried.iter().enumerate() {
            let frame = self.frames.last_mut().expect("just pushed");
            let param = frame.inputs.len() as u32;
            frame.inputs.push(Input::Carried(k));
            frame.operands.push(*init);
            let id = self.b.param(param);
            let ident = syn::Ident::new(name, Span::call_site());
            self.bind(&ident, Some(Value::Float(id)), true);
        }
        for (name, b) in &outer.buffers {
            let ident = syn::Ident::new(name, Span::call_site());
            self.bind(&ident, Some(Value::Buffer(*b)), true);
        }
    }

    /// Pops the frame of a body; gives the frame, the body graph, its names, and each carried
    /// variable's value at the end of the body (`None` if one is not a float any more).
    fn leave(&mut self, outer: &Outer) -> (Frame, Graph, BTreeMap<Id, String>, Option<Vec<Id>>) {
        let base = self.frames.last().map_or(0, |f| f.scope_base);
        let carried_scope = self.scopes.get(base).cloned().unwrap_or_default();
        let nexts: Option<Vec<Id>> = outer
            .carried
            .iter()
            .map(|(name, _)| {
                let binding = carried_scope.iter().rev().find(|b| &b.name == name)?;
                match binding.value {
                    Some(Value::Float(id)) => Some(id),
                    _ => None,
                }
            })
            .collect();
        self.scopes.truncate(base);
        let mut frame = self.frames.pop().expect("a frame was entered");
        let body = std::mem::replace(self.b.graph_mut(), std::mem::take(&mut frame.saved));
        let names = std::mem::replace(&mut self.names, std::mem::take(&mut frame.saved_names));
        (frame, body, names, nexts)
    }

    /// Undoes an attempt.
    fn abandon(&mut self, undo: Undo, outcome: Keep) -> Keep {
        *self.diags = undo.diags;
        for (scope, index, value) in undo.rebound.into_iter().rev() {
            self.scopes[scope][index].value = value;
        }
        self.silenced = undo.silenced;
        self.unrolled = undo.unrolled;
        self.buffers.truncate(undo.buffers);
        self.buffer_levels.truncate(undo.buffers);
        outcome
    }

    /// Adds the loop node for a lowered body, and rebinds what the loop changed.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        frame: Frame,
        body: Graph,
        names: BTreeMap<Id, String>,
        nexts: Vec<Id>,
        outer: &Outer,
        bounds: &Bounds,
        var: String,
    ) {
        let mut operands = frame.operands.clone();
        let touched: BTreeSet<u32> = frame
            .buffers_read
            .iter()
            .chain(&frame.buffers_written)
            .copied()
            .collect();
        for b in &touched {
            if let Some(&effect) = self.effects().get(b) {
                operands.push(effect);
            }
        }
        let carried = outer
            .carried
            .iter()
            .zip(&nexts)
            .enumerate()
            .map(|(k, ((name, _), &next))| Carried {
                name: name.clone(),
                init: k,
                next,
            })
            .collect();
        let unrolled_len = self
            .longest_trip(bounds)
            .saturating_mul(unrolled_len(&body));
        let region = Region {
            level: self.level(),
            var,
            range: LoopRange {
                start: bounds.start.clone(),
                end: bounds.end.clone(),
                reversed: bounds.reversed,
            },
            body,
            names,
            inputs: frame.inputs,
            operands: operands.clone(),
            carried,
            stores: frame.stores,
            effects: frame.inner_loops,
            buffers_read: frame.buffers_read.iter().copied().collect(),
            buffers_written: frame.buffers_written.iter().copied().collect(),
            unrolled_len,
            adjoint: None,
        };
        let index = self.b.graph().regions.len() as u32;
        self.b.graph_mut().regions.push(region);
        let arity = operands.len() as u32;
        let node = self.b.add(
            Op::Loop {
                region: index,
                arity,
            },
            operands,
        );
        for (k, (name, _)) in outer.carried.iter().enumerate() {
            let out = self.b.add(Op::LoopOut(k as u32), vec![node]);
            if let Some(binding) = self.binding_mut(name) {
                binding.value = Some(Value::Float(out));
            }
        }
        for &b in &frame.buffers_written {
            self.effects_mut().insert(b, node);
        }
        self.note_inner_loop(node, &frame.buffers_read, &frame.buffers_written);
    }

    /// Records, in the enclosing body, a loop inside it and the buffers it touches.
    fn note_inner_loop(&mut self, node: Id, read: &BTreeSet<u32>, written: &BTreeSet<u32>) {
        let level = self.level();
        let outer = |b: &u32, levels: &[u32]| levels.get(*b as usize).is_some_and(|&l| l < level);
        let read: Vec<u32> = read
            .iter()
            .filter(|b| outer(b, &self.buffer_levels))
            .copied()
            .collect();
        let written: Vec<u32> = written
            .iter()
            .filter(|b| outer(b, &self.buffer_levels))
            .copied()
            .collect();
        let Some(frame) = self.frames.last_mut() else {
            return;
        };
        frame.inner_loops.push(node);
        let own_store = |b: &u32| frame.stores.iter().any(|s| s.buffer == *b);
        let conflict = written
            .iter()
            .any(|b| frame.buffers_read.contains(b) || own_store(b))
            || read.iter().any(own_store);
        frame.inner_read.extend(&read);
        frame.inner_written.extend(&written);
        frame.buffers_read.extend(&read);
        frame.buffers_written.extend(&written);
        if conflict {
            frame.failed.get_or_insert_with(|| {
                "it reads or writes a buffer that a loop inside it writes".to_string()
            });
        }
    }

    /// The innermost binding of `name`: its scope, its index in the scope, its value.
    fn find(&self, name: &str) -> Option<(usize, usize, Option<Value>)> {
        for (s, scope) in self.scopes.iter().enumerate().rev() {
            if let Some(i) = scope.iter().rposition(|b| b.name == name) {
                return Some((s, i, scope[i].value.clone()));
            }
        }
        None
    }

    /// The value of a binding of scope `scope` as the current level reads it.
    pub(super) fn lift(&mut self, scope: usize, value: Value) -> Option<Value> {
        let from = self.level_of_scope(scope);
        if from == self.level() {
            return Some(value);
        }
        self.lift_from(from, value)
    }

    fn lift_from(&mut self, from: u32, value: Value) -> Option<Value> {
        match value {
            Value::Float(id) => Some(Value::Float(self.lift_float(from, id))),
            Value::Cond(id) => Some(Value::Cond(self.lift_float(from, id))),
            // An integer parameter is read in the body as the loop's operand, as a float is;
            // it has no adjoint (its only uses are casts and comparisons).
            Value::RtInt(id) => Some(Value::RtInt(self.lift_float(from, id))),
            Value::Tuple(parts) => {
                let parts: Option<Vec<Value>> =
                    parts.into_iter().map(|p| self.lift_from(from, p)).collect();
                Some(Value::Tuple(parts?))
            }
            Value::Array(items) => {
                // Keyed by the array's allocation, which an unchanged array keeps: a body that
                // reads a large parameter a thousand times checks it once.
                let key = std::rc::Rc::as_ptr(&items) as usize;
                let known = match self.param_arrays.get(&key) {
                    Some((_, known)) => known.clone(),
                    None => {
                        let found = self.param_array(from, &Value::Array(items.clone()));
                        // The entry holds the array, so its address is not reused while the
                        // entry lives.
                        self.param_arrays
                            .insert(key, (items.clone(), found.clone()));
                        found
                    }
                };
                if let Some((param, prefix)) = known {
                    return Some(Value::Elements(
                        ArrayRef::Param { param, prefix },
                        Vec::new(),
                    ));
                }
                let mut shape = Vec::new();
                let mut leaves = Vec::new();
                let _ = flatten(&Value::Array(items.clone()), 0, &mut shape, &mut leaves);
                if leaves.len() > MAX_CAPTURED_ARRAY {
                    let msg = format!(
                        "it reads a local array of {} elements (more than {MAX_CAPTURED_ARRAY})",
                        leaves.len()
                    );
                    return self.fail_kept(msg);
                }
                let lifted: Option<Vec<Value>> = items
                    .iter()
                    .map(|v| self.lift_from(from, v.clone()))
                    .collect();
                Some(Value::array(lifted?))
            }
            other => Some(other),
        }
    }

    /// A value of level `from` as a parameter of the current level's body, through every level
    /// between.
    fn lift_float(&mut self, from: u32, mut id: Id) -> Id {
        for level in from + 1..=self.level() {
            id = self.capture(level, id);
        }
        id
    }

    fn capture(&mut self, level: u32, id: Id) -> Id {
        let current = self.level();
        let frame = &mut self.frames[level as usize - 1];
        if let Some(&p) = frame.captures.get(&id) {
            return p;
        }
        let k = frame.inputs.len() as u32;
        frame.inputs.push(Input::Captured(frame.operands.len()));
        frame.operands.push(id);
        let p = if level == current {
            self.b.param(k)
        } else {
            let graph = &mut self.frames[level as usize].saved;
            graph
                .add_raw(Op::Param(k), Vec::new(), Span::call_site())
                .unwrap_or(Id::new(0))
        };
        self.frames[level as usize - 1].captures.insert(id, p);
        p
    }

    /// The parameter and index prefix of `value` if it is a parameter array (or a part of
    /// one) as passed, element for element.
    fn param_array(&self, from: u32, value: &Value) -> Option<(usize, Vec<usize>)> {
        if from != 0 {
            return None;
        }
        let mut shape = Vec::new();
        let mut leaves = Vec::new();
        flatten(value, 0, &mut shape, &mut leaves).ok()?;
        let slot_of = |id: Id| match self.top_graph().op(id) {
            Op::Param(k) => Some(k as usize),
            _ => None,
        };
        let first = slot_of(*leaves.first()?)?;
        let slot = self.slots.get(first)?;
        let param_shape = &self.param_shapes[slot.param];
        let depth = param_shape.len().checked_sub(shape.len())?;
        if param_shape[depth..] != shape[..] || slot.index[depth..].iter().any(|&i| i != 0) {
            return None;
        }
        let consecutive = leaves.iter().enumerate().all(|(k, &id)| {
            slot_of(id) == Some(first + k)
                && self
                    .slots
                    .get(first + k)
                    .is_some_and(|s| s.param == slot.param)
        });
        consecutive.then(|| (slot.param, slot.index[..depth].to_vec()))
    }

    /// The function's graph, wherever it is while bodies are lowered.
    fn top_graph(&self) -> &Graph {
        match self.frames.first() {
            Some(frame) => &frame.saved,
            None => self.b.graph(),
        }
    }

    /// The shape of a runtime array.
    fn array_shape(&self, array: &ArrayRef) -> Vec<usize> {
        match array {
            ArrayRef::Param { param, prefix } => self.param_shapes[*param]
                .get(prefix.len()..)
                .unwrap_or_default()
                .to_vec(),
            ArrayRef::Buffer(b) => self.buffers[*b as usize].shape.clone(),
        }
    }

    /// `array[index]` where the array is indexed at run time or is a buffer.
    pub(super) fn index_runtime(&mut self, base: Value, index: Value) -> Option<Value> {
        let Some(affine) = affine_of(&index) else {
            return self.fail_kept(format!("it indexes with {}", index.kind()));
        };
        let (array, mut indices) = match base {
            Value::Buffer(b) => (ArrayRef::Buffer(b), Vec::new()),
            Value::Elements(array, indices) => (array, indices),
            _ => return self.fail_kept("it indexes a local array with a loop variable"),
        };
        indices.push(affine);
        let rank = self.array_shape(&array).len();
        if indices.len() < rank {
            return Some(Value::Elements(array, indices));
        }
        self.load(array, indices)
    }

    /// Reads one element of a runtime array.
    fn load(&mut self, array: ArrayRef, index: Vec<Affine>) -> Option<Value> {
        if !self.in_bounds(&array, &index) {
            return self.fail_kept("an index may be out of bounds");
        }
        if let ArrayRef::Buffer(b) = array {
            if self.buffer_levels[b as usize] == self.level() {
                return self.buffer_element(b, &index);
            }
            let frame = self.frames.last_mut()?;
            if frame.inner_written.contains(&b) {
                return self.fail_kept("it reads a buffer after a loop inside it wrote it");
            }
            for store in frame.stores.iter().rev().filter(|s| s.buffer == b) {
                if store.index == index {
                    return Some(Value::Float(store.value));
                }
                if !distinct(&store.index, &index) {
                    return self.fail_kept("it reads a buffer where it may have written it");
                }
            }
            frame.buffers_read.insert(b);
        }
        let input = Input::Load { array, index };
        Some(Value::Float(self.input(input)))
    }

    /// The parameter for `input` in the current body, added if new.
    fn input(&mut self, input: Input) -> Id {
        let frame = self.frames.last_mut().expect("inputs exist inside bodies");
        let k = match frame.inputs.iter().position(|i| *i == input) {
            Some(k) => k,
            None => {
                frame.inputs.push(input);
                frame.inputs.len() - 1
            }
        };
        self.b.param(k as u32)
    }

    /// Element `index` of a buffer of the current level, read after the last effect on it.
    fn buffer_element(&mut self, b: u32, index: &[Affine]) -> Option<Value> {
        let Some(flat) = self.flat_index(b, index) else {
            return self.fail_kept("it reads a buffer of its own at a loop variable");
        };
        let Some(&effect) = self.effects().get(&b) else {
            return self.fail_kept("it reads a buffer before it exists");
        };
        let node = self.b.add(
            Op::BufElem {
                buf: b,
                index: flat,
            },
            vec![effect],
        );
        Some(Value::Float(node))
    }

    fn flat_index(&self, b: u32, index: &[Affine]) -> Option<u32> {
        let shape = &self.buffers[b as usize].shape;
        let mut flat = 0usize;
        for (a, &len) in index.iter().zip(shape) {
            let i = usize::try_from(a.as_constant()?).ok()?;
            flat = flat.checked_mul(len)?.checked_add(i)?;
        }
        u32::try_from(flat).ok()
    }

    fn in_bounds(&self, array: &ArrayRef, index: &[Affine]) -> bool {
        let shape = self.array_shape(array);
        let ranges = self.ranges();
        index.len() == shape.len()
            && index.iter().zip(&shape).all(|(a, &len)| {
                a.interval(&ranges)
                    .is_some_and(|(lo, hi)| lo >= 0 && usize::try_from(hi).is_ok_and(|h| h < len))
            })
    }

    /// `buffer[index] op= value` (`op` `None` for `=`), at the end of the iteration.
    pub(super) fn store(
        &mut self,
        b: u32,
        index: Vec<Value>,
        op: Option<&syn::BinOp>,
        target: &Expr,
        value: Value,
    ) -> Option<Value> {
        let affines: Option<Vec<Affine>> = index.iter().map(affine_of).collect();
        let Some(affines) = affines else {
            return self.fail_kept("it writes a buffer at an index that is not an integer");
        };
        if !self.in_bounds(&ArrayRef::Buffer(b), &affines) {
            return self.fail_kept("a written index may be out of bounds");
        }
        let new = match op {
            None => value,
            Some(op) => {
                let old = self.load(ArrayRef::Buffer(b), affines.clone())?;
                self.binary_op(op, target, old, value)?
            }
        };
        let Value::Float(new) = new else {
            return self.fail_kept(format!("it stores {} in a buffer", new.kind()));
        };
        if !self.path.is_empty() {
            // A store runs at the end of every iteration, whichever arm was taken.
            return self.fail_kept("it writes an array inside an `if` on a float");
        }
        let frame = self.frames.last_mut()?;
        if frame.inner_read.contains(&b) || frame.inner_written.contains(&b) {
            return self.fail_kept("it writes a buffer that a loop inside it uses");
        }
        let same = frame
            .stores
            .iter()
            .position(|s| s.buffer == b && s.index == affines);
        let clash = frame
            .stores
            .iter()
            .any(|s| s.buffer == b && s.index != affines && !distinct(&s.index, &affines));
        if clash {
            return self.fail_kept("it writes a buffer at two indices that may be equal");
        }
        let store = Store {
            buffer: b,
            index: affines,
            value: new,
        };
        match same {
            Some(k) => frame.stores[k] = store,
            None => frame.stores.push(store),
        }
        frame.buffers_written.insert(b);
        Some(Value::Unit)
    }

    /// The symbolic array of a buffer of the current level, for straight-line code that
    /// writes it.
    pub(super) fn buffer_as_array(&mut self, b: u32) -> Option<Value> {
        let shape = self.buffers[b as usize].shape.clone();
        let total: usize = shape.iter().product();
        let Some(&effect) = self.effects().get(&b) else {
            return self.fail_kept("it reads a buffer before it exists");
        };
        let leaves: Vec<Value> = (0..total as u32)
            .map(|flat| {
                Value::Float(self.b.add(
                    Op::BufElem {
                        buf: b,
                        index: flat,
                    },
                    vec![effect],
                ))
            })
            .collect();
        Some(nest(&leaves, &shape))
    }

    /// Integer arithmetic involving a loop variable of a kept loop.
    pub(super) fn index_arithmetic(
        &mut self,
        op: &syn::BinOp,
        l: Value,
        r: Value,
    ) -> Option<Value> {
        let (Some(a), Some(b)) = (affine_of(&l), affine_of(&r)) else {
            return self.fail_kept("it mixes a loop variable with a value that is not an integer");
        };
        let result = match op {
            syn::BinOp::Add(_) => a.plus_scaled(&b, 1),
            syn::BinOp::Sub(_) => a.plus_scaled(&b, -1),
            syn::BinOp::Mul(_) => match (a.as_constant(), b.as_constant()) {
                (Some(k), _) => b.scaled(k),
                (_, Some(k)) => a.scaled(k),
                _ => None,
            },
            _ => None,
        };
        let symbol = crate::check::text(op);
        match result {
            Some(a) => Some(Value::Index(a)),
            None if matches!(symbol.as_str(), "<" | "<=" | ">" | ">=" | "==" | "!=") => self
                .fail_kept(format!(
                    "it compares its loop variable (`{symbol}`), a condition only unrolling settles"
                )),
            None => self.fail_kept(format!(
                "`{symbol}` of a loop variable is not of the form `a * i + b`"
            )),
        }
    }

    /// `i as f64` of a kept loop's variable.
    pub(super) fn index_as_float(&mut self, a: Affine) -> Option<Value> {
        Some(Value::Float(self.input(Input::Index(a))))
    }

    /// A loop whose bounds depend on a kept loop's variable, or that `loops = "keep"` asked to
    /// keep, and that could not be kept.
    pub(super) fn cannot_keep(&mut self, f: &ExprForLoop, reason: &str) -> Option<Value> {
        if !self.frames.is_empty() {
            const INNER: &str = "a loop inside it cannot be kept: ";
            let reason = reason.strip_prefix(INNER).unwrap_or(reason);
            return self.fail_kept(format!("{INNER}{reason}"));
        }
        let msg = format!(
            "this loop cannot stay a loop: {reason}; write it without that, or let gradgen \
             unroll it (`#[grad(loops = \"auto\")]`)"
        );
        self.report(Place::of(&f.expr), msg)
    }

    /// Whether to try keeping a loop with these bounds, before unrolling it.
    pub(super) fn should_try_keeping(&self, f: &ExprForLoop, trip: Option<usize>) -> bool {
        let Some(trip) = trip else {
            return true;
        };
        match self.loop_mode {
            LoopMode::Unroll => false,
            LoopMode::Keep => true,
            LoopMode::Auto => trip >= AUTO_MIN_TRIP && !self.unkeepable.contains(&loop_key(f)),
        }
    }

    pub(super) fn remember_unkeepable(&mut self, f: &ExprForLoop) {
        self.unkeepable.insert(loop_key(f));
    }
}

/// A loop's identity during one expansion: the address of its syntax.
fn loop_key(f: &ExprForLoop) -> usize {
    f as *const ExprForLoop as usize
}

/// The largest local array (not a parameter) a kept body reads from an enclosing scope; its
/// elements become operands of the loop.
const MAX_CAPTURED_ARRAY: usize = 64;

/// What an attempt decided in the enclosing scope.
#[derive(Default)]
struct Outer {
    /// Carried floats: name and value before the loop, in the enclosing graph.
    carried: Vec<(String, Id)>,
    /// Buffers the body may write, by name.
    buffers: Vec<(String, u32)>,
}

/// The affine of an integer value.
fn affine_of(v: &Value) -> Option<Affine> {
    match v {
        Value::Int(i, _) => Some(Affine::constant(*i)),
        Value::Index(a) => Some(a.clone()),
        _ => None,
    }
}

/// Whether two indices differ for every value of the loop variables: some component differs
/// by a nonzero constant.
fn distinct(a: &[Affine], b: &[Affine]) -> bool {
    a.iter().zip(b).any(|(x, y)| {
        x.plus_scaled(y, -1)
            .and_then(|d| d.as_constant())
            .is_some_and(|d| d != 0)
    })
}

/// The shape and the float leaves of an array of floats.
fn flatten(
    v: &Value,
    depth: usize,
    shape: &mut Vec<usize>,
    leaves: &mut Vec<Id>,
) -> Result<(), String> {
    match v {
        Value::Float(id) => {
            if shape.len() != depth {
                return Err("an array of uneven shape".into());
            }
            leaves.push(*id);
            Ok(())
        }
        Value::Array(items) => {
            match shape.get(depth) {
                Some(&len) if len != items.len() => return Err("an array of uneven shape".into()),
                Some(_) => {}
                None => shape.push(items.len()),
            }
            items
                .iter()
                .try_for_each(|item| flatten(item, depth + 1, shape, leaves))
        }
        other => Err(format!("an array holding {}", other.kind())),
    }
}

/// The nested array of `leaves` in `shape`, row-major.
fn nest(leaves: &[Value], shape: &[usize]) -> Value {
    let Some((&len, inner)) = shape.split_first() else {
        return leaves.first().cloned().unwrap_or(Value::Unit);
    };
    let stride: usize = inner.iter().product();
    Value::array(
        (0..len)
            .map(|i| nest(&leaves[i * stride..(i + 1) * stride], inner))
            .collect(),
    )
}

/// The names a body assigns (`name = `, `name op= `, `name[...] = `), anywhere inside it.
pub(super) fn assigned_names(block: &syn::Block) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for stmt in &block.stmts {
        match stmt {
            Stmt::Local(local) => {
                if let Some(init) = &local.init {
                    walk(&init.expr, &mut names);
                }
            }
            Stmt::Expr(e, _) => walk(e, &mut names),
            _ => {}
        }
    }
    names
}

fn walk(expr: &Expr, names: &mut BTreeSet<String>) {
    match expr {
        Expr::Assign(a) => {
            target_name(&a.left, names);
            walk(&a.right, names);
        }
        Expr::Binary(b) => {
            if super::expr::is_assignment(&b.op) {
                target_name(&b.left, names);
            }
            walk(&b.left, names);
            walk(&b.right, names);
        }
        Expr::Block(b) => names.extend(assigned_names(&b.block)),
        Expr::ForLoop(f) => names.extend(assigned_names(&f.body)),
        Expr::If(i) => {
            walk(&i.cond, names);
            names.extend(assigned_names(&i.then_branch));
            if let Some((_, e)) = &i.else_branch {
                walk(e, names);
            }
        }
        Expr::Paren(p) => walk(&p.expr, names),
        Expr::Group(g) => walk(&g.expr, names),
        _ => {}
    }
}

fn target_name(target: &Expr, names: &mut BTreeSet<String>) {
    match target {
        Expr::Path(p) => {
            if let Some(ident) = p.path.get_ident() {
                names.insert(syn::ext::IdentExt::unraw(ident).to_string());
            }
        }
        Expr::Index(ix) => target_name(&ix.expr, names),
        Expr::Paren(p) => target_name(&p.expr, names),
        _ => {}
    }
}
