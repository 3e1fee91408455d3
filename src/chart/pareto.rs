//! The trade-off chart of a sweep ([`pareto_chart`]): every run a dot, the Pareto front's runs
//! joined by a line in their own colour.

use super::axis::{padded, Scale};
use super::layout::{Canvas, Frame, LegendEntry, Swatch};
use super::svg::Stroke;
use super::{extent, finish, palette, Chart, DOT_R, EDGE_ROOM};
use ae_core::{Error, Result};

/// Radius of a front run's dot, drawn over the others.
const FRONT_DOT_R: f64 = 4.0;

/// Draws `points` (one per run, such as `(L0, FVU)`) as dots, and those `front` marks (the
/// Pareto front, [`crate::sweep::pareto_front`]) larger, in a second colour, joined by a line in
/// order of x; the legend names both. Points with a non-finite coordinate are skipped. Errors
/// with [`Error::Shape`] when the slices differ in length or no point is left to draw.
pub fn pareto_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    front: &[bool],
) -> Result<Chart> {
    if points.len() != front.len() {
        return Err(Error::Shape(format!(
            "Pareto chart \"{title}\": {} points but {} front marks",
            points.len(),
            front.len()
        )));
    }
    let kept: Vec<((f64, f64), bool)> = points
        .iter()
        .copied()
        .zip(front.iter().copied())
        .filter(|((x, y), _)| x.is_finite() && y.is_finite())
        .collect();
    let (x_range, y_range) = extent(kept.iter().map(|p| p.0)).ok_or_else(|| {
        Error::Shape(format!("Pareto chart \"{title}\": no finite point to draw"))
    })?;
    let (x_lo, x_hi) = padded(x_range, EDGE_ROOM, true);
    let (y_lo, y_hi) = padded(y_range, EDGE_ROOM, true);
    let mut canvas = Canvas::new(Frame {
        title,
        x_label,
        y_label,
        x: Scale::Nice(x_lo, x_hi),
        y: Scale::Nice(y_lo, y_hi),
        legend: vec![
            LegendEntry::new("run", palette(0), Swatch::Dot),
            LegendEntry::new("Pareto front", palette(1), Swatch::Line),
        ],
        colour_bar: None,
        square: false,
    });
    let mut on_front: Vec<(f64, f64)> = kept.iter().filter(|p| p.1).map(|p| p.0).collect();
    on_front.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    for &((x, y), _) in kept.iter().filter(|p| !p.1) {
        let at = canvas.map(x, y);
        canvas.doc.circle(at, DOT_R, palette(0));
    }
    let pixels: Vec<(f64, f64)> = on_front.iter().map(|&(x, y)| canvas.map(x, y)).collect();
    canvas
        .doc
        .polyline(&pixels, &Stroke::solid(palette(1), 2.0));
    for &p in &pixels {
        canvas.doc.circle(p, FRONT_DOT_R, palette(1));
    }
    Ok(finish(canvas))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `<circle` elements of `svg` with radius `r`.
    fn circles(svg: &str, r: f64) -> usize {
        let r = format!(" r=\"{}\"", super::super::svg::num(r));
        svg.lines()
            .filter(|l| l.starts_with("<circle ") && l.contains(&r))
            .count()
    }

    #[test]
    fn front_runs_are_big_dots_on_one_line_and_the_rest_small() {
        let pts = [
            (4.0, 0.5),
            (8.0, 0.3),
            (8.0, 0.4),
            (2.0, 0.9),
            (f64::NAN, 0.1),
        ];
        let front = [true, true, false, true, false];
        let chart = pareto_chart("L0 against FVU", "L0", "FVU", &pts, &front).unwrap();
        let svg = chart.svg();
        assert_eq!(circles(svg, FRONT_DOT_R), 3, "{svg}");
        // One small dot for the run off the front, plus the legend's dot swatch.
        assert!(circles(svg, DOT_R) >= 1);
        let front_lines = svg
            .lines()
            .filter(|l| l.starts_with("<polyline ") && l.contains(&palette(1).to_string()))
            .collect::<Vec<_>>();
        assert_eq!(front_lines.len(), 1, "{svg}");
        let n_points = front_lines[0]
            .split(' ')
            .filter(|t| t.contains(','))
            .count();
        assert_eq!(n_points, 3, "{}", front_lines[0]);
        assert!(svg.contains(">Pareto front</text>"));
        assert!(pareto_chart("t", "x", "y", &pts, &front[..2]).is_err());
        assert!(pareto_chart("t", "x", "y", &[(f64::NAN, 1.0)], &[true]).is_err());
    }
}
