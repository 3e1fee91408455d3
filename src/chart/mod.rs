//! Charts as SVG documents: loss curves ([`line_chart`]), score histograms ([`histogram`]), 2-D
//! codes ([`scatter`]), ROC curves ([`roc_chart`]) and a sweep's trade-off with its Pareto front
//! ([`pareto_chart`]). Every chart is 640x420 pixels with a
//! title, a legend where there is more than one thing to tell apart, axis names and tick labels.
//! The viewer draws the text, in its own sans-serif font. A [`Chart`] is saved as a standalone
//! `.svg` file ([`Chart::save`]) or inlined into an HTML page ([`Chart::svg`]; see
//! [`crate::report`]).
//!
//! `svg` writes the elements, `axis` chooses ranges and ticks, `layout` places everything.

mod axis;
mod layout;
mod pareto;
mod svg;

pub use pareto::pareto_chart;

use ae_core::{Error, Result};
use axis::{format_value, padded, widen, Scale};
use layout::{Canvas, Frame, LegendEntry, Swatch};
use std::path::Path;
use svg::{Colour, Stroke};

/// A finished chart: the text of an SVG document (no XML declaration, no `id`s, so it can be
/// inlined into an HTML page, several to a page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    svg: String,
}

impl Chart {
    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// Writes the SVG document to `path` (conventionally `*.svg`), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        ae_core::atomic::write_atomic(path, self.svg.as_bytes())
    }
}

/// One named line of a [`line_chart`], such as the training loss per epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text; a series with an empty name is left out of the legend.
    pub name: String,
    /// `(x, y)` points, joined in the order given; points with a non-finite coordinate are skipped.
    pub points: Vec<(f64, f64)>,
}

/// Draws one line per series, each in its own colour, with a legend of the series names; `log_y`
/// puts the y axis on a log scale (for losses), which skips points with `y <= 0`. Points with a
/// non-finite coordinate are skipped; it is an error when no point at all is left to draw.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<Chart> {
    Ok(finish(line_canvas(title, x_label, y_label, series, log_y)?))
}

/// Draws a histogram of each group of values over `bins` shared bins, overlaid in translucent
/// colours, with a legend of the group names, and an optional vertical `marker` line at a value
/// with its label (such as `("threshold", 0.042)`). One group is drawn as counts; several are each
/// drawn as the fraction of their own values, so a small group stays visible beside a large one.
/// Non-finite values are skipped; errors when `bins` is 0, when no group has a finite value, or
/// when the marker's value is not finite.
pub fn histogram(
    title: &str,
    x_label: &str,
    groups: &[(&str, &[f64])],
    bins: usize,
    marker: Option<(&str, f64)>,
) -> Result<Chart> {
    Ok(finish(histogram_canvas(
        title, x_label, groups, bins, marker,
    )?))
}

/// Draws `points` as dots coloured by `colour_by`: with `categorical`, each distinct value gets its
/// own colour (10 colours, repeated beyond 10 categories) and a legend entry naming the value;
/// otherwise values run along a viridis-like colour ramp shown in a colour bar on the right.
/// Points with a non-finite coordinate or colour value are skipped. Errors with [`Error::Shape`]
/// when the two slices differ in length, and when no point is left to draw.
pub fn scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    colour_by: &[f64],
    categorical: bool,
) -> Result<Chart> {
    Ok(finish(scatter_canvas(
        title,
        x_label,
        y_label,
        points,
        colour_by,
        categorical,
    )?))
}

/// Charts side by side, left to right, in one SVG document labelled `label` (each keeps its
/// 640x420 area; a chart is placed as a nested `<svg>` at its offset). Errors when there is no
/// chart.
pub fn side_by_side(label: &str, charts: &[Chart]) -> Result<Chart> {
    if charts.is_empty() {
        return Err(Error::Shape("side_by_side needs at least one chart".into()));
    }
    let width = layout::WIDTH * charts.len() as f64;
    let mut doc = svg::Document::new(width, layout::HEIGHT, label);
    for (i, c) in charts.iter().enumerate() {
        let x = svg::num(layout::WIDTH * i as f64);
        doc.raw(
            &c.svg
                .replacen("<svg ", &format!("<svg x=\"{x}\" y=\"0\" "), 1),
        );
    }
    Ok(Chart { svg: doc.finish() })
}

/// One curve of a [`roc_chart`]: its name, its `(false positive rate, true positive rate)`
/// points in order, and its area under the curve.
pub type RocCurve = (String, Vec<(f64, f64)>, f64);

/// Draws ROC curves ([`RocCurve`]: name, points, AUC) on square axes from 0 to 1, with the chance
/// diagonal dashed and the AUC in each legend entry ("autoencoder AUC 0.930"). Errors when there
/// is no curve.
pub fn roc_chart(title: &str, curves: &[RocCurve]) -> Result<Chart> {
    Ok(finish(roc_canvas(title, curves)?))
}

fn finish(canvas: Canvas) -> Chart {
    Chart {
        svg: canvas.finish(),
    }
}

// ---------------------------------------------------------------------------------------------
// The four charts, each built on a `Canvas` (returned unfinished so tests can use its mapping).

const BACKGROUND: Colour = Colour(255, 255, 255);
/// Text, axes and tick marks.
const INK: Colour = Colour(40, 40, 40);
const GRID: Colour = Colour(232, 232, 232);
const DIAGONAL: Colour = Colour(150, 150, 150);
/// The histogram's marker line; not in `PALETTE`, so it never reads as a group.
const MARKER: Colour = Colour(220, 20, 60);
/// Colours of series, groups and categories, in order (matplotlib's "tab10").
const PALETTE: [Colour; 10] = [
    Colour(31, 119, 180),
    Colour(255, 127, 14),
    Colour(44, 160, 44),
    Colour(214, 39, 40),
    Colour(148, 103, 189),
    Colour(140, 86, 75),
    Colour(227, 119, 194),
    Colour(127, 127, 127),
    Colour(188, 189, 34),
    Colour(23, 190, 207),
];
/// Opacity of histogram bars, so that two groups show through each other.
const FILL_ALPHA: f64 = 0.45;
/// Room left beyond the data's range, as a fraction of it, where dots would touch the frame.
const EDGE_ROOM: f64 = 0.03;
/// Line charts with at most this many points per series also mark each point with a dot.
const MAX_DOTTED_POINTS: usize = 40;
/// Radius of data dots.
const DOT_R: f64 = 2.5;

/// The `i`-th colour of the palette, repeating after 10.
fn palette(i: usize) -> Colour {
    PALETTE[i % PALETTE.len()]
}

fn line_canvas(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<Canvas> {
    let drawable: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
            s.points.iter().copied().filter(keep).collect()
        })
        .collect();
    let ((x_lo, x_hi), (y_lo, y_hi)) =
        extent(drawable.iter().flatten().copied()).ok_or_else(|| {
            let positive = if log_y { " positive" } else { "" };
            Error::Config(format!(
                "line chart \"{title}\": no finite{positive} point to draw"
            ))
        })?;
    let legend = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.name.is_empty())
        .map(|(i, s)| LegendEntry::new(&s.name, palette(i), Swatch::Line))
        .collect();
    let y = if log_y {
        Scale::Log(y_lo, y_hi)
    } else {
        let (lo, hi) = padded((y_lo, y_hi), EDGE_ROOM, true);
        Scale::Nice(lo, hi)
    };
    let mut canvas = Canvas::new(Frame {
        title,
        x_label,
        y_label,
        x: Scale::Nice(x_lo, x_hi),
        y,
        legend,
        colour_bar: None,
        square: false,
    });
    for (i, points) in drawable.iter().enumerate() {
        let pixels: Vec<(f64, f64)> = points.iter().map(|&(x, y)| canvas.map(x, y)).collect();
        canvas
            .doc
            .polyline(&pixels, &Stroke::solid(palette(i), 2.0));
        if pixels.len() <= MAX_DOTTED_POINTS {
            for &p in &pixels {
                canvas.doc.circle(p, DOT_R, palette(i));
            }
        }
    }
    Ok(canvas)
}

fn histogram_canvas(
    title: &str,
    x_label: &str,
    groups: &[(&str, &[f64])],
    bins: usize,
    marker: Option<(&str, f64)>,
) -> Result<Canvas> {
    if bins == 0 {
        return Err(Error::Config(format!(
            "histogram \"{title}\" needs at least one bin"
        )));
    }
    if let Some((name, value)) = marker {
        if !value.is_finite() {
            return Err(Error::Config(format!(
                "histogram \"{title}\": the {name} marker is at {value}"
            )));
        }
    }
    let values: Vec<Vec<f64>> = groups
        .iter()
        .map(|(_, v)| v.iter().copied().filter(|v| v.is_finite()).collect())
        .collect();
    let (lo, hi) = values
        .iter()
        .flatten()
        .fold(None, |acc: Option<(f64, f64)>, &v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
        .map(|(lo, hi)| widen(lo, hi))
        .ok_or_else(|| Error::Config(format!("histogram \"{title}\": no finite value to draw")))?;
    let bin_width = (hi - lo) / bins as f64;
    let fractions = groups.len() > 1;
    let heights: Vec<Vec<f64>> = values
        .iter()
        .map(|v| {
            let mut counts = vec![0.0; bins];
            for &x in v {
                let b = (((x - lo) / bin_width).floor().max(0.0) as usize).min(bins - 1);
                counts[b] += 1.0;
            }
            if fractions {
                counts.iter_mut().for_each(|c| *c /= v.len() as f64);
            }
            counts
        })
        .collect();
    let top = heights.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    let (x_lo, x_hi) = marker.map_or((lo, hi), |(_, m)| (lo.min(m), hi.max(m)));
    let legend = groups
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| !name.is_empty())
        .map(|(i, (name, _))| LegendEntry::new(name, palette(i), Swatch::Fill))
        .collect();
    let mut canvas = Canvas::new(Frame {
        title,
        x_label,
        y_label: if fractions {
            "fraction of group"
        } else {
            "count"
        },
        x: Scale::Nice(x_lo, x_hi),
        y: Scale::Nice(0.0, top * (1.0 + EDGE_ROOM)),
        legend,
        colour_bar: None,
        square: false,
    });
    let edge = |b: usize| lo + b as f64 * bin_width;
    for (g, counts) in heights.iter().enumerate() {
        for (b, &h) in counts.iter().enumerate().filter(|(_, h)| **h > 0.0) {
            let (x0, y0) = canvas.map(edge(b), 0.0);
            let (x1, y1) = canvas.map(edge(b + 1), h);
            // A pixel's gap between neighbouring bars, where they are wide enough for one.
            let w = x1 - x0;
            let w = if w > 3.0 { w - 1.0 } else { w };
            let fill = Some((palette(g), FILL_ALPHA));
            canvas.doc.rect((x0, y1), (w, y0 - y1), fill, None);
        }
    }
    // Outlines on top of all the fills, so each group's shape stays crisp where they overlap.
    for (g, counts) in heights.iter().enumerate() {
        let mut outline = vec![canvas.map(edge(0), 0.0)];
        for (b, &h) in counts.iter().enumerate() {
            outline.push(canvas.map(edge(b), h));
            outline.push(canvas.map(edge(b + 1), h));
        }
        outline.push(canvas.map(hi, 0.0));
        canvas
            .doc
            .polyline(&outline, &Stroke::solid(palette(g), 1.0));
    }
    if let Some((name, value)) = marker {
        canvas.marker(name, value);
    }
    Ok(canvas)
}

fn scatter_canvas(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    colour_by: &[f64],
    categorical: bool,
) -> Result<Canvas> {
    if points.len() != colour_by.len() {
        return Err(Error::Shape(format!(
            "scatter \"{title}\": {} points but {} colour values",
            points.len(),
            colour_by.len()
        )));
    }
    let kept: Vec<((f64, f64), f64)> = points
        .iter()
        .copied()
        .zip(colour_by.iter().copied())
        .filter(|((x, y), c)| x.is_finite() && y.is_finite() && c.is_finite())
        .collect();
    let (x_range, y_range) = extent(kept.iter().map(|p| p.0))
        .ok_or_else(|| Error::Shape(format!("scatter \"{title}\": no finite point to draw")))?;
    let (x_lo, x_hi) = padded(x_range, EDGE_ROOM, false);
    let (y_lo, y_hi) = padded(y_range, EDGE_ROOM, false);
    let mut categories: Vec<f64> = kept.iter().map(|p| p.1).collect();
    categories.sort_by(f64::total_cmp);
    categories.dedup();
    let (legend, colour_bar) = if categorical {
        let legend = categories
            .iter()
            .enumerate()
            .map(|(i, &c)| LegendEntry::new(&format_value(c), palette(i), Swatch::Dot))
            .collect();
        (legend, None)
    } else {
        let (lo, hi) = (categories[0], categories[categories.len() - 1]);
        (Vec::new(), Some((lo, hi)))
    };
    let mut canvas = Canvas::new(Frame {
        title,
        x_label,
        y_label,
        // The data's own range (not widened to whole ticks), so the dots fill the plot area.
        x: Scale::Fixed(x_lo, x_hi),
        y: Scale::Fixed(y_lo, y_hi),
        legend,
        colour_bar,
        square: false,
    });
    for &((x, y), c) in &kept {
        let colour = match &canvas.colour_axis {
            Some(axis) => viridis(axis.frac(c)),
            None => palette(categories.partition_point(|&k| k < c)),
        };
        let at = canvas.map(x, y);
        canvas.doc.circle(at, DOT_R, colour);
    }
    Ok(canvas)
}

fn roc_canvas(title: &str, curves: &[RocCurve]) -> Result<Canvas> {
    if curves.is_empty() {
        return Err(Error::Config(format!("ROC chart \"{title}\" has no curve")));
    }
    let legend = curves
        .iter()
        .enumerate()
        .map(|(i, (name, _, auc))| {
            let label = format!("{name} AUC {auc:.3}");
            LegendEntry::new(label.trim_start(), palette(i), Swatch::Line)
        })
        .collect();
    let mut canvas = Canvas::new(Frame {
        title,
        x_label: "false positive rate",
        y_label: "true positive rate",
        x: Scale::Fixed(0.0, 1.0),
        y: Scale::Fixed(0.0, 1.0),
        legend,
        colour_bar: None,
        square: true,
    });
    let dashed = Stroke {
        dash: Some((7.0, 5.0)),
        ..Stroke::solid(DIAGONAL, 1.5)
    };
    let (from, to) = (canvas.map(0.0, 0.0), canvas.map(1.0, 1.0));
    canvas.doc.line(from, to, &dashed);
    for (i, (_, points, _)) in curves.iter().enumerate() {
        let pixels: Vec<(f64, f64)> = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| canvas.map(x, y))
            .collect();
        canvas
            .doc
            .polyline(&pixels, &Stroke::solid(palette(i), 2.0));
    }
    Ok(canvas)
}

/// The `(x, y)` ranges of `points`, or `None` when there are none.
fn extent(points: impl Iterator<Item = (f64, f64)>) -> Option<((f64, f64), (f64, f64))> {
    points.fold(None, |acc, (x, y)| {
        Some(match acc {
            None => ((x, x), (y, y)),
            Some(((x0, x1), (y0, y1))) => ((x0.min(x), x1.max(x)), (y0.min(y), y1.max(y))),
        })
    })
}

/// A viridis-like colour for `f` in `[0, 1]` (dark purple through teal to yellow).
fn viridis(f: f64) -> Colour {
    const STOPS: [[f64; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 44.0, 122.0],
        [59.0, 81.0, 139.0],
        [44.0, 113.0, 142.0],
        [33.0, 144.0, 141.0],
        [39.0, 173.0, 129.0],
        [92.0, 200.0, 99.0],
        [170.0, 220.0, 50.0],
        [253.0, 231.0, 37.0],
    ];
    let t = f.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let w = t - i as f64;
    let c = |k: usize| (STOPS[i][k] * (1.0 - w) + STOPS[i + 1][k] * w).round() as u8;
    Colour(c(0), c(1), c(2))
}

#[cfg(test)]
mod tests;
