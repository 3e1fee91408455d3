//! Charts as PNG pictures, drawn pixel by pixel with the `image` crate and a built-in 5x7 bitmap
//! font (no system fonts): loss curves ([`line_chart`]), score histograms ([`histogram`]), 2-D
//! codes ([`scatter`]) and ROC curves ([`roc_chart`]). Every chart is 640x420 pixels with a
//! title, a legend where there is more than one thing to tell apart, axis names and tick labels;
//! [`save_rgb_png`] writes one to disk.

use ae_core::{Error, Result};
use image::{Rgb, RgbImage};

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
) -> Result<RgbImage> {
    Ok(line_canvas(title, x_label, y_label, series, log_y)?.finish())
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
) -> Result<RgbImage> {
    Ok(histogram_canvas(title, x_label, groups, bins, marker)?.finish())
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
) -> Result<RgbImage> {
    Ok(scatter_canvas(title, x_label, y_label, points, colour_by, categorical)?.finish())
}

/// One curve of a [`roc_chart`]: its name, its `(false positive rate, true positive rate)`
/// points in order, and its area under the curve.
pub type RocCurve = (String, Vec<(f64, f64)>, f64);

/// Draws ROC curves ([`RocCurve`]: name, points, AUC) on square axes from 0 to 1, with the chance diagonal dashed and the AUC in each legend entry
/// ("autoencoder AUC 0.930"). Errors when there is no curve.
pub fn roc_chart(title: &str, curves: &[RocCurve]) -> Result<RgbImage> {
    Ok(roc_canvas(title, curves)?.finish())
}

// ---------------------------------------------------------------------------------------------
// The four charts, each built on a `Canvas` (returned unfinished so tests can use its mapping).

/// Size of every chart.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 420;
/// Blank border around everything.
const PAD: i32 = 10;
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
/// Text, axes and tick marks.
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const GRID: Rgb<u8> = Rgb([232, 232, 232]);
const DIAGONAL: Rgb<u8> = Rgb([150, 150, 150]);
/// The histogram's marker line; not in `PALETTE`, so it never reads as a group.
const MARKER: Rgb<u8> = Rgb([220, 20, 60]);
/// Colours of series, groups and categories, in order (matplotlib's "tab10").
const PALETTE: [Rgb<u8>; 10] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([127, 127, 127]),
    Rgb([188, 189, 34]),
    Rgb([23, 190, 207]),
];
/// Opacity of histogram bars, so that two groups show through each other.
const FILL_ALPHA: f32 = 0.45;
/// Room left beyond the data's range, as a fraction of it, where dots would touch the frame.
const EDGE_ROOM: f64 = 0.03;
/// Line charts with at most this many points per series also mark each point with a dot.
const MAX_DOTTED_POINTS: usize = 40;

/// The `i`-th colour of the palette, repeating after 10.
fn palette(i: usize) -> Rgb<u8> {
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
        let pixels: Vec<(i32, i32)> = points.iter().map(|&(x, y)| canvas.map(x, y)).collect();
        for pair in pixels.windows(2) {
            canvas.line(pair[0], pair[1], palette(i), 2, false);
        }
        if pixels.len() <= MAX_DOTTED_POINTS {
            for &p in &pixels {
                canvas.dot(p, palette(i), 2);
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
            let bar = Rect::spanning((x0, y0), ((x1 - 1).max(x0), y1));
            canvas.fill_rect(bar, palette(g), FILL_ALPHA);
        }
    }
    // Outlines on top of all the fills, so each group's shape stays crisp where they overlap.
    for (g, counts) in heights.iter().enumerate() {
        let mut at = canvas.map(edge(0), 0.0);
        for (b, &h) in counts.iter().enumerate() {
            let (rise, run) = (canvas.map(edge(b), h), canvas.map(edge(b + 1), h));
            canvas.line(at, rise, palette(g), 1, false);
            canvas.line(rise, run, palette(g), 1, false);
            at = run;
        }
        canvas.line(at, canvas.map(hi, 0.0), palette(g), 1, false);
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
        canvas.dot(canvas.map(x, y), colour, 2);
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
    canvas.line(
        canvas.map(0.0, 0.0),
        canvas.map(1.0, 1.0),
        DIAGONAL,
        2,
        true,
    );
    for (i, (_, points, _)) in curves.iter().enumerate() {
        let pixels: Vec<(i32, i32)> = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| canvas.map(x, y))
            .collect();
        for pair in pixels.windows(2) {
            canvas.line(pair[0], pair[1], palette(i), 2, false);
        }
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
fn viridis(f: f64) -> Rgb<u8> {
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
    Rgb(std::array::from_fn(|c| {
        (STOPS[i][c] * (1.0 - w) + STOPS[i + 1][c] * w).round() as u8
    }))
}

// ---------------------------------------------------------------------------------------------
// Axes: ranges, the data -> pixel mapping, and tick values with their labels.

/// Pixels wanted between neighbouring ticks (roughly; steps are 1, 2 or 5 times a power of 10).
const TICK_SPACING: f64 = 65.0;

/// How an axis chooses its range from the data's range `(lo, hi)`.
#[derive(Clone, Copy, Debug)]
enum Scale {
    /// Linear, widened out to whole tick steps.
    Nice(f64, f64),
    /// Linear, exactly this range.
    Fixed(f64, f64),
    /// Logarithmic (both ends > 0), with a little room at each end.
    Log(f64, f64),
}

/// One axis: its range, whether it is logarithmic, and its ticks with their labels.
#[derive(Clone, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// The axis for `scale` drawn along `pixels` pixels.
    fn new(scale: Scale, pixels: i32) -> Axis {
        let target = (f64::from(pixels) / TICK_SPACING).clamp(2.0, 10.0);
        match scale {
            Scale::Nice(lo, hi) => {
                let (lo, hi) = widen(lo, hi);
                let step = nice_step(hi - lo, target);
                let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
                Axis::linear(lo, hi, step)
            }
            Scale::Fixed(lo, hi) => {
                let (lo, hi) = widen(lo, hi);
                Axis::linear(lo, hi, nice_step(hi - lo, target))
            }
            Scale::Log(lo, hi) => Axis::log(lo, hi, target),
        }
    }

    fn linear(lo: f64, hi: f64, step: f64) -> Axis {
        let ticks = linear_labels(multiples(lo, hi, step), step);
        Axis {
            lo,
            hi,
            log: false,
            ticks,
        }
    }

    /// Ticks at powers of 10 (every few decades over a wide range), or else at 1 and 3, or 1, 2
    /// and 5, or every digit times them, whichever first gives at least 3 ticks; evenly spaced
    /// ticks when the range is narrower still.
    fn log(lo: f64, hi: f64, target: f64) -> Axis {
        const DIGITS: [&[f64]; 4] = [
            &[1.0],
            &[1.0, 3.0],
            &[1.0, 2.0, 5.0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        ];
        let (lo, hi) = if hi > lo * 1.001 {
            (lo, hi)
        } else {
            (lo / 1.5, hi * 1.5)
        };
        let pad = (hi / lo).log10() * 0.04;
        let (a, b) = (lo.log10() - pad, hi.log10() + pad);
        let (lo, hi) = (10f64.powf(a), 10f64.powf(b));
        let decades = a.floor() as i32..=b.ceil() as i32;
        let mut ticks = Vec::new();
        for multipliers in DIGITS {
            ticks = decades
                .clone()
                .flat_map(|e| multipliers.iter().map(move |m| m * 10f64.powi(e)))
                .filter(|t| (lo..=hi).contains(t))
                .collect();
            if ticks.len() >= 3 {
                if multipliers.len() == 1 {
                    let every = (ticks.len() as f64 / target).ceil().max(1.0) as usize;
                    ticks = ticks.into_iter().step_by(every).collect();
                }
                break;
            }
        }
        let ticks: Vec<(f64, String)> = if ticks.len() >= 2 {
            ticks
                .into_iter()
                .map(|t| (t, format_number(t, t)))
                .collect()
        } else {
            let step = nice_step(hi - lo, target);
            linear_labels(multiples(lo, hi, step), step)
        };
        Axis {
            lo,
            hi,
            log: true,
            ticks,
        }
    }

    /// Where `v` lies along the axis: 0 at `lo`, 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The pixel for `v` on an axis drawn from pixel `from` (at `lo`) to pixel `to` (at `hi`).
    /// Values far outside the range land just outside it (where drawing is clipped), never at
    /// absurd distances.
    fn pixel(&self, v: f64, from: i32, to: i32) -> i32 {
        let f = self.frac(v);
        let f = if f.is_nan() { -1.0 } else { f.clamp(-1.0, 2.0) };
        (f64::from(from) + f * f64::from(to - from)).round() as i32
    }

    /// Width of the widest tick label.
    fn label_width(&self) -> i32 {
        self.ticks
            .iter()
            .map(|(_, l)| text_width(l, 1))
            .max()
            .unwrap_or(0)
    }
}

/// `(lo, hi)` with `f` of its span added at each end, so that dots at the extremes are not cut
/// by the frame; with `stay_positive`, a range that starts at or above 0 stays there (losses).
fn padded((lo, hi): (f64, f64), f: f64, stay_positive: bool) -> (f64, f64) {
    let d = (hi - lo) * f;
    let below = if stay_positive && lo >= 0.0 {
        (lo - d).max(0.0)
    } else {
        lo - d
    };
    (below, hi + d)
}

/// `(lo, hi)`, pulled apart when they (nearly) coincide so an axis over them has a length.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo > lo.abs().max(hi.abs()) * 1e-9 {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

/// A step of 1, 2 or 5 times a power of 10 that cuts `span` into about `target` pieces.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target.max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let m = raw / magnitude;
    let digit = if m < 1.5 {
        1.0
    } else if m < 3.0 {
        2.0
    } else if m < 7.0 {
        5.0
    } else {
        10.0
    };
    digit * magnitude
}

/// The multiples of `step` in `[lo, hi]`, computed as `k * step` so errors do not accumulate.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Labels for the evenly spaced `ticks`, `step` apart, all in the same style: with exponents
/// when the largest needs one, else all without.
fn linear_labels(ticks: Vec<f64>, step: f64) -> Vec<(f64, String)> {
    let largest = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let exponent = wants_exponent(largest);
    ticks
        .into_iter()
        .map(|t| (t, format_with(t, step, exponent)))
        .collect()
}

/// `v` written compactly, to the precision that `step` (the gap to its neighbours) calls for:
/// "0.05", "250", "1.2e-3", "2e5".
fn format_number(v: f64, step: f64) -> String {
    format_with(v, step, wants_exponent(v))
}

/// Whether `v` is best written with an exponent: magnitudes below 0.01 or from 100000 up.
fn wants_exponent(v: f64) -> bool {
    v != 0.0 && v.is_finite() && !(-2..5).contains(&magnitude(v))
}

/// The power of 10 of `v`'s leading digit.
fn magnitude(v: f64) -> i32 {
    v.abs().log10().floor() as i32
}

fn format_with(v: f64, step: f64, exponent: bool) -> String {
    let step = step.abs();
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 || v.abs() < step * 1e-6 {
        return "0".to_string();
    }
    let step_magnitude = if step > 0.0 && step.is_finite() {
        magnitude(step)
    } else {
        magnitude(v) - 2
    };
    if exponent {
        let digits = (magnitude(v) - step_magnitude).clamp(0, 4) as usize;
        let s = format!("{v:.digits$e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{exponent}", trim_zeros(mantissa))
    } else {
        let decimals = (-step_magnitude).clamp(0, 6) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

/// A value on its own (a threshold, a category), to 3 significant digits.
fn format_value(v: f64) -> String {
    format_number(v, v.abs() / 100.0)
}

/// "0.50" -> "0.5", "2.000" -> "2", "250" -> "250".
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// The canvas: layout, decorations and drawing primitives shared by all charts.

/// Length of tick marks, outside the plot area.
const TICK_LEN: i32 = 4;
/// Height of a legend row.
const LEGEND_ROW: i32 = 15;
/// Width of a legend swatch, and the gaps after it and between entries.
const SWATCH_W: i32 = 18;
const SWATCH_GAP: i32 = 5;
const ENTRY_GAP: i32 = 18;
/// Width of the colour bar, and its distance from the plot area.
const BAR_W: i32 = 14;
const BAR_GAP: i32 = 16;

/// A rectangle of pixels, edges included.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl Rect {
    /// The rectangle with corners `a` and `b`, in any order.
    fn spanning(a: (i32, i32), b: (i32, i32)) -> Rect {
        Rect {
            left: a.0.min(b.0),
            top: a.1.min(b.1),
            right: a.0.max(b.0),
            bottom: a.1.max(b.1),
        }
    }

    fn contains(&self, (x, y): (i32, i32)) -> bool {
        (self.left..=self.right).contains(&x) && (self.top..=self.bottom).contains(&y)
    }
}

/// How a legend entry shows its colour.
#[derive(Clone, Copy, Debug)]
enum Swatch {
    /// A short line, for line charts and curves.
    Line,
    /// A translucent box, for histogram groups.
    Fill,
    /// A dot, for scatter categories.
    Dot,
}

#[derive(Clone, Debug)]
struct LegendEntry {
    label: String,
    colour: Rgb<u8>,
    swatch: Swatch,
}

impl LegendEntry {
    fn new(label: &str, colour: Rgb<u8>, swatch: Swatch) -> Self {
        LegendEntry {
            label: label.to_string(),
            colour,
            swatch,
        }
    }

    fn width(&self) -> i32 {
        SWATCH_W + SWATCH_GAP + text_width(&self.label, 1)
    }
}

/// Everything about a chart except its data.
struct Frame<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x: Scale,
    y: Scale,
    /// Drawn in rows between the title and the plot area, so it never covers data.
    legend: Vec<LegendEntry>,
    /// The value range of a colour bar to the right of the plot area.
    colour_bar: Option<(f64, f64)>,
    /// A square plot area (equal scales for ROC curves).
    square: bool,
}

/// A chart being drawn: the image, the plot area and its two axes. Drawing is clipped to the plot
/// area once the decorations around it are done.
struct Canvas {
    img: RgbImage,
    clip: Rect,
    area: Rect,
    x: Axis,
    y: Axis,
    colour_axis: Option<Axis>,
}

impl Canvas {
    /// Lays the chart out (title, legend rows, plot area sized to leave room for tick labels and
    /// axis names, colour bar) and draws everything but the data.
    fn new(frame: Frame) -> Canvas {
        let (width, height) = (WIDTH as i32, HEIGHT as i32);
        let full = Rect::spanning((0, 0), (width - 1, height - 1));
        let title_scale = if text_width(frame.title, 2) <= width - 2 * PAD {
            2
        } else {
            1
        };
        let legend_top = PAD + GLYPH_H * title_scale + 10;
        let rows = legend_rows(&frame.legend, width - 2 * PAD);
        let top = legend_top + rows.len() as i32 * LEGEND_ROW + 8;
        let bottom = height - PAD - LINE_H - 8 - GLYPH_H - TICK_LEN - 4;
        let y = Axis::new(frame.y, bottom - top);
        let colour_axis = frame
            .colour_bar
            .map(|(lo, hi)| Axis::new(Scale::Nice(lo, hi), bottom - top));
        let left = PAD + LINE_H + 8 + y.label_width() + TICK_LEN + 4;
        let bar_room = colour_axis
            .as_ref()
            .map_or(0, |a| BAR_GAP + BAR_W + TICK_LEN + 4 + a.label_width());
        let right = width - PAD - 14 - bar_room;
        let mut area = Rect {
            left,
            top,
            right,
            bottom,
        };
        let y = if frame.square {
            let side = (right - left).min(bottom - top) & !1;
            area.left += (right - left - side) / 2;
            area.right = area.left + side;
            area.top = bottom - side;
            Axis::new(frame.y, side)
        } else {
            y
        };
        let x = Axis::new(frame.x, area.right - area.left);
        let mut canvas = Canvas {
            img: RgbImage::from_pixel(WIDTH, HEIGHT, BACKGROUND),
            clip: full,
            area,
            x,
            y,
            colour_axis,
        };
        let title_x = (width - text_width(frame.title, title_scale)) / 2;
        canvas.text((title_x, PAD), frame.title, title_scale, INK);
        for (r, row) in rows.iter().enumerate() {
            canvas.legend_row(row, legend_top + r as i32 * LEGEND_ROW);
        }
        canvas.axes(frame.x_label, frame.y_label);
        canvas.colour_bar();
        canvas.clip = area;
        canvas
    }

    /// Grid lines, tick marks, tick labels and axis names.
    fn axes(&mut self, x_label: &str, y_label: &str) {
        let a = self.area;
        let mut free_from = i32::MIN;
        for (t, label) in self.x.ticks.clone() {
            let px = self.px(t);
            self.line((px, a.top), (px, a.bottom), GRID, 1, false);
            self.line((px, a.bottom), (px, a.bottom + TICK_LEN), INK, 1, false);
            let w = text_width(&label, 1);
            // Skip a label that would run into the previous one.
            if px - w / 2 >= free_from {
                self.text((px - w / 2, a.bottom + TICK_LEN + 4), &label, 1, INK);
                free_from = px - w / 2 + w + 6;
            }
        }
        for (t, label) in self.y.ticks.clone() {
            let py = self.py(t);
            self.line((a.left, py), (a.right, py), GRID, 1, false);
            self.line((a.left - TICK_LEN, py), (a.left, py), INK, 1, false);
            let w = text_width(&label, 1);
            self.text(
                (a.left - TICK_LEN - 4 - w, py - GLYPH_H / 2),
                &label,
                1,
                INK,
            );
        }
        let name_top = a.bottom + TICK_LEN + 4 + GLYPH_H + 8;
        let w = text_width(x_label, 1);
        self.text(((a.left + a.right - w) / 2, name_top), x_label, 1, INK);
        // Beside the widest tick label (the plot area may sit further right than the layout's
        // minimum, when it is square).
        let w = text_width(y_label, 1);
        let name_left = a.left - TICK_LEN - 4 - self.y.label_width() - 8 - LINE_H;
        let start = (name_left, (a.top + a.bottom + w) / 2);
        draw_text(&mut self.img, start, y_label, 1, INK, Direction::Up);
    }

    /// The colour ramp beside the plot area, with ticks, when there is a colour axis.
    fn colour_bar(&mut self) {
        let Some(axis) = self.colour_axis.clone() else {
            return;
        };
        let a = self.area;
        let bar = Rect {
            left: a.right + BAR_GAP,
            top: a.top,
            right: a.right + BAR_GAP + BAR_W - 1,
            bottom: a.bottom,
        };
        for y in bar.top..=bar.bottom {
            let f = f64::from(bar.bottom - y) / f64::from(bar.bottom - bar.top);
            let row = Rect {
                top: y,
                bottom: y,
                ..bar
            };
            self.fill_rect(row, viridis(f), 1.0);
        }
        self.outline(bar, INK);
        for (t, label) in &axis.ticks {
            let py = axis.pixel(*t, bar.bottom, bar.top);
            self.line((bar.right, py), (bar.right + TICK_LEN, py), INK, 1, false);
            let at = (bar.right + TICK_LEN + 4, py - GLYPH_H / 2);
            draw_text(&mut self.img, at, label, 1, INK, Direction::Right);
        }
    }

    /// One row of legend entries, centred.
    fn legend_row(&mut self, row: &[LegendEntry], top: i32) {
        let total: i32 =
            row.iter().map(|e| e.width()).sum::<i32>() + ENTRY_GAP * (row.len() as i32 - 1).max(0);
        let mut x = (WIDTH as i32 - total) / 2;
        let mid = top + GLYPH_H / 2;
        for entry in row {
            let c = entry.colour;
            match entry.swatch {
                Swatch::Line => {
                    self.line((x, mid), (x + SWATCH_W - 1, mid), c, 2, false);
                }
                Swatch::Fill => {
                    let r = Rect::spanning((x + 2, mid - 5), (x + SWATCH_W - 3, mid + 5));
                    self.fill_rect(r, c, FILL_ALPHA);
                    self.outline(r, c);
                }
                Swatch::Dot => self.dot((x + SWATCH_W / 2, mid), c, 3),
            }
            self.text((x + SWATCH_W + SWATCH_GAP, top), &entry.label, 1, INK);
            x += entry.width() + ENTRY_GAP;
        }
    }

    /// A vertical line across the plot area at `value` on the x axis, labelled near its top.
    fn marker(&mut self, name: &str, value: f64) {
        let a = self.area;
        let x = self.px(value);
        self.line((x, a.top), (x, a.bottom), MARKER, 2, false);
        let label = format!("{name} {}", format_value(value));
        let label = label.trim_start();
        let w = text_width(label, 1);
        // Right of the line when it fits, else left of it; on a white box over whatever is there.
        let left = if x + 2 + 6 + w <= a.right - 4 {
            x + 2 + 6
        } else {
            x - 6 - w
        };
        let at = (left, a.top + 8);
        let under = Rect::spanning((left - 3, at.1 - 3), (left + w + 2, at.1 + LINE_H + 1));
        self.fill_rect(under, BACKGROUND, 1.0);
        self.text(at, label, 1, MARKER);
    }

    /// The pixel column of `x` on the x axis.
    fn px(&self, x: f64) -> i32 {
        self.x.pixel(x, self.area.left, self.area.right)
    }

    /// The pixel row of `y` on the y axis.
    fn py(&self, y: f64) -> i32 {
        self.y.pixel(y, self.area.bottom, self.area.top)
    }

    /// The pixel of the data point `(x, y)`.
    fn map(&self, x: f64, y: f64) -> (i32, i32) {
        (self.px(x), self.py(y))
    }

    /// Mixes `colour` into the pixel at `(x, y)` with opacity `alpha`, inside the clip rectangle.
    fn blend(&mut self, (x, y): (i32, i32), colour: Rgb<u8>, alpha: f32) {
        if self.clip.contains((x, y)) {
            let p = self.img.get_pixel_mut(x as u32, y as u32);
            for (old, new) in p.0.iter_mut().zip(colour.0) {
                *old = (alpha * f32::from(new) + (1.0 - alpha) * f32::from(*old)).round() as u8;
            }
        }
    }

    fn fill_rect(&mut self, r: Rect, colour: Rgb<u8>, alpha: f32) {
        for y in r.top..=r.bottom {
            for x in r.left..=r.right {
                self.blend((x, y), colour, alpha);
            }
        }
    }

    /// The 1-pixel border of `r`.
    fn outline(&mut self, r: Rect, colour: Rgb<u8>) {
        let corners = [
            (r.left, r.top),
            (r.right, r.top),
            (r.right, r.bottom),
            (r.left, r.bottom),
        ];
        for i in 0..4 {
            self.line(corners[i], corners[(i + 1) % 4], colour, 1, false);
        }
    }

    /// A filled disc of radius `r` around `centre`.
    fn dot(&mut self, centre: (i32, i32), colour: Rgb<u8>, r: i32) {
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r + r / 2 {
                    self.blend((centre.0 + dx, centre.1 + dy), colour, 1.0);
                }
            }
        }
    }

    /// A Bresenham line from `a` to `b`, 1 or 2 (`width`) pixels thick; a dashed line has its
    /// dashes laid out symmetrically about its midpoint.
    fn line(&mut self, a: (i32, i32), b: (i32, i32), colour: Rgb<u8>, width: i32, dashed: bool) {
        const DASH: i32 = 7;
        const GAP: i32 = 5;
        let (dx, dy) = ((b.0 - a.0).abs(), -(b.1 - a.1).abs());
        let (sx, sy) = ((b.0 - a.0).signum(), (b.1 - a.1).signum());
        // The second pixel goes across the line's main direction.
        let across = if dx >= -dy { (0, 1) } else { (1, 0) };
        let middle = dx.max(-dy) / 2;
        let (mut x, mut y, mut err) = (a.0, a.1, dx + dy);
        for i in 0.. {
            if !dashed || (i - middle + DASH / 2).rem_euclid(DASH + GAP) < DASH {
                self.blend((x, y), colour, 1.0);
                if width > 1 {
                    self.blend((x + across.0, y + across.1), colour, 1.0);
                }
            }
            if (x, y) == b {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Horizontal text with its top-left corner at `at` (not clipped to the plot area).
    fn text(&mut self, at: (i32, i32), text: &str, scale: i32, colour: Rgb<u8>) {
        draw_text(&mut self.img, at, text, scale, colour, Direction::Right);
    }

    /// The finished picture, with the plot area framed.
    fn finish(mut self) -> RgbImage {
        self.clip = Rect::spanning((0, 0), (WIDTH as i32 - 1, HEIGHT as i32 - 1));
        self.outline(self.area, INK);
        self.img
    }
}

/// Legend entries split into rows no wider than `max_width`.
fn legend_rows(entries: &[LegendEntry], max_width: i32) -> Vec<Vec<LegendEntry>> {
    let mut rows: Vec<Vec<LegendEntry>> = Vec::new();
    let mut used = 0;
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

// ---------------------------------------------------------------------------------------------
// Text in a built-in 5x7 bitmap font.

/// Glyph size in font pixels; letters with descenders reach 2 rows lower (`LINE_H`).
const GLYPH_W: i32 = 5;
const GLYPH_H: i32 = 7;
const LINE_H: i32 = GLYPH_H + 2;
/// Distance from one letter to the next.
const ADVANCE: i32 = GLYPH_W + 1;

/// Which way text runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Direction {
    /// Left to right; the position is the top-left corner.
    Right,
    /// Bottom to top (turned a quarter left, for the y axis name); the position is the
    /// bottom-left corner.
    Up,
}

/// Width of `text` drawn at `scale`, in pixels.
fn text_width(text: &str, scale: i32) -> i32 {
    let n = text.chars().count() as i32;
    (n * ADVANCE - 1).max(0) * scale
}

/// Draws `text` in the built-in font, each font pixel a `scale` x `scale` block; pixels off the
/// image are dropped. Characters the font lacks are drawn as '?'.
fn draw_text(
    img: &mut RgbImage,
    at: (i32, i32),
    text: &str,
    scale: i32,
    colour: Rgb<u8>,
    direction: Direction,
) {
    for (i, ch) in text.chars().enumerate() {
        let (rows, drop) = glyph(ch);
        for (r, bits) in rows.iter().enumerate() {
            for col in (0..GLYPH_W).filter(|c| (bits >> (GLYPH_W - 1 - c)) & 1 == 1) {
                let (gx, gy) = (
                    (i as i32 * ADVANCE + col) * scale,
                    (r as i32 + drop) * scale,
                );
                for (sx, sy) in (0..scale).flat_map(|sx| (0..scale).map(move |sy| (sx, sy))) {
                    let (x, y) = match direction {
                        Direction::Right => (at.0 + gx + sx, at.1 + gy + sy),
                        Direction::Up => (at.0 + gy + sy, at.1 - gx - sx),
                    };
                    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
                        img.put_pixel(x as u32, y as u32, colour);
                    }
                }
            }
        }
    }
}

/// The rows of `ch`'s glyph (bit 4 is the leftmost column) and how many rows lower it sits.
fn glyph(ch: char) -> (&'static [u8; 7], i32) {
    let find = |c: char| FONT.iter().find(|(k, _)| *k == c).map(|(_, rows)| rows);
    let rows = find(ch)
        .or_else(|| find(ch.to_ascii_uppercase()))
        .or_else(|| find('?'))
        .expect("the font has '?'");
    let drop = if "gpqy".contains(ch) { 2 } else { 0 };
    (rows, drop)
}

/// The font: 7 rows of 5 bits per glyph. "g", "p", "q" and "y" are drawn 2 rows lower, so their
/// last 2 rows hang below the line.
#[rustfmt::skip]
const FONT: &[(char, [u8; 7])] = &[
    (' ', [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000]),
    ('0', [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110]),
    ('1', [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110]),
    ('2', [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111]),
    ('3', [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110]),
    ('4', [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010]),
    ('5', [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110]),
    ('6', [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110]),
    ('7', [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000]),
    ('8', [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110]),
    ('9', [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100]),
    ('A', [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001]),
    ('B', [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110]),
    ('C', [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110]),
    ('D', [0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100]),
    ('E', [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111]),
    ('F', [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000]),
    ('G', [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111]),
    ('H', [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001]),
    ('I', [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110]),
    ('J', [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100]),
    ('K', [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001]),
    ('L', [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111]),
    ('M', [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001]),
    ('N', [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001]),
    ('O', [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110]),
    ('P', [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000]),
    ('Q', [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101]),
    ('R', [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001]),
    ('S', [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110]),
    ('T', [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100]),
    ('U', [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110]),
    ('V', [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100]),
    ('W', [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010]),
    ('X', [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001]),
    ('Y', [0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100]),
    ('Z', [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111]),
    ('a', [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111]),
    ('b', [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110]),
    ('c', [0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110]),
    ('d', [0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111]),
    ('e', [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110]),
    ('f', [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000]),
    ('g', [0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110]),
    ('h', [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001]),
    ('i', [0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110]),
    ('j', [0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100]),
    ('k', [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010]),
    ('l', [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110]),
    ('m', [0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001]),
    ('n', [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001]),
    ('o', [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110]),
    ('p', [0b11110, 0b10001, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000]),
    ('q', [0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001]),
    ('r', [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000]),
    ('s', [0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110]),
    ('t', [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110]),
    ('u', [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101]),
    ('v', [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100]),
    ('w', [0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010]),
    ('x', [0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001]),
    ('y', [0b10001, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110]),
    ('z', [0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111]),
    ('.', [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100]),
    (',', [0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000]),
    ('-', [0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000]),
    ('+', [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000]),
    (':', [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000]),
    (';', [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000]),
    ('=', [0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000]),
    ('(', [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010]),
    (')', [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000]),
    ('[', [0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110]),
    (']', [0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110]),
    ('<', [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010]),
    ('>', [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000]),
    ('%', [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011]),
    ('/', [0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000]),
    ('_', [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111]),
    ('!', [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100]),
    ('?', [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100]),
    ('\'', [0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000]),
    ('*', [0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000]),
    ('#', [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010]),
    ('|', [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn count(img: &RgbImage, colour: Rgb<u8>) -> usize {
        img.pixels().filter(|p| **p == colour).count()
    }

    /// A loss-like curve over 20 epochs, falling from about `start`.
    fn falling(name: &str, start: f64) -> Series {
        let points = (1..=20)
            .map(|e| (f64::from(e), start * (-f64::from(e) / 5.0).exp() + 0.01))
            .collect();
        Series {
            name: name.to_string(),
            points,
        }
    }

    #[test]
    fn line_chart_draws_the_series_in_its_colour_under_a_title() {
        let series = [falling("train", 1.0)];
        let canvas = line_canvas("loss", "epoch", "loss", &series, true).unwrap();
        let (x, y) = series[0].points[10];
        let on_curve = canvas.map(x, y);
        let img = canvas.finish();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert_eq!(
            *img.get_pixel(on_curve.0 as u32, on_curve.1 as u32),
            PALETTE[0]
        );
        assert!(count(&img, PALETTE[0]) > 200);
        assert_eq!(count(&img, PALETTE[1]), 0);
        let title_rows = (0..WIDTH)
            .flat_map(|x| (0..(PAD + 2 * GLYPH_H) as u32).map(move |y| (x, y)))
            .filter(|&(x, y)| *img.get_pixel(x, y) != BACKGROUND)
            .count();
        assert!(title_rows > 20, "title pixels: {title_rows}");
    }

    #[test]
    fn two_series_get_two_colours() {
        let series = [falling("train", 1.0), falling("validation", 1.3)];
        let img = line_chart("loss", "epoch", "loss", &series, false).unwrap();
        assert!(count(&img, PALETTE[0]) > 200);
        assert!(count(&img, PALETTE[1]) > 200);
    }

    #[test]
    fn a_series_without_finite_points_is_an_error() {
        let nan = Series {
            name: "train".into(),
            points: vec![(1.0, f64::NAN), (f64::INFINITY, 0.5), (3.0, f64::NAN)],
        };
        let chart = |series: &Series, log_y| {
            line_chart("loss", "epoch", "loss", std::slice::from_ref(series), log_y)
        };
        assert!(chart(&nan, false).is_err());
        // Non-positive values cannot go on a log axis.
        let zero = Series {
            name: "train".into(),
            points: vec![(1.0, 0.0)],
        };
        assert!(chart(&zero, true).is_err());
        assert!(chart(&zero, false).is_ok());
        // A NaN among finite points is skipped.
        let mut mixed = falling("train", 1.0);
        mixed.points[3].1 = f64::NAN;
        assert!(line_chart("loss", "epoch", "loss", &[mixed, nan], true).is_ok());
    }

    #[test]
    fn histogram_marker_is_a_vertical_line_at_its_value() {
        let normal: Vec<f64> = (0..400).map(|i| f64::from(i % 40) / 100.0).collect();
        let anomalous: Vec<f64> = (0..30).map(|i| 0.5 + f64::from(i) / 60.0).collect();
        let groups = [("normal", &normal[..]), ("anomalous", &anomalous[..])];
        let canvas = histogram_canvas("scores", "score", &groups, 30, Some(("threshold", 0.45)));
        let canvas = canvas.unwrap();
        let (x, area) = (canvas.px(0.45), canvas.area);
        let img = canvas.finish();
        let run = |x: i32| {
            (area.top + 1..area.bottom)
                .filter(|&y| *img.get_pixel(x as u32, y as u32) == MARKER)
                .count() as i32
        };
        assert_eq!(run(x), area.bottom - area.top - 1);
        assert_eq!(run(x + 1), area.bottom - area.top - 1);
        assert_eq!(run(x - 20), 0);
        assert!(count(&img, PALETTE[0]) > 0 && count(&img, PALETTE[1]) > 0);
        let plain = histogram("scores", "score", &groups, 30, None).unwrap();
        assert_eq!(count(&plain, MARKER), 0);
    }

    #[test]
    fn histogram_rejects_what_it_cannot_draw() {
        let v = [1.0, 2.0];
        assert!(histogram("s", "x", &[("a", &v[..])], 0, None).is_err());
        assert!(histogram("s", "x", &[("a", &[f64::NAN][..])], 10, None).is_err());
        assert!(histogram("s", "x", &[("a", &v[..])], 10, Some(("t", f64::NAN))).is_err());
        assert!(histogram("s", "x", &[("a", &[3.0, 3.0][..])], 10, Some(("t", 3.0))).is_ok());
    }

    #[test]
    fn scatter_gives_each_category_its_own_colour() {
        let points: Vec<(f64, f64)> = (0..90)
            .map(|i| (f64::from(i % 10), f64::from(i / 10)))
            .collect();
        let labels: Vec<f64> = (0..90).map(|i| f64::from(i % 3) * 2.0).collect();
        let img = scatter("code", "z1", "z2", &points, &labels, true).unwrap();
        let used = PALETTE.iter().filter(|&&c| count(&img, c) > 0).count();
        assert_eq!(used, 3);
        // A continuous colouring uses the ramp, not the category colours.
        let img = scatter("code", "z1", "z2", &points, &labels, false).unwrap();
        assert!(count(&img, viridis(0.0)) > 0 && count(&img, viridis(1.0)) > 0);
        assert_eq!(PALETTE.iter().filter(|&&c| count(&img, c) > 0).count(), 0);
    }

    #[test]
    fn scatter_lengths_must_match() {
        let err = scatter("code", "z1", "z2", &[(0.0, 0.0)], &[1.0, 2.0], true).unwrap_err();
        assert!(matches!(err, Error::Shape(_)), "{err}");
    }

    #[test]
    fn roc_diagonal_runs_through_the_middle() {
        let curve = vec![(0.0, 0.0), (0.05, 0.7), (0.2, 0.9), (1.0, 1.0)];
        let curves = [("autoencoder".to_string(), curve, 0.93)];
        let canvas = roc_canvas("ROC", &curves).unwrap();
        let (mx, my) = canvas.map(0.5, 0.5);
        let on_curve = canvas.map(0.2, 0.9);
        let img = canvas.finish();
        assert_eq!(*img.get_pixel(mx as u32, my as u32), DIAGONAL);
        assert_eq!(
            *img.get_pixel(on_curve.0 as u32, on_curve.1 as u32),
            PALETTE[0]
        );
        assert!(roc_chart("ROC", &[]).is_err());
    }

    #[test]
    fn text_draws_only_when_there_is_text() {
        let ink = |text: &str, direction| {
            let mut img = RgbImage::from_pixel(40, 40, BACKGROUND);
            draw_text(&mut img, (2, 20), text, 1, INK, direction);
            count(&img, INK)
        };
        assert!(ink("0.5", Direction::Right) > 10);
        assert!(ink("0.5", Direction::Up) > 10);
        assert_eq!(ink("", Direction::Right), 0);
        assert_eq!(ink("0.5", Direction::Right), ink("0.5", Direction::Up));
        assert_eq!(text_width("0.5", 1), 17);
        assert_eq!(text_width("", 2), 0);
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(format_number(0.05, 0.05), "0.05");
        assert_eq!(format_number(0.1, 0.05), "0.1");
        assert_eq!(format_number(0.30000000000000004, 0.1), "0.3");
        assert_eq!(format_number(0.0012, 0.0001), "1.2e-3");
        assert_eq!(format_number(250.0, 50.0), "250");
        assert_eq!(format_number(1e-17, 0.1), "0");
        assert_eq!(format_number(200000.0, 100000.0), "2e5");
        assert_eq!(format_value(0.034_71), "0.0347");
        assert_eq!(format_value(3.0), "3");
        let labels = linear_labels(vec![0.0, 0.005, 0.01, 0.015], 0.005);
        let labels: Vec<&str> = labels.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "0.005", "0.01", "0.015"]);
        let labels = linear_labels(vec![0.0, 5e-4, 1e-3, 1.5e-3], 5e-4);
        let labels: Vec<&str> = labels.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "5e-4", "1e-3", "1.5e-3"]);
    }

    #[test]
    fn ticks_step_by_1_2_5() {
        assert!((nice_step(1.0, 5.0) - 0.2).abs() < 1e-12);
        assert!((nice_step(20.0, 8.0) - 2.0).abs() < 1e-12);
        assert!((nice_step(0.07, 5.0) - 0.01).abs() < 1e-12);
        let axis = Axis::new(Scale::Nice(0.013, 0.087), 300);
        let labels: Vec<&str> = axis.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "0.02", "0.04", "0.06", "0.08", "0.1"]);
        assert!(axis.lo <= 0.013 && axis.hi >= 0.087);
        let log = Axis::new(Scale::Log(1.5e-3, 0.5), 300);
        let labels: Vec<&str> = log.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["3e-3", "0.01", "0.03", "0.1", "0.3"]);
        let wide = Axis::new(Scale::Log(1e-9, 1e3), 300);
        let labels: Vec<&str> = wide.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1e-9", "1e-6", "1e-3", "1", "1000"]);
    }

    #[test]
    fn saved_png_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let img = line_chart("loss", "epoch", "loss", &[falling("train", 1.0)], true).unwrap();
        crate::picture::save_png(&img, &path).unwrap();
        let back = image::open(&path).unwrap();
        assert_eq!((back.width(), back.height()), (WIDTH, HEIGHT));
        assert_eq!(back.to_rgb8(), img);
    }
}
