//! Drawing a [`Diagram`] as SVG: box sizes from text widths, the layout, then the markup.
//!
//! The SVG is self-contained: styles sit in an inline `<style>`, fonts are named from the
//! system's (no web fonts), and nothing links outside the file. Every table group carries
//! `data-schema` and `data-table` attributes and every edge `data-from`/`data-to` ones, which
//! the HTML page uses to find what was clicked.

use std::fmt::Write;

use super::diagram::{Diagram, DrawnColumn, DrawnRelation, DrawnTable, kind_label};
use super::layout::{self, Edge, LOOP_REACH, Layout, Node, Point, Route, Side};
use super::text;

pub const HEADER_HEIGHT: f64 = 28.0;
pub const ROW_HEIGHT: f64 = 20.0;
const FONT_SIZE: f64 = 12.0;
const HEADER_FONT_SIZE: f64 = 13.0;
const KIND_FONT_SIZE: f64 = 10.0;
const BADGE_FONT_SIZE: f64 = 8.0;
const BADGE_WIDTH: f64 = 17.0;
const PADDING: f64 = 8.0;
/// Space between a column name and its type.
const NAME_TYPE_GAP: f64 = 18.0;
const MIN_BOX_WIDTH: f64 = 140.0;
/// Maximum characters of a type shown in full. Longer types are cut, and the tooltip shows them whole.
const MAX_TYPE_CHARS: usize = 36;
const MAX_NAME_CHARS: usize = 63;

const STYLE: &str = "\
.edge{fill:none;stroke:#5b6b82;stroke-width:1.3}\
.edge-end{fill:none;stroke:#5b6b82;stroke-width:1.3}\
.box{fill:#fff;stroke:#8a98ad;stroke-width:1}\
.external .box{stroke-dasharray:4 3}\
.head{fill:#dde7f3}\
.view .head{fill:#e4f1e0}\
.external .head{fill:#eef0f3}\
.title{font-weight:bold;fill:#1d2a3a}\
.kind{fill:#5b6b82;font-style:italic}\
.stripe{fill:#f5f7fa}\
.name{fill:#1d2a3a}\
.type{fill:#6b7789}\
.more{fill:#6b7789;font-style:italic}\
.badge text{font-weight:bold;fill:#fff}\
.pk rect{fill:#c08a00}\
.fk rect{fill:#3a6fb0}\
.uq rect{fill:#7a4fa8}";

/// The laid-out diagram with its SVG text.
pub struct Drawing {
    pub layout: Layout,
    pub svg: String,
}

/// Lays out and draws `diagram`.
pub fn draw(diagram: &Diagram) -> Drawing {
    let nodes: Vec<Node> = diagram.tables.iter().map(measure).collect();
    let edges: Vec<Edge> = diagram
        .relations
        .iter()
        .map(|relation| Edge {
            from: relation.from,
            from_port: port(relation.from_row),
            to: relation.to,
            to_port: port(relation.to_row),
        })
        .collect();
    let layout = layout::layout(&nodes, &edges);
    let svg = markup(diagram, &layout);
    Drawing { layout, svg }
}

/// Port 0 is the header; port `n + 1` is row `n`.
fn port(row: Option<usize>) -> usize {
    row.map_or(0, |row| row + 1)
}

/// Returns the y offset of a row's centre from the top of its box.
pub fn row_centre(row: usize) -> f64 {
    HEADER_HEIGHT + ROW_HEIGHT * row as f64 + ROW_HEIGHT / 2.0
}

fn badges(column: &DrawnColumn) -> Vec<(&'static str, &'static str)> {
    let mut result = Vec::new();
    if column.primary_key {
        result.push(("pk", "PK"));
    }
    if column.foreign_key {
        result.push(("fk", "FK"));
    }
    if column.unique && !column.primary_key {
        result.push(("uq", "UQ"));
    }
    result
}

fn row_count(table: &DrawnTable) -> usize {
    let rows = table.columns.len() + usize::from(table.hidden_columns > 0);
    rows.max(1)
}

fn badge_column_width(table: &DrawnTable) -> f64 {
    let most = table
        .columns
        .iter()
        .map(|column| badges(column).len())
        .max()
        .unwrap_or(0);
    if most == 0 {
        0.0
    } else {
        most as f64 * (BADGE_WIDTH + 2.0) + 4.0
    }
}

fn title_text(table: &DrawnTable) -> String {
    text::truncate(&table.name.to_string(), 2 * MAX_NAME_CHARS + 1).into_owned()
}

fn kind_text(table: &DrawnTable) -> Option<String> {
    let kind = kind_label(table.table?.kind)?;
    Some(if table.partitions > 0 {
        format!("{kind}, {} partitions", table.partitions)
    } else {
        kind.to_string()
    })
}

fn more_text(table: &DrawnTable) -> String {
    match table.hidden_columns {
        1 => "1 more column".to_string(),
        count => format!("{count} more columns"),
    }
}

fn measure(table: &DrawnTable) -> Node {
    let mut width = text::width(&title_text(table), HEADER_FONT_SIZE, true) + 2.0 * PADDING;
    if let Some(kind) = kind_text(table) {
        width += text::width(&kind, KIND_FONT_SIZE, false) + NAME_TYPE_GAP;
    }
    let badge_width = badge_column_width(table);
    for column in &table.columns {
        let row = PADDING
            + badge_width
            + text::width(&text::truncate(column.name, MAX_NAME_CHARS), FONT_SIZE, false)
            + NAME_TYPE_GAP
            + text::width(
                &text::truncate(column.data_type, MAX_TYPE_CHARS),
                FONT_SIZE,
                false,
            )
            + PADDING;
        width = width.max(row);
    }
    if table.hidden_columns > 0 {
        width = width.max(2.0 * PADDING + text::width(&more_text(table), FONT_SIZE, false));
    }

    let rows = row_count(table);
    let mut ports = vec![HEADER_HEIGHT / 2.0];
    ports.extend((0..table.columns.len()).map(row_centre));
    Node {
        width: width.max(MIN_BOX_WIDTH).ceil(),
        height: HEADER_HEIGHT + ROW_HEIGHT * rows as f64,
        ports,
    }
}

/// Formats a coordinate with at most one decimal and no trailing `.0`. It uses integer
/// arithmetic because a large schema writes millions of coordinates.
pub fn number(value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    let (whole, fraction) = (tenths.abs() / 10, tenths.abs() % 10);
    if fraction == 0 {
        if whole == 0 {
            return "0".to_string();
        }
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// Escapes text for XML content and attribute values, and replaces characters that XML 1.0
/// does not allow (most control characters) with U+FFFD.
pub fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    let needs_escape = |character: char| {
        matches!(character, '&' | '<' | '>' | '"' | '\'' | '\u{fffe}' | '\u{ffff}')
            || (character < ' ' && !matches!(character, '\t' | '\n' | '\r'))
    };
    if !value.contains(needs_escape) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for character in value.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(character),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn markup(diagram: &Diagram, layout: &Layout) -> String {
    let mut svg = String::with_capacity(4096 + 1500 * diagram.tables.len());
    let (width, height) = (number(layout.width), number(layout.height));
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"underpin-erd\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"{}\" font-size=\"{}\">",
        escape(text::FONT_FAMILY),
        number(FONT_SIZE),
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(&diagram.title));
    let _ = writeln!(svg, "<style>{STYLE}</style>");
    let _ = writeln!(svg, "<rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>");

    svg.push_str("<g class=\"edges\">\n");
    for (relation, route) in diagram.relations.iter().zip(&layout.routes) {
        edge_markup(&mut svg, diagram, relation, route);
    }
    svg.push_str("</g>\n<g class=\"tables\">\n");
    for (table, rect) in diagram.tables.iter().zip(&layout.boxes) {
        table_markup(&mut svg, table, rect);
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

fn edge_path(route: &Route) -> String {
    let mut path = String::new();
    let first = route.points[0];
    let _ = write!(path, "M{},{}", number(first.x), number(first.y));
    if route.self_loop {
        let last = route.points[1];
        // A column that references itself would give a flat loop; spread its two ends.
        let (start_y, end_y) = if first.y == last.y {
            (first.y - 4.0, last.y + 4.0)
        } else {
            (first.y, last.y)
        };
        let reach = first.x + LOOP_REACH;
        let _ = write!(
            path,
            " C{},{} {},{} {},{}",
            number(reach),
            number(start_y),
            number(reach),
            number(end_y),
            number(last.x),
            number(last.y)
        );
        return path;
    }
    for pair in route.points.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        if from.y == to.y {
            let _ = write!(path, " H{}", number(to.x));
            continue;
        }
        let middle = (from.x + to.x) / 2.0;
        let _ = write!(
            path,
            " C{},{} {},{} {},{}",
            number(middle),
            number(from.y),
            number(middle),
            number(to.y),
            number(to.x),
            number(to.y)
        );
    }
    path
}

/// Crow's-foot notation: the referencing end shows a fork for "many" (a bar when the key is
/// unique), the referenced end a bar, doubled for a mandatory key and with a ring for an
/// optional one.
fn end_marks(point: Point, side: Side, many: bool, double: bool, ring: bool) -> String {
    let outward = if side == Side::Right { 1.0 } else { -1.0 };
    let (x, y) = (point.x, point.y);
    let at = |distance: f64| number(x + outward * distance);
    let mut path = String::new();
    if many {
        let _ = write!(
            path,
            "M{},{} L{},{} L{},{}",
            number(x),
            number(y - 6.0),
            at(11.0),
            number(y),
            number(x),
            number(y + 6.0)
        );
    } else {
        let _ = write!(path, "M{},{} V{}", at(9.0), number(y - 6.0), number(y + 6.0));
    }
    if double {
        let _ = write!(path, " M{},{} V{}", at(14.0), number(y - 6.0), number(y + 6.0));
    }
    if ring {
        let centre = x + outward * 17.0;
        let _ = write!(
            path,
            " M{},{} a3,3 0 1,0 6,0 a3,3 0 1,0 -6,0",
            number(centre - 3.0),
            number(y)
        );
    }
    path
}

fn pairs_text(relation: &DrawnRelation) -> String {
    relation
        .key
        .columns
        .iter()
        .zip(&relation.key.referenced_columns)
        .map(|(from, to)| format!("{from} → {to}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn edge_markup(svg: &mut String, diagram: &Diagram, relation: &DrawnRelation, route: &Route) {
    let from = &diagram.tables[relation.from];
    let to = &diagram.tables[relation.to];
    let key = relation.key;
    let _ = write!(
        svg,
        "<g class=\"relation\" data-from-schema=\"{}\" data-from=\"{}\" data-from-column=\"{}\" \
         data-to-schema=\"{}\" data-to=\"{}\" data-to-column=\"{}\" data-key=\"{}\">",
        escape(&from.name.schema),
        escape(&from.name.name),
        escape(key.columns.get(relation.pair).map_or("", String::as_str)),
        escape(&to.name.schema),
        escape(&to.name.name),
        escape(
            key.referenced_columns
                .get(relation.pair)
                .map_or("", String::as_str)
        ),
        escape(&key.name),
    );
    let _ = write!(
        svg,
        "<title>{}: {} ({}) → {}</title>",
        escape(&key.name),
        escape(&from.name.to_string()),
        escape(&pairs_text(relation)),
        escape(&to.name.to_string()),
    );
    let _ = write!(svg, "<path class=\"edge\" d=\"{}\"/>", edge_path(route));

    let start = route.points[0];
    let end = *route.points.last().expect("a route has two points or more");
    let marks = format!(
        "{} {}",
        end_marks(start, route.start_side, !relation.one_to_one, false, false),
        end_marks(end, route.end_side, false, !relation.optional, relation.optional)
    );
    let _ = writeln!(svg, "<path class=\"edge-end\" d=\"{marks}\"/></g>");
}

fn table_markup(svg: &mut String, table: &DrawnTable, rect: &layout::Rect) {
    let mut classes = String::from("table");
    if table.external {
        classes.push_str(" external");
    }
    if table.table.is_some_and(|table| table.kind.is_view()) {
        classes.push_str(" view");
    }
    let (width, height) = (rect.width, rect.height);
    let _ = write!(
        svg,
        "<g class=\"{classes}\" data-schema=\"{}\" data-table=\"{}\" transform=\"translate({},{})\">",
        escape(&table.name.schema),
        escape(&table.name.name),
        number(rect.x),
        number(rect.y)
    );
    let mut tooltip = table.name.to_string();
    if let Some(comment) = table.table.and_then(|table| table.comment.as_deref()) {
        tooltip.push_str("\n\n");
        tooltip.push_str(comment);
    }
    let _ = write!(svg, "<title>{}</title>", escape(&tooltip));
    let _ = write!(
        svg,
        "<rect class=\"box\" width=\"{}\" height=\"{}\" rx=\"4\"/>",
        number(width),
        number(height)
    );
    let _ = write!(
        svg,
        "<path class=\"head\" d=\"M0,{h} V4 Q0,0 4,0 H{inner} Q{w},0 {w},4 V{h} Z\"/>",
        h = number(HEADER_HEIGHT),
        inner = number(width - 4.0),
        w = number(width)
    );
    let baseline = HEADER_HEIGHT / 2.0 + 4.5;
    let _ = write!(
        svg,
        "<text class=\"title\" x=\"{}\" y=\"{}\" font-size=\"{}\">{}</text>",
        number(PADDING),
        number(baseline),
        number(HEADER_FONT_SIZE),
        escape(&title_text(table))
    );
    if let Some(kind) = kind_text(table) {
        let _ = write!(
            svg,
            "<text class=\"kind\" x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"end\">{}</text>",
            number(width - PADDING),
            number(baseline),
            number(KIND_FONT_SIZE),
            escape(&kind)
        );
    }

    let badge_width = badge_column_width(table);
    for (row, column) in table.columns.iter().enumerate() {
        column_markup(svg, column, row, width, badge_width);
    }
    if table.hidden_columns > 0 {
        let top = HEADER_HEIGHT + ROW_HEIGHT * table.columns.len() as f64;
        let _ = write!(
            svg,
            "<text class=\"more\" x=\"{}\" y=\"{}\">{}</text>",
            number(PADDING),
            number(top + ROW_HEIGHT / 2.0 + 4.0),
            escape(&more_text(table))
        );
    }
    if table.columns.is_empty() && table.hidden_columns == 0 {
        let _ = write!(
            svg,
            "<text class=\"more\" x=\"{}\" y=\"{}\">no columns</text>",
            number(PADDING),
            number(HEADER_HEIGHT + ROW_HEIGHT / 2.0 + 4.0)
        );
    }
    svg.push_str("</g>\n");
}

fn column_markup(svg: &mut String, column: &DrawnColumn, row: usize, width: f64, badge_width: f64) {
    let top = HEADER_HEIGHT + ROW_HEIGHT * row as f64;
    let baseline = top + ROW_HEIGHT / 2.0 + 4.0;
    let _ = write!(
        svg,
        "<g class=\"column\" data-column=\"{}\">",
        escape(column.name)
    );
    let mut tooltip = format!("{} {}", column.name, column.data_type);
    if !column.nullable {
        tooltip.push_str(" NOT NULL");
    }
    if let Some(comment) = column.comment {
        tooltip.push_str("\n\n");
        tooltip.push_str(comment);
    }
    let _ = write!(svg, "<title>{}</title>", escape(&tooltip));
    if row % 2 == 1 {
        let _ = write!(
            svg,
            "<rect class=\"stripe\" x=\"1\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            number(top),
            number(width - 2.0),
            number(ROW_HEIGHT)
        );
    }
    for (place, (class, label)) in badges(column).into_iter().enumerate() {
        let x = PADDING + place as f64 * (BADGE_WIDTH + 2.0);
        let _ = write!(
            svg,
            "<g class=\"badge {class}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\" rx=\"2\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\">{label}</text></g>",
            number(x),
            number(top + 4.0),
            number(BADGE_WIDTH),
            number(x + BADGE_WIDTH / 2.0),
            number(top + 13.0),
            number(BADGE_FONT_SIZE),
        );
    }
    let _ = write!(
        svg,
        "<text class=\"name\" x=\"{}\" y=\"{}\">{}</text>",
        number(PADDING + badge_width),
        number(baseline),
        escape(&text::truncate(column.name, MAX_NAME_CHARS))
    );
    if !column.data_type.is_empty() {
        let _ = write!(
            svg,
            "<text class=\"type\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            number(width - PADDING),
            number(baseline),
            escape(&text::truncate(column.data_type, MAX_TYPE_CHARS))
        );
    }
    svg.push_str("</g>");
}
