//! A Graphviz picture of a differentiated function: the live nodes of its DAG, the forward
//! pass told apart from the adjoint code.
//!
//! The picture is petgraph's DOT output of [`crate::ir::Graph::to_petgraph`], without the
//! nodes that neither the value nor the gradient needs, and with the edges turned around so
//! that data flows down the page, from the parameters to the value and the derivatives:
//!
//! ```text
//! digraph "exp_sin_sq" {
//!     ...
//!     0 [ label = "x", shape = box ]
//!     1 [ label = "mul" ]
//!     ...
//!     7 [ label = "cos", style = filled, fillcolor = "#fde3c8", color = "#c8651b" ]
//!     0 -> 1 [ label = "0" ]
//!     0 -> 1 [ label = "1" ]
//!     ...
//! }
//! ```
//!
//! A node's DOT name is its IR id (`7` is `%7` of [`crate::dump`]), so the picture reads beside
//! the dump. Forward nodes are white; adjoint nodes are orange, and so are the edges into them
//! (an adjoint constant has orange text). Parameters are boxes, constants plain text; the value
//! and each derivative have a double outline and their role (`value`, `d_x`) under the
//! operation. An edge into an operation of several operands is labelled with the operand's
//! position. The output depends only on the graph: nodes in id order, edges by the id of the
//! operation that reads them, then by operand position.

use std::collections::BTreeMap;

use petgraph::dot::{Config, Dot};
use petgraph::stable_graph::{EdgeReference, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;

use crate::dump::{op_label, slot_name};
use crate::ir::{Id, Op};
use crate::Differentiated;

/// The fill and outline of adjoint nodes and the colour of the edges into them.
const ADJOINT_FILL: &str = "#fde3c8";
const ADJOINT_LINE: &str = "#c8651b";

/// The graph attributes written before the nodes.
const HEADER: &str = r#"    labelloc = t
    fontname = "Helvetica"
    node [ fontname = "Helvetica", fontsize = 11 ]
    edge [ fontname = "Helvetica", fontsize = 9, arrowsize = 0.6 ]
"#;

/// The DOT text of the live DAG of `d`; see the module documentation.
pub fn dot(d: &Differentiated) -> String {
    let view = live_view(d);
    let roles = roles(d);
    let node_attributes = |_, (n, _): (NodeIndex, &Op)| node_attributes(d, node_id(n), &roles);
    let edge_attributes = |_, e: EdgeReference<'_, usize>| edge_attributes(d, e);
    let config = [
        Config::GraphContentOnly,
        Config::NodeNoLabel,
        Config::EdgeNoLabel,
    ];
    // The labels come from the attribute getters, so petgraph's own label formatting, which
    // `{:?}` selects, is never used.
    let body = Dot::with_attr_getters(&view, &config, &edge_attributes, &node_attributes);
    let name = escape(&d.function.item.sig.ident.to_string());
    let title = format!("{name}: forward pass (white), adjoint code (orange)");
    format!("digraph \"{name}\" {{\n    label = \"{title}\"\n{HEADER}{body:?}}}\n")
}

/// The DAG with only the nodes that the value and the gradient need, keeping the IR ids as
/// node indices (a stable graph does not renumber on removal), each edge from an operand to
/// the operation that reads it.
fn live_view(d: &Differentiated) -> StableDiGraph<Op, usize> {
    let mut live = vec![false; d.graph.len()];
    for id in d.graph.live(&d.roots().all()) {
        live[id.index()] = true;
    }
    let mut view = StableDiGraph::from(d.graph.to_petgraph());
    view.retain_nodes(|_, n| live[n.index()]);
    view.reverse();
    view
}

/// What each root is: `value`, or `d_x` for the derivative with respect to `x`. A node can be
/// several at once (the derivative of `x * y` with respect to `x` is the parameter `y`).
fn roles(d: &Differentiated) -> BTreeMap<Id, Vec<String>> {
    let roots = d.roots();
    let mut roles: BTreeMap<Id, Vec<String>> = BTreeMap::new();
    roles.entry(roots.value).or_default().push("value".into());
    let slots = d.function.differentiated_slots();
    for (slot, &g) in slots.into_iter().zip(&roots.gradient) {
        let role = format!("d_{}", slot_name(d, slot.id));
        roles.entry(g).or_default().push(role);
    }
    roles
}

fn node_id(n: NodeIndex) -> Id {
    Id::new(n.index())
}

fn is_adjoint(d: &Differentiated, id: Id) -> bool {
    id.index() >= d.gradient.forward_len
}

fn node_attributes(d: &Differentiated, id: Id, roles: &BTreeMap<Id, Vec<String>>) -> String {
    let mut lines = vec![node_label(d, id)];
    if let Some(name) = d.function.names.get(&id) {
        lines.push(name.clone());
    }
    let roles = roles.get(&id).map_or(&[][..], Vec::as_slice);
    lines.extend(roles.iter().cloned());
    let label: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    let mut attributes = vec![format!("label = \"{}\"", label.join("\\n"))];
    match d.graph.op(id) {
        Op::Param(_) => attributes.push("shape = box".into()),
        Op::Const(_) => attributes.push("shape = plaintext".into()),
        _ => {}
    }
    if !roles.is_empty() {
        attributes.push("peripheries = 2".into());
    }
    match (is_adjoint(d, id), d.graph.op(id)) {
        (false, _) => {}
        // A constant has no outline to fill; its text is coloured instead.
        (true, Op::Const(_)) => attributes.push(format!("fontcolor = \"{ADJOINT_LINE}\"")),
        (true, _) => attributes.push(format!(
            "style = filled, fillcolor = \"{ADJOINT_FILL}\", color = \"{ADJOINT_LINE}\""
        )),
    }
    attributes.join(", ") + " "
}

/// The first line of a node's label: the parameter's name, the constant, or the operation.
fn node_label(d: &Differentiated, id: Id) -> String {
    match d.graph.op(id) {
        Op::Param(_) => slot_name(d, id),
        Op::Const(c) => format!("{:?}", c.get()),
        op => op_label(&d.graph, op),
    }
}

fn edge_attributes(d: &Differentiated, edge: EdgeReference<'_, usize>) -> String {
    let user = node_id(edge.target());
    let mut attributes = Vec::new();
    if d.graph.op(user).arity() > 1 {
        attributes.push(format!("label = \"{}\"", edge.weight()));
    }
    if is_adjoint(d, user) {
        attributes.push(format!("color = \"{ADJOINT_LINE}\""));
    }
    if attributes.is_empty() {
        String::new()
    } else {
        attributes.join(", ") + " "
    }
}

/// `text` as the inside of a DOT string.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot_of(source: &str) -> String {
        crate::dot(source).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_live_node_once_and_no_dead_node() {
        let out = dot_of("fn f(x: f64, y: f64) -> f64 { x * x }");
        // `y` is a parameter whose derivative is the constant 0, so it is not live.
        assert!(!out.contains("label = \"y\""), "{out}");
        assert!(out.contains("label = \"x\", shape = box"), "{out}");
    }

    #[test]
    fn adjoint_nodes_and_their_edges_are_coloured() {
        let out = dot_of("fn f(x: f64) -> f64 { x.sin() }");
        let cos = out
            .lines()
            .find(|l| l.contains("label = \"cos"))
            .unwrap_or_default();
        assert!(cos.contains(ADJOINT_FILL), "{out}");
        let sin = out
            .lines()
            .find(|l| l.contains("label = \"sin"))
            .unwrap_or_default();
        assert!(!sin.contains(ADJOINT_FILL), "{out}");
        assert!(
            out.contains(&format!("-> {} [ color", cos_id(&out))),
            "{out}"
        );
    }

    fn cos_id(out: &str) -> String {
        let line = out
            .lines()
            .find(|l| l.contains("label = \"cos"))
            .unwrap_or_default();
        line.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn roots_carry_their_roles() {
        let out = dot_of("fn f(x: f64, y: f64) -> f64 { x * y }");
        assert!(out.contains("label = \"mul\\nvalue\""), "{out}");
        assert!(out.contains("label = \"y\\nd_x\""), "{out}");
        assert!(out.contains("label = \"x\\nd_y\""), "{out}");
    }

    #[test]
    fn operand_positions_label_edges_of_binary_operations_only() {
        let out = dot_of("fn f(x: f64) -> f64 { (1.0 - x).exp() }");
        assert!(out.contains("[ label = \"0\" ]"), "{out}");
        assert!(out.contains("[ label = \"1\" ]"), "{out}");
        let unlabelled = out
            .lines()
            .filter(|l| l.contains("-> ") && l.ends_with("[ ]"));
        assert!(unlabelled.count() >= 1, "{out}");
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
    }

    #[test]
    fn output_is_deterministic() {
        let source = "fn f(x: f64, y: f64) -> f64 { let r = (x * x + y * y).sqrt(); r * r.sin() }";
        assert_eq!(dot_of(source), dot_of(source));
    }
}
