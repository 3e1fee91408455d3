//! The trade-off chart of a sweep ([`pareto_chart`]): every run a dot, the Pareto front's runs
//! joined by a line in their own colour.

use super::axis::{padded, Scale};
use super::layout::{Canvas, Frame, LegendEntry, Swatch};
use super::svg::{Anchor, Stroke, TextStyle};
use super::{extent, finish, palette, Chart, DOT_R, EDGE_ROOM, INK};
use ae_core::{Error, Result};

/// Radius of a front run's dot, drawn over the others.
const FRONT_DOT_R: f64 = 4.0;
/// Font size of the runs' names beside their dots.
const NAME_FONT: f64 = 10.0;

/// Draws `points` (one per run, such as `(L0, FVU)`) as dots, and those `front` marks (the
/// Pareto front, [`crate::sweep::pareto_front`]) larger, in a second colour, joined by a line in
/// order of x; each dot has its name from `names` beside it (none where empty), and the legend
/// names both kinds. Points with a non-finite coordinate are skipped. Errors with
/// [`Error::Shape`] when the slices differ in length or no point is left to draw.
pub fn pareto_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    front: &[bool],
    names: &[&str],
) -> Result<Chart> {
    if points.len() != front.len() || points.len() != names.len() {
        return Err(Error::Shape(format!(
            "Pareto chart \"{title}\": {} points but {} front marks and {} names",
            points.len(),
            front.len(),
            names.len()
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
    // Names right of the dots in the plot's left half, left of them in its right half, so that
    // none runs past the frame.
    let middle = (canvas.area.left + canvas.area.right) / 2.0;
    for (&(x, y), name) in points.iter().zip(names) {
        if x.is_finite() && y.is_finite() && !name.is_empty() {
            let (px, py) = canvas.map(x, y);
            let (anchor, dx) = match px < middle {
                true => (Anchor::Start, 6.0),
                false => (Anchor::End, -6.0),
            };
            let style = TextStyle {
                size: NAME_FONT,
                colour: INK,
                anchor,
                bold: false,
                vertical: false,
            };
            canvas.doc.text((px + dx, py - 6.0), name, &style);
        }
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
        let names = ["a", "b", "c", "", "e"];
        let chart = pareto_chart("L0 against FVU", "L0", "FVU", &pts, &front, &names).unwrap();
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
        // Names beside the drawn dots, none for an empty name or a skipped point.
        for (name, shown) in [("a", true), ("b", true), ("c", true), ("e", false)] {
            assert_eq!(svg.contains(&format!(">{name}</text>")), shown, "{name}");
        }
        assert!(pareto_chart("t", "x", "y", &pts, &front[..2], &names).is_err());
        assert!(pareto_chart("t", "x", "y", &pts, &front, &names[..2]).is_err());
        let one = pareto_chart("t", "x", "y", &[(f64::NAN, 1.0)], &[true], &["a"]);
        assert!(one.is_err());
    }
}
