//! A layered (Sugiyama-style) layout of boxes joined by edges between rows.
//!
//! The input is abstract: boxes with a size and the vertical offsets of their rows ("ports"),
//! and edges from a port of one box to a port of another. The steps, per connected component:
//!
//! 1. Cycle breaking: a depth-first search reverses the edges that close a cycle. Self
//!    references take no part in layering and are drawn as loops.
//! 2. Layer assignment: layers are columns, placed left to right. A referenced box sits left
//!    of the boxes that reference it. Each box goes into the first layer right of all the boxes
//!    it references where the summed box height stays under a cap. The cap follows from the
//!    component's area, so a table referenced by many others fans out over several columns
//!    instead of one very tall one.
//! 3. Edges that span several layers get a thin dummy node in each layer they cross, so they
//!    pass between boxes instead of through them.
//! 4. Crossing reduction: barycentre sweeps over the layers, using the exact row of each
//!    endpoint, keeping the order with the fewest crossings.
//! 5. Coordinates: a layer's x follows from the widths of the layers left of it, and every
//!    box in a layer gets the layer's width. The y coordinates come from alternating sweeps
//!    that move each box towards the rows it is joined to, solved exactly per layer as an
//!    isotonic regression (pool adjacent violators) under the minimum spacing, so boxes in a
//!    layer keep their order and never overlap.
//! 6. Components are packed into rows, largest first.
//!
//! Everything is linear or `n log n` per sweep in the number of boxes, edge segments and
//! dummies, and the number of sweeps is fixed. The result depends only on the input order and
//! values, so equal input gives equal output.

use std::collections::BTreeSet;

/// Horizontal space between two layers before edges are counted in.
const LAYER_GAP: f64 = 64.0;
/// Extra horizontal space per edge crossing between two layers, up to [`MAX_GAP_EDGES`].
const GAP_PER_EDGE: f64 = 3.0;
const MAX_GAP_EDGES: usize = 24;
/// Vertical space between two boxes of one layer.
const BOX_GAP: f64 = 28.0;
/// Height of the slot a long edge takes in a layer it crosses, and the space around it.
const DUMMY_HEIGHT: f64 = 8.0;
const DUMMY_GAP: f64 = 6.0;
/// How far a self-reference loop reaches right of its box.
pub const LOOP_REACH: f64 = 36.0;
/// Space between packed components and around the whole drawing.
const COMPONENT_GAP: f64 = 56.0;
pub const MARGIN: f64 = 24.0;
/// The width-to-height ratio that layer caps and component packing aim for.
const ASPECT: f64 = 1.6;
const ORDER_SWEEPS: usize = 12;
const PLACEMENT_SWEEPS: usize = 8;

/// A box to place: its minimum size, and the y offset of each row's centre from its top.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub width: f64,
    pub height: f64,
    pub ports: Vec<f64>,
}

/// An edge from row `from_port` of box `from` (the referencing table) to row `to_port` of box
/// `to` (the referenced table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub from_port: usize,
    pub to: usize,
    pub to_port: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// Returns whether the two rectangles share interior points. Touching edges do not count.
    pub fn intersects(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }
}

/// The side of a box an edge leaves or enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// The path of one edge. `points` runs from the referencing row to the referenced row; the
/// first and last points lie on the box sides named by `start_side` and `end_side`. Between
/// consecutive points the edge runs with horizontal tangents at both ends, so a renderer draws
/// each step as a cubic curve (a straight line where both points share their y).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub points: Vec<Point>,
    pub start_side: Side,
    pub end_side: Side,
    /// A self reference: both ends on the right side of one box, drawn as a loop.
    pub self_loop: bool,
}

/// Box rectangles in input order, routes in edge order, and the size of the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub boxes: Vec<Rect>,
    pub routes: Vec<Route>,
    pub width: f64,
    pub height: f64,
}

/// Lays out `nodes` joined by `edges`.
///
/// # Panics
/// When an edge names a box or port that does not exist.
pub fn layout(nodes: &[Node], edges: &[Edge]) -> Layout {
    for edge in edges {
        assert!(
            edge.from < nodes.len() && edge.to < nodes.len(),
            "edge {edge:?} names a box outside 0..{}",
            nodes.len()
        );
        assert!(
            edge.from_port < nodes[edge.from].ports.len() && edge.to_port < nodes[edge.to].ports.len(),
            "edge {edge:?} names a port its box does not have"
        );
    }

    let components = components(nodes.len(), edges);
    let mut placed: Vec<Placed> = components
        .iter()
        .map(|component| layout_component(nodes, edges, component))
        .collect();
    pack(&mut placed, nodes.len(), edges.len())
}

/// One connected component: its boxes and edges, by global index, each in ascending order.
struct Component {
    nodes: Vec<usize>,
    edges: Vec<usize>,
}

fn components(node_count: usize, edges: &[Edge]) -> Vec<Component> {
    let mut parent: Vec<usize> = (0..node_count).collect();
    fn root(parent: &mut [usize], mut node: usize) -> usize {
        while parent[node] != node {
            parent[node] = parent[parent[node]];
            node = parent[node];
        }
        node
    }
    for edge in edges {
        let (a, b) = (root(&mut parent, edge.from), root(&mut parent, edge.to));
        if a != b {
            // The smaller index becomes the root, so components come out in input order.
            let (low, high) = if a < b { (a, b) } else { (b, a) };
            parent[high] = low;
        }
    }

    let mut index_of_root = vec![usize::MAX; node_count];
    let mut result: Vec<Component> = Vec::new();
    for node in 0..node_count {
        let top = root(&mut parent, node);
        if index_of_root[top] == usize::MAX {
            index_of_root[top] = result.len();
            result.push(Component {
                nodes: Vec::new(),
                edges: Vec::new(),
            });
        }
        result[index_of_root[top]].nodes.push(node);
    }
    for (id, edge) in edges.iter().enumerate() {
        let top = root(&mut parent, edge.from);
        result[index_of_root[top]].edges.push(id);
    }
    result
}

/// A component laid out with its top left corner at the origin.
struct Placed {
    boxes: Vec<(usize, Rect)>,
    routes: Vec<(usize, Route)>,
    width: f64,
    height: f64,
}

/// A node of the layered graph: a box, or a dummy slot of a long edge.
struct LayerNode {
    layer: usize,
    height: f64,
    width: f64,
    ports: Vec<f64>,
    /// The component-local box index; `None` for a dummy.
    real: Option<usize>,
    /// Segments to the layer on the left and on the right.
    left: Vec<usize>,
    right: Vec<usize>,
}

/// A piece of an edge between two adjacent layers.
struct Segment {
    left: usize,
    left_port: usize,
    right: usize,
    right_port: usize,
}

/// The layered-graph nodes an edge passes through, left to right, and whether the
/// referencing end is the left one.
struct Chain {
    edge: usize,
    nodes: Vec<usize>,
    left_port: usize,
    right_port: usize,
    from_is_left: bool,
}

fn layout_component(nodes: &[Node], edges: &[Edge], component: &Component) -> Placed {
    let members = &component.nodes;
    let local = |global: usize| {
        members
            .binary_search(&global)
            .expect("edge ends lie in their component")
    };

    // Left-to-right constraints: the referenced box comes before the referencing one.
    let mut constraints: Vec<(usize, usize)> = Vec::new();
    for &id in &component.edges {
        let edge = edges[id];
        if edge.from != edge.to {
            constraints.push((local(edge.to), local(edge.from)));
        }
    }
    let acyclic = break_cycles(members.len(), &constraints);
    let layer_of = assign_layers(nodes, members, &acyclic);

    let (mut graph, segments, chains) = build_layered_graph(nodes, edges, component, &layer_of);
    let layer_count = layer_of.iter().max().map_or(0, |max| max + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (id, node) in graph.iter().enumerate() {
        layers[node.layer].push(id);
    }

    order_layers(&graph, &segments, &mut layers);
    let xs = layer_positions(&mut graph, &layers);
    let ys = vertical_positions(&graph, &segments, &layers);

    let mut width = xs.last().map_or(0.0, |(x, w)| x + w);
    let mut height: f64 = 0.0;
    let mut boxes = Vec::with_capacity(members.len());
    for (id, node) in graph.iter().enumerate() {
        height = height.max(ys[id] + node.height);
        if let Some(real) = node.real {
            let (x, layer_width) = xs[node.layer];
            let rect = Rect {
                x,
                y: ys[id],
                width: layer_width,
                height: node.height,
            };
            boxes.push((members[real], rect));
        }
    }
    let box_of: Vec<Rect> = {
        let mut sorted = boxes.clone();
        sorted.sort_by_key(|(global, _)| *global);
        sorted.into_iter().map(|(_, rect)| rect).collect()
    };

    let mut routes = Vec::with_capacity(component.edges.len());
    for chain in &chains {
        routes.push((chain.edge, chain_route(chain, &graph, &xs, &ys)));
    }
    for &id in &component.edges {
        let edge = edges[id];
        if edge.from != edge.to {
            continue;
        }
        let rect = box_of[local(edge.from)];
        let ports = &nodes[edge.from].ports;
        let side_x = rect.x + rect.width;
        routes.push((
            id,
            Route {
                points: vec![
                    Point {
                        x: side_x,
                        y: rect.y + ports[edge.from_port],
                    },
                    Point {
                        x: side_x,
                        y: rect.y + ports[edge.to_port],
                    },
                ],
                start_side: Side::Right,
                end_side: Side::Right,
                self_loop: true,
            },
        ));
        width = width.max(side_x + LOOP_REACH);
    }

    Placed {
        boxes,
        routes,
        width,
        height,
    }
}

/// Returns `constraints` with the edges that close cycles reversed, found by an iterative
/// depth-first search that visits nodes and their successors in index order.
fn break_cycles(count: usize, constraints: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut successors: Vec<Vec<(usize, usize)>> = vec![Vec::new(); count];
    for (id, &(a, b)) in constraints.iter().enumerate() {
        successors[a].push((b, id));
    }

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; count];
    let mut reversed = vec![false; constraints.len()];
    for start in 0..count {
        if state[start] != State::New {
            continue;
        }
        state[start] = State::Open;
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(successor, id)) = successors[node].get(*next) {
                *next += 1;
                match state[successor] {
                    State::Open => reversed[id] = true,
                    State::New => {
                        state[successor] = State::Open;
                        stack.push((successor, 0));
                    }
                    State::Done => {}
                }
            } else {
                state[node] = State::Done;
                stack.pop();
            }
        }
    }

    constraints
        .iter()
        .zip(reversed)
        .map(|(&(a, b), flip)| if flip { (b, a) } else { (a, b) })
        .collect()
}

/// Assigns each component-local box a layer: right of everything it must follow, in the first
/// layer whose boxes still fit under the height cap. Boxes are taken in topological order,
/// lowest index first among those ready.
fn assign_layers(nodes: &[Node], members: &[usize], acyclic: &[(usize, usize)]) -> Vec<usize> {
    let count = members.len();
    let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut waiting = vec![0usize; count];
    for &(a, b) in acyclic {
        predecessors[b].push(a);
        successors[a].push(b);
        waiting[b] += 1;
    }

    let area: f64 = members
        .iter()
        .map(|&global| (nodes[global].width + LAYER_GAP) * (nodes[global].height + BOX_GAP))
        .sum();
    let tallest = members
        .iter()
        .map(|&global| nodes[global].height)
        .fold(0.0, f64::max);
    let cap = tallest.max((area / ASPECT).sqrt());

    let mut ready: BTreeSet<usize> = (0..count).filter(|&node| waiting[node] == 0).collect();
    let mut layer_of = vec![0usize; count];
    let mut load: Vec<f64> = Vec::new();
    while let Some(node) = ready.pop_first() {
        let earliest = predecessors[node]
            .iter()
            .map(|&p| layer_of[p] + 1)
            .max()
            .unwrap_or(0);
        let height = nodes[members[node]].height;
        let mut layer = earliest;
        while layer < load.len() && load[layer] > 0.0 && load[layer] + BOX_GAP + height > cap {
            layer += 1;
        }
        if layer == load.len() {
            load.push(0.0);
        }
        load[layer] += if load[layer] > 0.0 {
            BOX_GAP + height
        } else {
            height
        };
        layer_of[node] = layer;

        for &successor in &successors[node] {
            waiting[successor] -= 1;
            if waiting[successor] == 0 {
                ready.insert(successor);
            }
        }
    }
    layer_of
}

fn build_layered_graph(
    nodes: &[Node],
    edges: &[Edge],
    component: &Component,
    layer_of: &[usize],
) -> (Vec<LayerNode>, Vec<Segment>, Vec<Chain>) {
    let members = &component.nodes;
    let mut graph: Vec<LayerNode> = members
        .iter()
        .enumerate()
        .map(|(local, &global)| LayerNode {
            layer: layer_of[local],
            height: nodes[global].height,
            width: nodes[global].width,
            ports: nodes[global].ports.clone(),
            real: Some(local),
            left: Vec::new(),
            right: Vec::new(),
        })
        .collect();
    let mut segments = Vec::new();
    let mut chains = Vec::new();

    for &id in &component.edges {
        let edge = edges[id];
        if edge.from == edge.to {
            continue;
        }
        let from = members
            .binary_search(&edge.from)
            .expect("edge ends lie in their component");
        let to = members
            .binary_search(&edge.to)
            .expect("edge ends lie in their component");
        let from_is_left = layer_of[from] < layer_of[to];
        let (left, left_port, right, right_port) = if from_is_left {
            (from, edge.from_port, to, edge.to_port)
        } else {
            (to, edge.to_port, from, edge.from_port)
        };

        let mut chain = vec![left];
        for layer in layer_of[left] + 1..layer_of[right] {
            graph.push(LayerNode {
                layer,
                height: DUMMY_HEIGHT,
                width: 0.0,
                ports: vec![DUMMY_HEIGHT / 2.0],
                real: None,
                left: Vec::new(),
                right: Vec::new(),
            });
            chain.push(graph.len() - 1);
        }
        chain.push(right);

        for (step, pair) in chain.windows(2).enumerate() {
            let segment = Segment {
                left: pair[0],
                left_port: if step == 0 { left_port } else { 0 },
                right: pair[1],
                right_port: if step + 2 == chain.len() { right_port } else { 0 },
            };
            graph[pair[0]].right.push(segments.len());
            graph[pair[1]].left.push(segments.len());
            segments.push(segment);
        }
        chains.push(Chain {
            edge: id,
            nodes: chain,
            left_port,
            right_port,
            from_is_left,
        });
    }
    (graph, segments, chains)
}

/// Computes a row's sort key: the box's place in its layer plus the row's relative height
/// inside the box, so rows of one box sort in their vertical order.
fn port_key(graph: &[LayerNode], position: &[usize], node: usize, port: usize) -> f64 {
    let item = &graph[node];
    position[node] as f64 + item.ports[port] / item.height.max(1.0) * 0.999
}

fn order_layers(graph: &[LayerNode], segments: &[Segment], layers: &mut [Vec<usize>]) {
    let mut position = vec![0usize; graph.len()];
    for layer in layers.iter() {
        for (index, &node) in layer.iter().enumerate() {
            position[node] = index;
        }
    }

    let mut best = layers.to_vec();
    let mut best_crossings = count_crossings(graph, segments, layers, &position);
    let mut stale = 0;
    for sweep in 0..ORDER_SWEEPS {
        if best_crossings == 0 {
            break;
        }
        let rightwards = sweep % 2 == 0;
        let sequence: Vec<usize> = if rightwards {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for index in sequence {
            let mut keyed: Vec<(f64, usize)> = layers[index]
                .iter()
                .map(|&node| {
                    let links = if rightwards {
                        &graph[node].left
                    } else {
                        &graph[node].right
                    };
                    let key = if links.is_empty() {
                        position[node] as f64
                    } else {
                        let sum: f64 = links
                            .iter()
                            .map(|&id| {
                                let segment = &segments[id];
                                if rightwards {
                                    port_key(graph, &position, segment.left, segment.left_port)
                                } else {
                                    port_key(graph, &position, segment.right, segment.right_port)
                                }
                            })
                            .sum();
                        sum / links.len() as f64
                    };
                    (key, node)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(position[a.1].cmp(&position[b.1])));
            for (place, &(_, node)) in keyed.iter().enumerate() {
                layers[index][place] = node;
                position[node] = place;
            }
        }

        let crossings = count_crossings(graph, segments, layers, &position);
        if crossings < best_crossings {
            best_crossings = crossings;
            best = layers.to_vec();
            stale = 0;
        } else {
            stale += 1;
            if stale >= 4 {
                break;
            }
        }
    }
    layers.clone_from_slice(&best);
}

/// Counts pairwise crossings of segments between every pair of adjacent layers, by counting
/// inversions with a merge sort.
fn count_crossings(
    graph: &[LayerNode],
    segments: &[Segment],
    layers: &[Vec<usize>],
    position: &[usize],
) -> u64 {
    let mut total = 0;
    for layer in layers {
        let mut pairs: Vec<(f64, f64)> = layer
            .iter()
            .flat_map(|&node| graph[node].right.iter())
            .map(|&id| {
                let segment = &segments[id];
                (
                    port_key(graph, position, segment.left, segment.left_port),
                    port_key(graph, position, segment.right, segment.right_port),
                )
            })
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut rights: Vec<f64> = pairs.into_iter().map(|(_, right)| right).collect();
        total += count_inversions(&mut rights);
    }
    total
}

fn count_inversions(values: &mut [f64]) -> u64 {
    if values.len() < 2 {
        return 0;
    }
    let middle = values.len() / 2;
    let mut count = count_inversions(&mut values[..middle]) + count_inversions(&mut values[middle..]);
    let mut merged = Vec::with_capacity(values.len());
    let (mut i, mut j) = (0, middle);
    while i < middle && j < values.len() {
        if values[j] < values[i] {
            count += (middle - i) as u64;
            merged.push(values[j]);
            j += 1;
        } else {
            merged.push(values[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&values[i..middle]);
    merged.extend_from_slice(&values[j..]);
    values.copy_from_slice(&merged);
    count
}

/// Returns each layer's left x and width, and widens every box to its layer's width. The gap
/// right of a layer grows with the number of edges crossing it, so curves stay apart.
fn layer_positions(graph: &mut [LayerNode], layers: &[Vec<usize>]) -> Vec<(f64, f64)> {
    let mut result = Vec::with_capacity(layers.len());
    let mut x = 0.0;
    for layer in layers {
        let width = layer.iter().map(|&node| graph[node].width).fold(0.0, f64::max);
        for &node in layer {
            if graph[node].real.is_some() {
                graph[node].width = width;
            }
        }
        result.push((x, width));
        let crossing = layer
            .iter()
            .map(|&node| graph[node].right.len())
            .sum::<usize>()
            .min(MAX_GAP_EDGES);
        x += width + LAYER_GAP + GAP_PER_EDGE * crossing as f64;
    }
    result
}

fn spacing(graph: &[LayerNode], above: usize, below: usize) -> f64 {
    let gap = if graph[above].real.is_none() || graph[below].real.is_none() {
        DUMMY_GAP
    } else {
        BOX_GAP
    };
    graph[above].height + gap
}

/// Returns each layered-graph node's top y.
fn vertical_positions(graph: &[LayerNode], segments: &[Segment], layers: &[Vec<usize>]) -> Vec<f64> {
    let mut y = vec![0.0; graph.len()];
    for layer in layers {
        let mut top = 0.0;
        for window in layer.windows(2) {
            y[window[0]] = top;
            top += spacing(graph, window[0], window[1]);
        }
        if let Some(&last) = layer.last() {
            y[last] = top;
        }
    }

    for sweep in 0..=2 * PLACEMENT_SWEEPS {
        // Alternate rightward and leftward sweeps; the last one looks both ways.
        let (use_left, use_right, sequence): (bool, bool, Vec<usize>) = if sweep == 2 * PLACEMENT_SWEEPS {
            (true, true, (0..layers.len()).collect())
        } else if sweep % 2 == 0 {
            (true, false, (1..layers.len()).collect())
        } else {
            (false, true, (0..layers.len().saturating_sub(1)).rev().collect())
        };
        for index in sequence {
            place_layer(graph, segments, &layers[index], &mut y, use_left, use_right);
        }
    }

    let top = y.iter().copied().fold(f64::INFINITY, f64::min);
    if top.is_finite() {
        for value in &mut y {
            *value -= top;
        }
    }
    y
}

/// Moves the nodes of one layer as close as the spacing allows to where their edges want
/// them: the mean over their segments of the far end's row minus the near end's row offset.
fn place_layer(
    graph: &[LayerNode],
    segments: &[Segment],
    layer: &[usize],
    y: &mut [f64],
    use_left: bool,
    use_right: bool,
) {
    let mut desired = Vec::with_capacity(layer.len());
    let mut weights = Vec::with_capacity(layer.len());
    for &node in layer {
        let mut sum = 0.0;
        let mut weight = 0.0;
        let mut add = |own_port: usize, other: usize, other_port: usize| {
            // Straight long edges matter more than a slightly better box position.
            let strength = if graph[node].real.is_none() && graph[other].real.is_none() {
                2.0
            } else {
                1.0
            };
            sum += strength * (y[other] + graph[other].ports[other_port] - graph[node].ports[own_port]);
            weight += strength;
        };
        if use_left {
            for &id in &graph[node].left {
                let segment = &segments[id];
                add(segment.right_port, segment.left, segment.left_port);
            }
        }
        if use_right {
            for &id in &graph[node].right {
                let segment = &segments[id];
                add(segment.left_port, segment.right, segment.right_port);
            }
        }
        if weight == 0.0 {
            desired.push(y[node]);
            weights.push(0.2);
        } else {
            desired.push(sum / weight);
            weights.push(weight);
        }
    }

    let separations: Vec<f64> = layer
        .windows(2)
        .map(|window| spacing(graph, window[0], window[1]))
        .collect();
    let placed = isotonic_placement(&desired, &weights, &separations);
    for (&node, value) in layer.iter().zip(placed) {
        y[node] = value;
    }
}

/// Minimises the weighted squared distance of each position to its desired value, subject to
/// `position[i + 1] - position[i] >= separations[i]`. Shifting position `i` by the sum of the
/// separations before it turns the constraint into plain monotonicity, which pool adjacent
/// violators solves exactly in linear time.
fn isotonic_placement(desired: &[f64], weights: &[f64], separations: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(desired.len());
    let mut offset = 0.0;
    for index in 0..desired.len() {
        offsets.push(offset);
        if let Some(separation) = separations.get(index) {
            offset += separation;
        }
    }

    // Each block: weighted sum of targets, total weight, and how many positions it pools.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for index in 0..desired.len() {
        let target = desired[index] - offsets[index];
        blocks.push((target * weights[index], weights[index], 1));
        while blocks.len() >= 2 {
            let last = blocks[blocks.len() - 1];
            let before = blocks[blocks.len() - 2];
            if before.0 / before.1 <= last.0 / last.1 {
                break;
            }
            blocks.pop();
            let merged = blocks.last_mut().expect("two blocks were present");
            *merged = (before.0 + last.0, before.1 + last.1, before.2 + last.2);
        }
    }

    let mut result = Vec::with_capacity(desired.len());
    for (sum, weight, count) in blocks {
        let mean = sum / weight;
        for _ in 0..count {
            result.push(mean + offsets[result.len()]);
        }
    }
    result
}

fn chain_route(chain: &Chain, graph: &[LayerNode], xs: &[(f64, f64)], ys: &[f64]) -> Route {
    let mut points = Vec::with_capacity(2 * chain.nodes.len());
    let last = chain.nodes.len() - 1;
    for (step, &node) in chain.nodes.iter().enumerate() {
        let (x, width) = xs[graph[node].layer];
        if step == 0 {
            points.push(Point {
                x: x + width,
                y: ys[node] + graph[node].ports[chain.left_port],
            });
        } else if step == last {
            points.push(Point {
                x,
                y: ys[node] + graph[node].ports[chain.right_port],
            });
        } else {
            let y = ys[node] + DUMMY_HEIGHT / 2.0;
            points.push(Point { x, y });
            points.push(Point { x: x + width, y });
        }
    }

    if chain.from_is_left {
        Route {
            points,
            start_side: Side::Right,
            end_side: Side::Left,
            self_loop: false,
        }
    } else {
        points.reverse();
        Route {
            points,
            start_side: Side::Left,
            end_side: Side::Right,
            self_loop: false,
        }
    }
}

/// Packs components into rows, the ones with most boxes first, and adds the outer margin.
fn pack(placed: &mut [Placed], node_count: usize, edge_count: usize) -> Layout {
    let mut order: Vec<usize> = (0..placed.len()).collect();
    order.sort_by(|&a, &b| placed[b].boxes.len().cmp(&placed[a].boxes.len()).then(a.cmp(&b)));

    let area: f64 = placed
        .iter()
        .map(|part| (part.width + COMPONENT_GAP) * (part.height + COMPONENT_GAP))
        .sum();
    let widest = placed.iter().map(|part| part.width).fold(0.0, f64::max);
    let row_width = widest.max((area * ASPECT).sqrt());

    let mut boxes = vec![
        Rect {
            x: 0.0,
            y: 0.0,
            width: 0.0,
            height: 0.0
        };
        node_count
    ];
    let mut routes: Vec<Option<Route>> = vec![None; edge_count];
    let (mut x, mut y, mut row_height, mut width) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    for index in order {
        let part = &mut placed[index];
        if x > 0.0 && x + part.width > row_width {
            x = 0.0;
            y += row_height + COMPONENT_GAP;
            row_height = 0.0;
        }
        let (dx, dy) = (x + MARGIN, y + MARGIN);
        for (global, rect) in part.boxes.drain(..) {
            boxes[global] = Rect {
                x: rect.x + dx,
                y: rect.y + dy,
                ..rect
            };
        }
        for (id, mut route) in part.routes.drain(..) {
            for point in &mut route.points {
                point.x += dx;
                point.y += dy;
            }
            routes[id] = Some(route);
        }
        width = width.max(x + part.width);
        row_height = row_height.max(part.height);
        x += part.width + COMPONENT_GAP;
    }

    Layout {
        boxes,
        routes: routes
            .into_iter()
            .map(|route| route.expect("every edge belongs to one component"))
            .collect(),
        width: width + 2.0 * MARGIN,
        height: y + row_height + 2.0 * MARGIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence (a linear congruential generator), so the
    /// generated graphs are the same on every run.
    struct Sequence(u64);

    impl Sequence {
        fn below(&mut self, bound: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % bound as u64) as usize
        }
    }

    fn table_node(rows: usize, width: f64) -> Node {
        Node {
            width,
            height: 28.0 + 20.0 * rows as f64,
            ports: (0..=rows)
                .map(|port| {
                    if port == 0 {
                        14.0
                    } else {
                        28.0 + 20.0 * (port - 1) as f64 + 10.0
                    }
                })
                .collect(),
        }
    }

    /// Generates `count` boxes of varied size. Each box after the first references one or two
    /// earlier ones, and about one key in ten points at any box, which makes cycles and self
    /// references.
    fn generated(count: usize, seed: u64) -> (Vec<Node>, Vec<Edge>) {
        let mut random = Sequence(seed);
        let nodes: Vec<Node> = (0..count)
            .map(|_| table_node(2 + random.below(12), 140.0 + random.below(160) as f64))
            .collect();
        let mut edges = Vec::new();
        for (from, node) in nodes.iter().enumerate().skip(1) {
            for _ in 0..1 + random.below(2) {
                let to = if random.below(10) == 0 {
                    random.below(count)
                } else {
                    random.below(from)
                };
                edges.push(Edge {
                    from,
                    from_port: 1 + random.below(node.ports.len() - 1),
                    to,
                    to_port: 1,
                });
            }
        }
        (nodes, edges)
    }

    fn assert_no_overlaps(layout: &Layout) {
        for (i, a) in layout.boxes.iter().enumerate() {
            for (j, b) in layout.boxes.iter().enumerate().skip(i + 1) {
                assert!(!a.intersects(b), "boxes {i} {a:?} and {j} {b:?} overlap");
            }
            assert!(
                a.x >= 0.0 && a.y >= 0.0,
                "box {i} {a:?} starts outside the drawing"
            );
            assert!(
                a.x + a.width <= layout.width && a.y + a.height <= layout.height,
                "box {i} {a:?} ends outside the drawing of {} x {}",
                layout.width,
                layout.height
            );
        }
    }

    fn side_x(rect: &Rect, side: Side) -> f64 {
        match side {
            Side::Left => rect.x,
            Side::Right => rect.x + rect.width,
        }
    }

    fn assert_routes_end_at_rows(nodes: &[Node], edges: &[Edge], layout: &Layout) {
        for (edge, route) in edges.iter().zip(&layout.routes) {
            let start = route.points[0];
            let end = *route.points.last().unwrap();
            let from = layout.boxes[edge.from];
            let to = layout.boxes[edge.to];
            assert_eq!(
                start.x,
                side_x(&from, route.start_side),
                "{edge:?} starts off its box side"
            );
            assert_eq!(
                start.y,
                from.y + nodes[edge.from].ports[edge.from_port],
                "{edge:?} starts off its row"
            );
            assert_eq!(
                end.x,
                side_x(&to, route.end_side),
                "{edge:?} ends off its box side"
            );
            assert_eq!(
                end.y,
                to.y + nodes[edge.to].ports[edge.to_port],
                "{edge:?} ends off its row"
            );
            assert_eq!(route.self_loop, edge.from == edge.to);
        }
    }

    /// Samples each step of every route as the cubic curve a renderer draws and checks that
    /// no sample lies inside a box.
    fn assert_routes_avoid_boxes(layout: &Layout) {
        for (id, route) in layout.routes.iter().enumerate() {
            if route.self_loop {
                continue;
            }
            for pair in route.points.windows(2) {
                let (p, q) = (pair[0], pair[1]);
                let middle = (p.x + q.x) / 2.0;
                for step in 1..20 {
                    let t = f64::from(step) / 20.0;
                    let u = 1.0 - t;
                    let x = u * u * u * p.x
                        + 3.0 * u * u * t * middle
                        + 3.0 * u * t * t * middle
                        + t * t * t * q.x;
                    let y = u * u * u * p.y + 3.0 * u * u * t * p.y + 3.0 * u * t * t * q.y + t * t * t * q.y;
                    for (index, rect) in layout.boxes.iter().enumerate() {
                        let inside = x > rect.x + 0.5
                            && x < rect.x + rect.width - 0.5
                            && y > rect.y + 0.5
                            && y < rect.y + rect.height - 0.5;
                        assert!(!inside, "route {id} passes through box {index} at ({x}, {y})");
                    }
                }
            }
        }
    }

    fn check(nodes: &[Node], edges: &[Edge]) -> Layout {
        let result = layout(nodes, edges);
        assert_eq!(result.boxes.len(), nodes.len());
        assert_eq!(result.routes.len(), edges.len());
        assert_no_overlaps(&result);
        assert_routes_end_at_rows(nodes, edges, &result);
        assert_routes_avoid_boxes(&result);
        for (rect, node) in result.boxes.iter().zip(nodes) {
            assert!(
                rect.width >= node.width && rect.height == node.height,
                "{rect:?} shrank {node:?}"
            );
        }
        result
    }

    #[test]
    fn empty_input() {
        let result = layout(&[], &[]);
        assert!(result.boxes.is_empty());
        assert!(result.routes.is_empty());
        assert_eq!(result.width, 2.0 * MARGIN);
    }

    #[test]
    fn referenced_box_sits_left() {
        let nodes = vec![table_node(3, 150.0), table_node(2, 150.0)];
        let edges = vec![Edge {
            from: 0,
            from_port: 2,
            to: 1,
            to_port: 1,
        }];
        let result = check(&nodes, &edges);
        assert!(result.boxes[1].x + result.boxes[1].width < result.boxes[0].x);
        assert_eq!(result.routes[0].start_side, Side::Left);
        assert_eq!(result.routes[0].end_side, Side::Right);
        // Two boxes joined by one edge line up that edge exactly.
        assert_eq!(result.routes[0].points[0].y, result.routes[0].points[1].y);
    }

    #[test]
    fn cycles_and_self_references() {
        let nodes: Vec<Node> = (0..4).map(|_| table_node(3, 160.0)).collect();
        let edge = |from, to| Edge {
            from,
            from_port: 2,
            to,
            to_port: 1,
        };
        // 0 -> 1 -> 2 -> 0 is a cycle, 3 references itself and 2, 1 references itself twice.
        let edges = vec![
            edge(0, 1),
            edge(1, 2),
            edge(2, 0),
            edge(3, 3),
            edge(3, 2),
            edge(1, 1),
            edge(1, 1),
        ];
        let result = check(&nodes, &edges);
        assert!(result.routes[3].self_loop);
        assert!(result.routes[5].self_loop);
        for route in &result.routes[3..4] {
            assert_eq!((route.start_side, route.end_side), (Side::Right, Side::Right));
        }
        assert!(result.width >= result.boxes[3].x + result.boxes[3].width + LOOP_REACH);
    }

    #[test]
    fn mutual_references() {
        let nodes = vec![table_node(2, 150.0), table_node(2, 150.0)];
        let edges = vec![
            Edge {
                from: 0,
                from_port: 1,
                to: 1,
                to_port: 2,
            },
            Edge {
                from: 1,
                from_port: 1,
                to: 0,
                to_port: 2,
            },
        ];
        check(&nodes, &edges);
    }

    #[test]
    fn fifty_boxes() {
        let (nodes, edges) = generated(50, 7);
        let result = check(&nodes, &edges);
        // Readable means roughly screen-shaped, not one endless row or column.
        let ratio = result.width / result.height;
        assert!(
            (0.4..=4.0).contains(&ratio),
            "aspect ratio {ratio} of {} x {}",
            result.width,
            result.height
        );
    }

    #[test]
    fn three_hundred_boxes() {
        let (nodes, edges) = generated(300, 11);
        check(&nodes, &edges);
    }

    #[test]
    fn hub_fans_out_over_several_layers() {
        // One box referenced by 60 others: a single column of 60 boxes would be unreadable.
        let mut nodes = vec![table_node(2, 150.0)];
        nodes.extend((0..60).map(|_| table_node(4, 150.0)));
        let edges: Vec<Edge> = (1..61)
            .map(|from| Edge {
                from,
                from_port: 2,
                to: 0,
                to_port: 1,
            })
            .collect();
        let result = check(&nodes, &edges);
        let columns: BTreeSet<u64> = result.boxes.iter().map(|rect| rect.x.to_bits()).collect();
        assert!(columns.len() >= 4, "only {} columns", columns.len());
    }

    #[test]
    fn isolated_boxes_are_packed_in_rows() {
        let nodes: Vec<Node> = (0..40).map(|_| table_node(3, 150.0)).collect();
        let result = check(&nodes, &[]);
        let rows: BTreeSet<u64> = result.boxes.iter().map(|rect| rect.y.to_bits()).collect();
        assert!(rows.len() > 2, "{} rows", rows.len());
        assert!(rows.len() < 40, "{} rows", rows.len());
    }

    #[test]
    fn equal_input_gives_equal_layout() {
        let (nodes, edges) = generated(120, 3);
        assert_eq!(layout(&nodes, &edges), layout(&nodes, &edges));
    }

    #[test]
    fn isotonic_placement_keeps_order_and_spacing() {
        // All three want y = 0; with spacing 10 the least-squares solution is -10, 0, 10.
        let placed = isotonic_placement(&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0], &[10.0, 10.0]);
        assert_eq!(placed, vec![-10.0, 0.0, 10.0]);
        // Positions already far enough apart stay where they want to be.
        let placed = isotonic_placement(&[0.0, 50.0], &[1.0, 1.0], &[10.0]);
        assert_eq!(placed, vec![0.0, 50.0]);
    }

    #[test]
    fn crossings_are_counted() {
        assert_eq!(count_inversions(&mut [1.0, 2.0, 3.0]), 0);
        assert_eq!(count_inversions(&mut [3.0, 2.0, 1.0]), 3);
        assert_eq!(count_inversions(&mut [2.0, 2.0]), 0);
    }
}
