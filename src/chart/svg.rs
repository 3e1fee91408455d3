//! A small SVG writer: the few elements the charts need (lines, polylines, rectangles, circles,
//! text, and a clipping viewport), with every text and attribute value escaped. Coordinates are
//! user units (pixels at the document's own size), written to 2 decimals.
//!
//! The output has no XML declaration and no `id`s, so that it can be inlined into an HTML page
//! more than once as well as saved as a standalone `.svg` file.

use std::fmt::Write;

/// An sRGB colour, written as `#rrggbb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// How a line is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stroke {
    pub colour: Colour,
    pub width: f64,
    /// Dash and gap lengths, for a dashed line.
    pub dash: Option<(f64, f64)>,
}

impl Stroke {
    /// A solid line.
    pub fn solid(colour: Colour, width: f64) -> Self {
        Stroke {
            colour,
            width,
            dash: None,
        }
    }

    fn attributes(&self) -> String {
        let mut s = format!(
            r#" stroke="{}" stroke-width="{}""#,
            self.colour,
            num(self.width)
        );
        if let Some((dash, gap)) = self.dash {
            let _ = write!(s, r#" stroke-dasharray="{} {}""#, num(dash), num(gap));
        }
        s
    }
}

/// Where a text's anchor point lies along it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// How a text is drawn: `size` is the font size in pixels; `vertical` turns it a quarter left
/// about its anchor point (reading upwards, for a y axis name).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextStyle {
    pub size: f64,
    pub colour: Colour,
    pub anchor: Anchor,
    pub bold: bool,
    pub vertical: bool,
}

/// An SVG document being written.
#[derive(Clone, Debug)]
pub struct Document {
    width: f64,
    height: f64,
    label: String,
    body: String,
    /// Open nested viewports, closed by [`Document::finish`] if still open.
    open: usize,
}

impl Document {
    /// An empty `width` x `height` document with a white background; `label` is its accessible
    /// name (`aria-label`) and its `<title>`, which viewers show as a tooltip.
    pub fn new(width: f64, height: f64, label: &str) -> Self {
        let mut doc = Document {
            width,
            height,
            label: label.to_string(),
            body: String::new(),
            open: 0,
        };
        let _ = writeln!(doc.body, "<title>{}</title>", escape(label));
        doc.rect(
            (0.0, 0.0),
            (width, height),
            Some((Colour(255, 255, 255), 1.0)),
            None,
        );
        doc
    }

    /// A straight line from `a` to `b`.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), stroke: &Stroke) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}"{}/>"#,
            num(a.0),
            num(a.1),
            num(b.0),
            num(b.1),
            stroke.attributes()
        );
    }

    /// Straight lines joining `points` in order (nothing for fewer than 2 points).
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &Stroke) {
        if points.len() < 2 {
            return;
        }
        let coords: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", num(x), num(y)))
            .collect();
        let _ = writeln!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke-linejoin="round"{}/>"#,
            coords.join(" "),
            stroke.attributes()
        );
    }

    /// The rectangle from corner `at` spanning `size`, filled with a colour at an opacity, and/or
    /// outlined.
    pub fn rect(
        &mut self,
        at: (f64, f64),
        size: (f64, f64),
        fill: Option<(Colour, f64)>,
        stroke: Option<&Stroke>,
    ) {
        let fill = match fill {
            Some((c, o)) if o < 1.0 => format!(r#" fill="{c}" fill-opacity="{}""#, num(o)),
            Some((c, _)) => format!(r#" fill="{c}""#),
            None => r#" fill="none""#.to_string(),
        };
        let _ = writeln!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}"{fill}{}/>"#,
            num(at.0),
            num(at.1),
            num(size.0.max(0.0)),
            num(size.1.max(0.0)),
            stroke.map(Stroke::attributes).unwrap_or_default()
        );
    }

    /// A filled disc of radius `r` around `centre`.
    pub fn circle(&mut self, centre: (f64, f64), r: f64, colour: Colour) {
        let _ = writeln!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{colour}"/>"#,
            num(centre.0),
            num(centre.1),
            num(r)
        );
    }

    /// `text` with its anchor point on the baseline at `at`.
    pub fn text(&mut self, at: (f64, f64), text: &str, style: &TextStyle) {
        let anchor = match style.anchor {
            Anchor::Start => "",
            Anchor::Middle => r#" text-anchor="middle""#,
            Anchor::End => r#" text-anchor="end""#,
        };
        let weight = if style.bold {
            r#" font-weight="bold""#
        } else {
            ""
        };
        let turn = if style.vertical {
            format!(r#" transform="rotate(-90 {} {})""#, num(at.0), num(at.1))
        } else {
            String::new()
        };
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" font-size="{}" fill="{}"{anchor}{weight}{turn}>{}</text>"#,
            num(at.0),
            num(at.1),
            num(style.size),
            style.colour,
            escape(text)
        );
    }

    /// Appends markup written elsewhere (a whole chart's SVG, placed as a nested `<svg>`).
    pub fn raw(&mut self, markup: &str) {
        self.body.push_str(markup);
    }

    /// Starts a viewport over the rectangle from `at` spanning `size`: what is drawn until
    /// [`Document::close_viewport`] is clipped to it, in the document's own coordinates.
    pub fn open_viewport(&mut self, at: (f64, f64), size: (f64, f64)) {
        let (x, y, w, h) = (num(at.0), num(at.1), num(size.0), num(size.1));
        let _ = writeln!(
            self.body,
            r#"<svg x="{x}" y="{y}" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}" overflow="hidden">"#
        );
        self.open += 1;
    }

    /// Ends the innermost viewport.
    pub fn close_viewport(&mut self) {
        if self.open > 0 {
            self.body.push_str("</svg>\n");
            self.open -= 1;
        }
    }

    /// The finished document's text.
    pub fn finish(mut self) -> String {
        while self.open > 0 {
            self.close_viewport();
        }
        let (w, h) = (num(self.width), num(self.height));
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" \
             font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n{}</svg>\n",
            escape(&self.label),
            self.body
        )
    }
}

/// `s` with the characters that XML gives a meaning (`&`, `<`, `>`, `"`, `'`) written as
/// entities, safe in text and in attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and line breaks are not allowed in XML at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate to 2 decimals, without trailing zeros: "12.5", "3", "-0.25"; never "-0", and a
/// non-finite value (which no caller should pass) as 0 so the document stays valid.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Panics unless `svg` is well-formed as far as the writer's output goes: every tag closed in
    /// order, attribute values quoted, and every `&` the start of one of the writer's entities.
    pub(crate) fn assert_well_formed(svg: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt]);
            let gt = rest[lt..].find('>').expect("an unclosed tag") + lt;
            let tag = &rest[lt + 1..gt];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
            check_text(tag);
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "closing {name}");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().expect("a tag name"));
            }
            rest = &rest[gt + 1..];
        }
        check_text(rest);
        assert!(open.is_empty(), "left open: {open:?}");
    }

    fn check_text(s: &str) {
        for (i, _) in s.match_indices('&') {
            let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
            assert!(
                entity.iter().any(|e| s[i..].starts_with(e)),
                "a bare '&' in {s:?}"
            );
        }
    }

    fn style() -> TextStyle {
        TextStyle {
            size: 12.0,
            colour: Colour(40, 40, 40),
            anchor: Anchor::Middle,
            bold: false,
            vertical: false,
        }
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(
            escape(r#"a < b & "c" > 'd'"#),
            "a &lt; b &amp; &quot;c&quot; &gt; &#39;d&#39;"
        );
        assert_eq!(escape("x\u{0}y\tz"), "x\u{fffd}y\tz");
        let mut doc = Document::new(100.0, 50.0, "R&D <loss>");
        doc.text((50.0, 20.0), "p < 0.05 & \"q\"", &style());
        let svg = doc.finish();
        assert!(
            svg.contains(">p &lt; 0.05 &amp; &quot;q&quot;</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(r#"aria-label="R&amp;D &lt;loss&gt;""#),
            "{svg}"
        );
        assert!(svg.contains("<title>R&amp;D &lt;loss&gt;</title>"), "{svg}");
        assert!(!svg.contains("<loss>") && !svg.contains("R&D"));
        assert_well_formed(&svg);
    }

    #[test]
    fn the_well_formedness_check_catches_what_escaping_prevents() {
        let bad = [
            "<svg><text>a & b</text></svg>",
            "<svg><g></svg>",
            "<svg><text>a</svg>",
        ];
        for svg in bad {
            assert!(
                std::panic::catch_unwind(|| assert_well_formed(svg)).is_err(),
                "{svg}"
            );
        }
    }

    #[test]
    fn numbers_are_short_and_valid() {
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(-0.25), "-0.25");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(1.0 / 3.0), "0.33");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(Colour(31, 119, 180).to_string(), "#1f77b4");
    }

    #[test]
    fn elements_carry_their_coordinates() {
        let mut doc = Document::new(640.0, 420.0, "t");
        let dashed = Stroke {
            dash: Some((7.0, 5.0)),
            ..Stroke::solid(Colour(0, 0, 0), 1.5)
        };
        doc.line((1.0, 2.0), (3.5, 4.0), &dashed);
        doc.polyline(
            &[(0.0, 0.0), (10.0, 5.25)],
            &Stroke::solid(Colour(1, 2, 3), 2.0),
        );
        doc.polyline(&[(7.0, 7.0)], &Stroke::solid(Colour(1, 2, 3), 2.0));
        doc.circle((5.0, 6.0), 2.5, Colour(255, 0, 0));
        doc.open_viewport((60.0, 40.0), (500.0, 300.0));
        doc.rect(
            (61.0, 41.0),
            (-3.0, 10.0),
            Some((Colour(0, 0, 255), 0.45)),
            None,
        );
        let svg = doc.finish();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="420" viewBox="0 0 640 420""#));
        assert!(svg.contains(r##"<line x1="1" y1="2" x2="3.5" y2="4" stroke="#000000" stroke-width="1.5" stroke-dasharray="7 5"/>"##), "{svg}");
        assert!(svg.contains(r#"points="0,0 10,5.25""#), "{svg}");
        assert_eq!(
            svg.matches("<polyline").count(),
            1,
            "a single point is no line"
        );
        assert!(svg.contains(r##"<circle cx="5" cy="6" r="2.5" fill="#ff0000"/>"##));
        assert!(svg.contains(r#"viewBox="60 40 500 300" overflow="hidden""#));
        assert!(svg.contains(r##"width="0" height="10" fill="#0000ff" fill-opacity="0.45""##));
        // The background, then the viewport closed by `finish`.
        assert!(svg.contains(r##"<rect x="0" y="0" width="640" height="420" fill="#ffffff"/>"##));
        assert!(svg.ends_with("</svg>\n</svg>\n"));
        assert_well_formed(&svg);
    }

    #[test]
    fn vertical_text_turns_about_its_anchor() {
        let mut doc = Document::new(100.0, 100.0, "t");
        let up = TextStyle {
            vertical: true,
            bold: true,
            anchor: Anchor::End,
            ..style()
        };
        doc.text((20.0, 50.0), "loss", &up);
        let svg = doc.finish();
        assert!(
            svg.contains(
                r#"text-anchor="end" font-weight="bold" transform="rotate(-90 20 50)">loss</text>"#
            ),
            "{svg}"
        );
    }
}
