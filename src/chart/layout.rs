//! The canvas every chart is drawn on: the layout (title, legend rows, a plot area sized to leave
//! room for tick labels and axis names, a colour bar), the decorations around the plot area, and
//! the data -> pixel mapping. The data is drawn into a viewport over the plot area, which clips it.
//!
//! The viewer lays the text out, so its widths here are estimates ([`text_width`]), used only to
//! leave room for it and to keep neighbouring labels apart.

use super::axis::{format_value, Axis, Scale};
use super::svg::{Anchor, Colour, Document, Stroke, TextStyle};
use super::{viridis, BACKGROUND, FILL_ALPHA, GRID, INK, MARKER};

/// Size of every chart.
pub(super) const WIDTH: f64 = 640.0;
pub(super) const HEIGHT: f64 = 420.0;
/// Blank border around everything.
const PAD: f64 = 10.0;
/// Font size of the title, and of it when it would not fit at that size.
const TITLE_SIZE: f64 = 16.0;
const SMALL_TITLE_SIZE: f64 = 12.0;
/// Font size of everything else.
const FONT: f64 = 11.0;
/// Average advance of a character as a fraction of the font size: a generous estimate for the
/// sans-serif fonts the chart asks for, so estimated room is rarely too small.
const CHAR_W: f64 = 0.6;
/// Height of capitals above the baseline, as a fraction of the font size.
const ASCENT: f64 = 0.75;
/// Length of tick marks, outside the plot area.
const TICK_LEN: f64 = 4.0;
/// Height of a legend row.
const LEGEND_ROW: f64 = 16.0;
/// Width of a legend swatch, and the gaps after it and between entries.
const SWATCH_W: f64 = 18.0;
const SWATCH_GAP: f64 = 5.0;
const ENTRY_GAP: f64 = 18.0;
/// Width of the colour bar, its distance from the plot area, and its number of colour stripes.
const BAR_W: f64 = 14.0;
const BAR_GAP: f64 = 16.0;
const BAR_STRIPES: usize = 64;

/// The estimated width of `text` at font size `size`.
pub(super) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * CHAR_W
}

/// Plain text in the chart's ink colour at the small size.
fn style(anchor: Anchor) -> TextStyle {
    TextStyle {
        size: FONT,
        colour: INK,
        anchor,
        bold: false,
        vertical: false,
    }
}

/// A rectangle in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Area {
    pub(super) left: f64,
    pub(super) top: f64,
    pub(super) right: f64,
    pub(super) bottom: f64,
}

impl Area {
    fn size(&self) -> (f64, f64) {
        (self.right - self.left, self.bottom - self.top)
    }
}

/// How a legend entry shows its colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Swatch {
    /// A short line, for line charts and curves.
    Line,
    /// A translucent box, for histogram groups.
    Fill,
    /// A dot, for scatter categories.
    Dot,
}

#[derive(Clone, Debug)]
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) colour: Colour,
    pub(super) swatch: Swatch,
}

impl LegendEntry {
    pub(super) fn new(label: &str, colour: Colour, swatch: Swatch) -> Self {
        LegendEntry {
            label: label.to_string(),
            colour,
            swatch,
        }
    }

    fn width(&self) -> f64 {
        SWATCH_W + SWATCH_GAP + text_width(&self.label, FONT)
    }
}

/// Everything about a chart except its data.
pub(super) struct Frame<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) x: Scale,
    pub(super) y: Scale,
    /// Drawn in rows between the title and the plot area, so it never covers data.
    pub(super) legend: Vec<LegendEntry>,
    /// The value range of a colour bar to the right of the plot area.
    pub(super) colour_bar: Option<(f64, f64)>,
    /// A square plot area (equal scales for ROC curves).
    pub(super) square: bool,
}

/// A chart being drawn: the document, the plot area and its axes. Once [`Canvas::new`] returns,
/// drawing goes into the plot area's viewport, so it is clipped to the plot area.
pub(super) struct Canvas {
    pub(super) doc: Document,
    pub(super) area: Area,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) colour_axis: Option<Axis>,
}

impl Canvas {
    /// Lays the chart out and draws everything but the data.
    pub(super) fn new(frame: Frame) -> Canvas {
        let title_size = if text_width(frame.title, TITLE_SIZE) <= WIDTH - 2.0 * PAD {
            TITLE_SIZE
        } else {
            SMALL_TITLE_SIZE
        };
        let legend_top = PAD + TITLE_SIZE + 8.0;
        let rows = legend_rows(&frame.legend, WIDTH - 2.0 * PAD);
        let top = legend_top + rows.len() as f64 * LEGEND_ROW + 6.0;
        let bottom = HEIGHT - PAD - FONT - 6.0 - FONT - TICK_LEN - 4.0;
        let y = Axis::new(frame.y, bottom - top);
        let colour_axis = frame
            .colour_bar
            .map(|(lo, hi)| Axis::new(Scale::Nice(lo, hi), bottom - top));
        let left = PAD + FONT + 8.0 + label_width(&y) + TICK_LEN + 4.0;
        let bar_room = colour_axis
            .as_ref()
            .map_or(0.0, |a| BAR_GAP + BAR_W + TICK_LEN + 4.0 + label_width(a));
        let right = WIDTH - PAD - 14.0 - bar_room;
        let mut area = Area {
            left,
            top,
            right,
            bottom,
        };
        let y = if frame.square {
            let side = (right - left).min(bottom - top).floor();
            area.left += ((right - left - side) / 2.0).floor();
            area.right = area.left + side;
            area.top = bottom - side;
            Axis::new(frame.y, side)
        } else {
            y
        };
        let x = Axis::new(frame.x, area.right - area.left);
        let mut canvas = Canvas {
            doc: Document::new(WIDTH, HEIGHT, frame.title),
            area,
            x,
            y,
            colour_axis,
        };
        let title = TextStyle {
            size: title_size,
            bold: true,
            ..style(Anchor::Middle)
        };
        let title_at = (WIDTH / 2.0, PAD + TITLE_SIZE * ASCENT + 2.0);
        canvas.doc.text(title_at, frame.title, &title);
        for (r, row) in rows.iter().enumerate() {
            canvas.legend_row(row, legend_top + r as f64 * LEGEND_ROW);
        }
        canvas.axes(frame.x_label, frame.y_label);
        canvas.colour_bar();
        let a = canvas.area;
        canvas.doc.open_viewport((a.left, a.top), a.size());
        canvas
    }

    /// Grid lines, tick marks, tick labels and axis names.
    fn axes(&mut self, x_label: &str, y_label: &str) {
        let a = self.area;
        let (grid, ink) = (Stroke::solid(GRID, 1.0), Stroke::solid(INK, 1.0));
        let label_top = a.bottom + TICK_LEN + 4.0;
        let mut free_from = f64::NEG_INFINITY;
        for (t, label) in &self.x.ticks {
            let px = self.x.pixel(*t, a.left, a.right);
            self.doc.line((px, a.top), (px, a.bottom), &grid);
            self.doc
                .line((px, a.bottom), (px, a.bottom + TICK_LEN), &ink);
            let w = text_width(label, FONT);
            // Skip a label that would run into the previous one.
            if px - w / 2.0 >= free_from {
                let at = (px, label_top + FONT * ASCENT);
                self.doc.text(at, label, &style(Anchor::Middle));
                free_from = px + w / 2.0 + 6.0;
            }
        }
        for (t, label) in &self.y.ticks {
            let py = self.y.pixel(*t, a.bottom, a.top);
            self.doc.line((a.left, py), (a.right, py), &grid);
            self.doc.line((a.left - TICK_LEN, py), (a.left, py), &ink);
            let at = (a.left - TICK_LEN - 4.0, py + FONT * ASCENT / 2.0);
            self.doc.text(at, label, &style(Anchor::End));
        }
        let name_top = label_top + FONT + 6.0;
        let at = ((a.left + a.right) / 2.0, name_top + FONT * ASCENT);
        self.doc.text(at, x_label, &style(Anchor::Middle));
        // Beside the widest tick label (the plot area may sit further right than the layout's
        // minimum, when it is square), reading upwards.
        let name_left = a.left - TICK_LEN - 4.0 - label_width(&self.y) - 8.0 - FONT;
        let up = TextStyle {
            vertical: true,
            ..style(Anchor::Middle)
        };
        let at = (name_left + FONT * ASCENT, (a.top + a.bottom) / 2.0);
        self.doc.text(at, y_label, &up);
    }

    /// The colour ramp beside the plot area, with ticks, when there is a colour axis.
    fn colour_bar(&mut self) {
        let Some(axis) = &self.colour_axis else {
            return;
        };
        let a = self.area;
        let (left, right) = (a.right + BAR_GAP, a.right + BAR_GAP + BAR_W);
        let stripe = (a.bottom - a.top) / BAR_STRIPES as f64;
        for i in 0..BAR_STRIPES {
            let f = 1.0 - (i as f64 + 0.5) / BAR_STRIPES as f64;
            // Each stripe overlaps the next a little, so no hairline shows between them.
            let size = (BAR_W, stripe + if i + 1 < BAR_STRIPES { 0.5 } else { 0.0 });
            let at = (left, a.top + i as f64 * stripe);
            self.doc.rect(at, size, Some((viridis(f), 1.0)), None);
        }
        let ink = Stroke::solid(INK, 1.0);
        self.doc
            .rect((left, a.top), (BAR_W, a.bottom - a.top), None, Some(&ink));
        for (t, label) in &axis.ticks {
            let py = axis.pixel(*t, a.bottom, a.top);
            self.doc.line((right, py), (right + TICK_LEN, py), &ink);
            let at = (right + TICK_LEN + 4.0, py + FONT * ASCENT / 2.0);
            self.doc.text(at, label, &style(Anchor::Start));
        }
    }

    /// One row of legend entries, centred, its text's top at `top`.
    fn legend_row(&mut self, row: &[LegendEntry], top: f64) {
        let total: f64 = row.iter().map(LegendEntry::width).sum::<f64>()
            + ENTRY_GAP * row.len().saturating_sub(1) as f64;
        let mut x = (WIDTH - total) / 2.0;
        let mid = top + FONT * ASCENT / 2.0;
        for entry in row {
            let c = entry.colour;
            match entry.swatch {
                Swatch::Line => {
                    let stroke = Stroke::solid(c, 2.0);
                    self.doc.line((x, mid), (x + SWATCH_W, mid), &stroke);
                }
                Swatch::Fill => self.doc.rect(
                    (x + 2.0, mid - 5.0),
                    (SWATCH_W - 4.0, 10.0),
                    Some((c, FILL_ALPHA)),
                    Some(&Stroke::solid(c, 1.0)),
                ),
                Swatch::Dot => self.doc.circle((x + SWATCH_W / 2.0, mid), 3.5, c),
            }
            let at = (x + SWATCH_W + SWATCH_GAP, top + FONT * ASCENT);
            self.doc.text(at, &entry.label, &style(Anchor::Start));
            x += entry.width() + ENTRY_GAP;
        }
    }

    /// A vertical line across the plot area at `value` on the x axis, labelled near its top.
    pub(super) fn marker(&mut self, name: &str, value: f64) {
        let a = self.area;
        let x = self.px(value);
        self.doc
            .line((x, a.top), (x, a.bottom), &Stroke::solid(MARKER, 2.0));
        let label = format!("{name} {}", format_value(value));
        let label = label.trim_start();
        let w = text_width(label, FONT);
        // Right of the line when it fits, else left of it; on a white box over whatever is there.
        let left = if x + 8.0 + w <= a.right - 4.0 {
            x + 8.0
        } else {
            x - 6.0 - w
        };
        let top = a.top + 8.0;
        let under = Some((BACKGROUND, 1.0));
        self.doc
            .rect((left - 3.0, top - 3.0), (w + 6.0, FONT + 5.0), under, None);
        let text = TextStyle {
            colour: MARKER,
            ..style(Anchor::Start)
        };
        self.doc.text((left, top + FONT * ASCENT), label, &text);
    }

    /// The pixel column of `x` on the x axis.
    pub(super) fn px(&self, x: f64) -> f64 {
        self.x.pixel(x, self.area.left, self.area.right)
    }

    /// The pixel row of `y` on the y axis.
    pub(super) fn py(&self, y: f64) -> f64 {
        self.y.pixel(y, self.area.bottom, self.area.top)
    }

    /// The pixel of the data point `(x, y)`.
    pub(super) fn map(&self, x: f64, y: f64) -> (f64, f64) {
        (self.px(x), self.py(y))
    }

    /// The finished document, with the plot area framed over the data.
    pub(super) fn finish(mut self) -> String {
        self.doc.close_viewport();
        let a = self.area;
        let ink = Stroke::solid(INK, 1.0);
        self.doc.rect((a.left, a.top), a.size(), None, Some(&ink));
        self.doc.finish()
    }
}

/// The estimated width of an axis's widest tick label.
fn label_width(axis: &Axis) -> f64 {
    axis.ticks
        .iter()
        .map(|(_, l)| text_width(l, FONT))
        .fold(0.0, f64::max)
}

/// Legend entries split into rows no wider than `max_width`.
fn legend_rows(entries: &[LegendEntry], max_width: f64) -> Vec<Vec<LegendEntry>> {
    let mut rows: Vec<Vec<LegendEntry>> = Vec::new();
    let mut used = 0.0;
    for e in entries {
        match rows.last_mut() {
            Some(row) if used + ENTRY_GAP + e.width() <= max_width => {
                used += ENTRY_GAP + e.width();
                row.push(e.clone());
            }
            _ => {
                used = e.width();
                rows.push(vec![e.clone()]);
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_legends_wrap_into_rows_that_push_the_plot_area_down() {
        let entry = |i: usize| LegendEntry::new(&format!("group {i}"), INK, Swatch::Fill);
        let frame = |n: usize| Frame {
            title: "t",
            x_label: "x",
            y_label: "y",
            x: Scale::Fixed(0.0, 1.0),
            y: Scale::Fixed(0.0, 1.0),
            legend: (0..n).map(entry).collect(),
            colour_bar: None,
            square: false,
        };
        let rows = legend_rows(&frame(30).legend, WIDTH - 2.0 * PAD);
        assert!(rows.len() > 2);
        for row in &rows {
            let total: f64 = row.iter().map(LegendEntry::width).sum::<f64>()
                + ENTRY_GAP * (row.len() - 1) as f64;
            assert!(total <= WIDTH - 2.0 * PAD);
        }
        let (none, one, many) = (
            Canvas::new(frame(0)),
            Canvas::new(frame(1)),
            Canvas::new(frame(30)),
        );
        assert_eq!(one.area.top - none.area.top, LEGEND_ROW);
        assert_eq!(
            many.area.top - none.area.top,
            rows.len() as f64 * LEGEND_ROW
        );
        assert_eq!(many.area.bottom, none.area.bottom);
    }

    #[test]
    fn the_plot_area_leaves_room_for_the_widest_tick_label_and_the_colour_bar() {
        let frame = |hi: f64, colour_bar| Frame {
            title: "t",
            x_label: "x",
            y_label: "y",
            x: Scale::Fixed(0.0, 1.0),
            y: Scale::Nice(0.0, hi),
            legend: Vec::new(),
            colour_bar,
            square: false,
        };
        let narrow = Canvas::new(frame(1.0, None));
        let wide = Canvas::new(frame(12345.0, None));
        let widest = |c: &Canvas| label_width(&c.y);
        assert!(widest(&wide) > widest(&narrow));
        let moved = wide.area.left - narrow.area.left;
        assert!((moved - (widest(&wide) - widest(&narrow))).abs() < 1e-9);
        let barred = Canvas::new(frame(1.0, Some((0.0, 1.0))));
        assert!(barred.area.right < narrow.area.right - BAR_GAP - BAR_W);
        let svg = barred.finish();
        assert_eq!(svg.matches("<rect").count(), 1 + BAR_STRIPES + 2);
    }
}
