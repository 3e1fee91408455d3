//! The four charts, read back from their SVG text: what is drawn where, in which colour.

use super::layout::{HEIGHT, WIDTH};
use super::svg::{num, tests::assert_well_formed};
use super::*;

/// The value of attribute `name` in the element `line` (one element per line).
fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = line.find(&key)? + key.len();
    Some(&line[start..start + line[start..].find('"')?])
}

/// The lines of `svg` holding a `<tag` element.
fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    svg.lines().filter(|l| l.starts_with(&open)).collect()
}

/// The `(x, y)` pixel of a data point, as the writer writes it.
fn written((x, y): (f64, f64)) -> String {
    format!("{},{}", num(x), num(y))
}

/// The contents of every `<text>` element.
fn texts(svg: &str) -> Vec<&str> {
    elements(svg, "text")
        .into_iter()
        .map(|l| {
            let start = l.find('>').unwrap() + 1;
            &l[start..l.rfind("</text>").unwrap()]
        })
        .collect()
}

/// How many elements are drawn in `colour`, as fill or stroke.
fn uses(svg: &str, colour: Colour) -> usize {
    let c = colour.to_string();
    svg.lines()
        .filter(|l| attr(l, "fill") == Some(&c) || attr(l, "stroke") == Some(&c))
        .count()
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
fn line_chart_draws_the_series_through_its_points_under_a_title() {
    let series = [falling("train", 1.0)];
    let canvas = line_canvas("loss", "epoch", "loss", &series, true).unwrap();
    let expected: Vec<String> = series[0]
        .points
        .iter()
        .map(|&(x, y)| written(canvas.map(x, y)))
        .collect();
    let area = canvas.area;
    let svg = canvas.finish();
    assert_well_formed(&svg);
    assert!(svg.contains(&format!(r#"width="{WIDTH}" height="{HEIGHT}""#)));
    let lines = elements(&svg, "polyline");
    assert_eq!(lines.len(), 1);
    assert_eq!(attr(lines[0], "points"), Some(expected.join(" ").as_str()));
    assert_eq!(attr(lines[0], "stroke"), Some("#1f77b4"));
    // At most 40 points: each is also a dot, in the series' colour, inside the plot area.
    let dots = elements(&svg, "circle");
    assert_eq!(
        dots.len(),
        20,
        "one per point; the legend's swatch is a line"
    );
    for (d, p) in dots.iter().zip(&expected) {
        assert_eq!(
            &format!("{},{}", attr(d, "cx").unwrap(), attr(d, "cy").unwrap()),
            p
        );
        assert_eq!(attr(d, "fill"), Some("#1f77b4"));
        let (x, y): (f64, f64) = (
            attr(d, "cx").unwrap().parse().unwrap(),
            attr(d, "cy").unwrap().parse().unwrap(),
        );
        assert!(area.left <= x && x <= area.right && area.top <= y && y <= area.bottom);
    }
    assert_eq!(uses(&svg, PALETTE[1]), 0);
    let texts = texts(&svg);
    assert_eq!(texts[0], "loss", "the title first");
    assert!(texts.contains(&"epoch") && texts.contains(&"train"));
    // The log axis (0.028 to 0.83) is labelled at 1 and 3 times powers of 10, not evenly.
    for label in ["0.03", "0.1", "0.3"] {
        assert!(texts.contains(&label), "{label}: {texts:?}");
    }
    assert!(!texts.contains(&"0.2"), "{texts:?}");
}

#[test]
fn two_series_get_two_colours_and_long_series_no_dots() {
    let mut long = falling("validation", 1.3);
    long.points = (1..=100)
        .map(|e| (f64::from(e), 1.0 / f64::from(e)))
        .collect();
    let series = [falling("train", 1.0), long];
    let svg = line_chart("loss", "epoch", "loss", &series, false)
        .unwrap()
        .svg()
        .to_string();
    let lines = elements(&svg, "polyline");
    let strokes: Vec<_> = lines.iter().map(|l| attr(l, "stroke").unwrap()).collect();
    assert_eq!(strokes, ["#1f77b4", "#ff7f0e"]);
    let dots = elements(&svg, "circle");
    assert_eq!(dots.len(), 20);
    assert!(dots.iter().all(|d| attr(d, "fill") == Some("#1f77b4")));
    assert!(texts(&svg).contains(&"validation"));
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
    let svg = line_chart("loss", "epoch", "loss", &[mixed, nan], true).unwrap();
    assert!(!svg.svg().contains("NaN") && !svg.svg().contains("inf"));
    let lines = elements(svg.svg(), "polyline");
    assert_eq!(attr(lines[0], "points").unwrap().split(' ').count(), 19);
}

#[test]
fn histogram_marker_is_a_vertical_line_at_its_value() {
    let normal: Vec<f64> = (0..400).map(|i| f64::from(i % 40) / 100.0).collect();
    let anomalous: Vec<f64> = (0..30).map(|i| 0.5 + f64::from(i) / 60.0).collect();
    let groups = [("normal", &normal[..]), ("anomalous", &anomalous[..])];
    let canvas = histogram_canvas("scores", "score", &groups, 30, Some(("threshold", 0.45)));
    let canvas = canvas.unwrap();
    let (x, area) = (canvas.px(0.45), canvas.area);
    let svg = canvas.finish();
    assert_well_formed(&svg);
    let marker = MARKER.to_string();
    let lines: Vec<&str> = elements(&svg, "line")
        .into_iter()
        .filter(|l| attr(l, "stroke") == Some(&marker))
        .collect();
    assert_eq!(lines.len(), 1);
    let (x, top, bottom) = (num(x), num(area.top), num(area.bottom));
    assert_eq!(attr(lines[0], "x1"), Some(x.as_str()));
    assert_eq!(attr(lines[0], "x2"), Some(x.as_str()));
    assert_eq!(attr(lines[0], "y1"), Some(top.as_str()));
    assert_eq!(attr(lines[0], "y2"), Some(bottom.as_str()));
    assert!(texts(&svg).contains(&"threshold 0.45"));
    // Two groups: fractions, translucent bars of both colours, one outline each.
    assert!(texts(&svg).contains(&"fraction of group"));
    let bars = elements(&svg, "rect");
    for colour in &PALETTE[..2] {
        let c = colour.to_string();
        let n = bars.iter().filter(|b| attr(b, "fill") == Some(&c)).count();
        assert!(n > 1, "{c}");
    }
    assert!(svg.contains(r#"fill-opacity="0.45""#));
    assert_eq!(elements(&svg, "polyline").len(), 2);
    let plain = histogram("scores", "score", &groups[..1], 30, None).unwrap();
    assert_eq!(uses(plain.svg(), MARKER), 0);
    assert!(texts(plain.svg()).contains(&"count"));
}

#[test]
fn histogram_bars_stand_on_zero_and_reach_their_counts() {
    // Four values in two bins: counts 3 and 1.
    let values = [0.0, 0.1, 0.2, 1.0];
    let canvas = histogram_canvas("h", "x", &[("a", &values[..])], 2, None).unwrap();
    let (zero, three, one) = (canvas.py(0.0), canvas.py(3.0), canvas.py(1.0));
    let svg = canvas.finish();
    let fill = PALETTE[0].to_string();
    let bars: Vec<&str> = elements(&svg, "rect")
        .into_iter()
        .filter(|b| attr(b, "fill") == Some(&fill) && attr(b, "fill-opacity").is_some())
        .skip(1) // the legend's swatch
        .collect();
    assert_eq!(bars.len(), 2);
    let top_and_height = |b: &str| -> (f64, f64) {
        let get = |k| attr(b, k).unwrap().parse::<f64>().unwrap();
        (get("y"), get("height"))
    };
    for (bar, h) in bars.iter().zip([three, one]) {
        let (y, height) = top_and_height(bar);
        assert!((y - h).abs() < 0.01, "{bar}");
        assert!((y + height - zero).abs() < 0.02, "{bar}");
    }
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
fn scatter_puts_each_point_at_its_pixel_coloured_by_category() {
    let points: Vec<(f64, f64)> = (0..90)
        .map(|i| (f64::from(i % 10), f64::from(i / 10)))
        .collect();
    let labels: Vec<f64> = (0..90).map(|i| f64::from(i % 3) * 2.0).collect();
    let canvas = scatter_canvas("code", "z1", "z2", &points, &labels, true).unwrap();
    // x from 0 to 9 and y from 0 to 8, padded by 3% of the range at each end.
    let a = canvas.area;
    let (w, h) = (a.right - a.left, a.bottom - a.top);
    let expect_x = |x: f64| a.left + (x + 0.27) / 9.54 * w;
    let expect_y = |y: f64| a.bottom - (y + 0.24) / 8.48 * h;
    assert!((canvas.px(0.0) - expect_x(0.0)).abs() < 1e-9);
    assert!((canvas.py(8.0) - expect_y(8.0)).abs() < 1e-9);
    let svg = canvas.finish();
    assert_well_formed(&svg);
    let dots: Vec<&str> = elements(&svg, "circle")
        .into_iter()
        .filter(|d| attr(d, "r") == Some("2.5"))
        .collect();
    assert_eq!(dots.len(), 90);
    for (d, (&(x, y), &label)) in dots.iter().zip(points.iter().zip(&labels)) {
        assert_eq!(attr(d, "cx"), Some(num(expect_x(x)).as_str()), "{d}");
        assert_eq!(attr(d, "cy"), Some(num(expect_y(y)).as_str()), "{d}");
        let colour = PALETTE[(label / 2.0) as usize].to_string();
        assert_eq!(attr(d, "fill"), Some(colour.as_str()));
    }
    let texts = texts(&svg);
    for name in ["0", "2", "4", "z1", "z2"] {
        assert!(texts.contains(&name), "{name}: {texts:?}");
    }
}

#[test]
fn a_continuous_colouring_uses_the_ramp_and_a_colour_bar() {
    let points: Vec<(f64, f64)> = (0..50).map(|i| (f64::from(i), 0.0)).collect();
    let values: Vec<f64> = (0..50).map(|i| f64::from(i) / 49.0).collect();
    let canvas = scatter_canvas("code", "z1", "z2", &points, &values, false).unwrap();
    let right = canvas.area.right;
    let svg = &canvas.finish();
    let dots = elements(svg, "circle");
    assert_eq!(dots.len(), 50, "no legend");
    let fill = |i: usize| attr(dots[i], "fill").unwrap().to_string();
    assert_eq!(fill(0), viridis(0.0).to_string());
    assert_eq!(fill(49), viridis(1.0).to_string());
    assert!(PALETTE.iter().all(|c| uses(svg, *c) == 0));
    // The bar: stripes running from yellow at the top to purple at the bottom, with ticks.
    let stripes: Vec<&str> = elements(svg, "rect")
        .into_iter()
        .filter(|r| attr(r, "width") == Some("14") && attr(r, "fill") != Some("none"))
        .collect();
    assert_eq!(stripes.len(), 64);
    assert_eq!(
        attr(stripes[0], "fill"),
        Some(viridis(1.0 - 0.5 / 64.0).to_string().as_str())
    );
    let bar_labels: Vec<&str> = elements(svg, "text")
        .into_iter()
        .filter(|t| attr(t, "x").unwrap().parse::<f64>().unwrap() > right)
        .map(|t| &t[t.find('>').unwrap() + 1..t.rfind('<').unwrap()])
        .collect();
    assert_eq!(bar_labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
}

#[test]
fn scatter_lengths_must_match() {
    let err = scatter("code", "z1", "z2", &[(0.0, 0.0)], &[1.0, 2.0], true).unwrap_err();
    assert!(matches!(err, Error::Shape(_)), "{err}");
    let err = scatter("code", "z1", "z2", &[(f64::NAN, 0.0)], &[1.0], true).unwrap_err();
    assert!(matches!(err, Error::Shape(_)), "{err}");
}

#[test]
fn roc_chart_is_square_with_the_diagonal_dashed_corner_to_corner() {
    let curve = vec![(0.0, 0.0), (0.05, 0.7), (0.2, 0.9), (1.0, 1.0)];
    let curves = [("autoencoder".to_string(), curve.clone(), 0.93)];
    let canvas = roc_canvas("ROC", &curves).unwrap();
    let a = canvas.area;
    assert_eq!(a.right - a.left, a.bottom - a.top);
    assert_eq!(canvas.map(0.0, 0.0), (a.left, a.bottom));
    assert_eq!(canvas.map(1.0, 1.0), (a.right, a.top));
    let expected: Vec<String> = curve
        .iter()
        .map(|&(x, y)| written(canvas.map(x, y)))
        .collect();
    let svg = canvas.finish();
    assert_well_formed(&svg);
    let diagonal = DIAGONAL.to_string();
    let dashed: Vec<&str> = elements(&svg, "line")
        .into_iter()
        .filter(|l| attr(l, "stroke") == Some(&diagonal))
        .collect();
    assert_eq!(dashed.len(), 1);
    assert_eq!(attr(dashed[0], "stroke-dasharray"), Some("7 5"));
    assert_eq!(attr(dashed[0], "x1"), Some(num(a.left).as_str()));
    assert_eq!(attr(dashed[0], "y2"), Some(num(a.top).as_str()));
    let lines = elements(&svg, "polyline");
    assert_eq!(attr(lines[0], "points"), Some(expected.join(" ").as_str()));
    assert!(texts(&svg).contains(&"autoencoder AUC 0.930"));
    assert!(roc_chart("ROC", &[]).is_err());
}

#[test]
fn titles_labels_and_legends_are_escaped() {
    let series = [Series {
        name: "a<b & c".into(),
        points: vec![(0.0, 1.0), (1.0, 2.0)],
    }];
    let chart = line_chart("R&D <run>", "x \"1\"", "y's", &series, false).unwrap();
    let svg = chart.svg();
    assert_well_formed(svg);
    let texts = texts(svg);
    for t in [
        "R&amp;D &lt;run&gt;",
        "a&lt;b &amp; c",
        "x &quot;1&quot;",
        "y&#39;s",
    ] {
        assert!(texts.contains(&t), "{t}: {texts:?}");
    }
    assert!(!svg.contains("<run>") && !svg.contains("a<b"));
}

#[test]
fn data_is_drawn_inside_a_clipping_viewport_and_the_frame_over_it() {
    let chart = line_chart("loss", "epoch", "loss", &[falling("train", 1.0)], true).unwrap();
    let svg = chart.svg();
    let viewport = svg.find("overflow=\"hidden\"").expect("a viewport");
    let data = svg.find("<polyline").unwrap();
    let closed = svg[viewport..].find("</svg>").unwrap() + viewport;
    assert!(viewport < data && data < closed);
    // No ids: several charts can be inlined into one page.
    assert!(!svg.contains(" id="));
    assert!(!svg.starts_with("<?xml"));
}

#[test]
fn saved_svg_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.svg");
    let chart = line_chart("loss", "epoch", "loss", &[falling("train", 1.0)], true).unwrap();
    chart.save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), chart.svg());
    let err = chart.save(&dir.path().join("no/such/dir.svg")).unwrap_err();
    assert!(err.to_string().contains("dir.svg"), "{err}");
}
