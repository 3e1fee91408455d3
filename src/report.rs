//! HTML reports: an `index.html` that shows the run's settings, metrics, charts and pictures,
//! in a folder beside the files it shows. Charts are SVG, inlined into the page (so the browser
//! draws their text) and saved beside it as `.svg` files, which the page links to; image grids
//! are PNG files the page loads. Once loaded, the page marks itself `data-images-loaded="k/n"`
//! (`k` of the `n` images loaded) and `data-charts-drawn="k/n"` (`k` of the `n` charts laid out
//! with all their text drawn), so a headless browser can check it.

use crate::chart::Chart;
use ae_core::atomic::write_atomic;
use ae_core::{Error, Result};
use std::path::{Path, PathBuf};

/// One thing shown in the report, in the order added.
enum Figure {
    /// A PNG file, loaded by the page.
    Image { file: String, caption: String },
    /// An SVG chart, inlined, and saved as `file`.
    Chart {
        file: String,
        caption: String,
        svg: String,
    },
    /// A table with a header row.
    Table {
        caption: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// A report being assembled in a directory.
pub struct Report {
    dir: PathBuf,
    title: String,
    settings: Vec<(String, String)>,
    metrics: Vec<(String, String)>,
    figures: Vec<Figure>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Report {
    /// A report in `dir` (created if needed).
    pub fn new(dir: &Path, title: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Report {
            dir: dir.to_path_buf(),
            title: title.into(),
            settings: Vec::new(),
            metrics: Vec::new(),
            figures: Vec::new(),
        })
    }

    /// Records a setting of the run (shown in a table).
    pub fn setting(&mut self, key: &str, value: impl ToString) {
        self.settings.push((key.into(), value.to_string()));
    }

    /// Records a result of the run (shown in a table).
    pub fn metric(&mut self, key: &str, value: impl ToString) {
        self.metrics.push((key.into(), value.to_string()));
    }

    /// Saves a chart as `file` (an `.svg`) and shows it inline, with `caption` and a link to the
    /// file.
    pub fn chart(&mut self, file: &str, caption: &str, chart: &Chart) -> Result<()> {
        chart.save(&self.dir.join(file))?;
        self.figures.push(Figure::Chart {
            file: file.into(),
            caption: caption.into(),
            svg: chart.svg().to_string(),
        });
        Ok(())
    }

    /// Saves a picture (such as a grey image grid) as the PNG `file` and shows it with `caption`.
    pub fn image<P>(
        &mut self,
        file: &str,
        caption: &str,
        img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    ) -> Result<()>
    where
        P: image::PixelWithColorType,
        [P::Subpixel]: image::EncodableLayout,
    {
        crate::picture::save_png(img, &self.dir.join(file))?;
        self.figures.push(Figure::Image {
            file: file.into(),
            caption: caption.into(),
        });
        Ok(())
    }

    /// Shows a table of `rows` under `header` (one cell per column), with `caption`.
    pub fn table(&mut self, caption: &str, header: &[&str], rows: Vec<Vec<String>>) {
        self.figures.push(Figure::Table {
            caption: caption.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
        });
    }

    /// Writes `index.html` and returns its path.
    pub fn write(&self) -> Result<PathBuf> {
        self.write_as("index.html")
    }

    /// Writes the page as `file` in the report's directory and returns its path.
    pub fn write_as(&self, file: &str) -> Result<PathBuf> {
        let table = |rows: &[(String, String)]| -> String {
            rows.iter()
                .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let figures = self
            .figures
            .iter()
            .map(|figure| match figure {
                Figure::Image { file, caption } => format!(
                    "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                    escape(file),
                    escape(caption),
                    escape(caption)
                ),
                Figure::Chart { file, caption, svg } => format!(
                    "<figure class=\"chart\">\n{}<figcaption>{} (<a href=\"{}\">{}</a>)</figcaption></figure>",
                    svg,
                    escape(caption),
                    escape(file),
                    escape(file)
                ),
                Figure::Table {
                    caption,
                    header,
                    rows,
                } => {
                    let line = |cells: &[String], tag: &str| -> String {
                        let cells: Vec<String> = cells
                            .iter()
                            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
                            .collect();
                        format!("<tr>{}</tr>", cells.concat())
                    };
                    let body: Vec<String> = rows.iter().map(|r| line(r, "td")).collect();
                    format!(
                        "<figure class=\"table\"><table>\n{}\n{}\n</table><figcaption>{}</figcaption></figure>",
                        line(header, "th"),
                        body.join("\n"),
                        escape(caption)
                    )
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let html = format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }}
img, figure.chart > svg {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}
figure.chart > svg {{ display: block; }}
#status {{ color: #666; font-size: 0.9em; }}
</style></head>
<body data-images-loaded="pending" data-charts-drawn="pending">
<h1>{title}</h1>
<h2>Results</h2><table>
{metrics}
</table>
<h2>Settings</h2><table>
{settings}
</table>
<h2>Charts and pictures</h2>
{figures}
<p id="status">loading pictures…</p>
<script>
window.addEventListener("load", () => {{
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const charts = Array.from(document.querySelectorAll("figure.chart > svg"));
  const drawn = charts.filter(svg => {{
    const box = svg.getBoundingClientRect();
    const texts = Array.from(svg.querySelectorAll("text")).filter(t => t.textContent.length > 0);
    return box.width > 0 && box.height > 0 && texts.length > 0
      && texts.every(t => t.getComputedTextLength() > 0);
  }}).length;
  document.body.dataset.imagesLoaded = ok + "/" + imgs.length;
  document.body.dataset.chartsDrawn = drawn + "/" + charts.length;
  document.getElementById("status").textContent = drawn + " of " + charts.length
    + " charts drawn, " + ok + " of " + imgs.length + " pictures loaded";
}});
</script>
</body></html>
"#,
            title = escape(&self.title),
            metrics = table(&self.metrics),
            settings = table(&self.settings),
        );
        let path = self.dir.join(file);
        write_atomic(&path, html.as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_inlined_saved_and_linked_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::new(dir.path(), "run").unwrap();
        let series = [crate::chart::Series {
            name: "train".into(),
            points: vec![(1.0, 0.5), (2.0, 0.25)],
        }];
        let chart = crate::chart::line_chart("Loss", "epoch", "loss", &series, true).unwrap();
        r.chart("loss.svg", "Loss & more", &chart).unwrap();
        r.image("grid.png", "grid", &image::GrayImage::new(4, 4))
            .unwrap();
        let html = std::fs::read_to_string(r.write().unwrap()).unwrap();
        let saved = std::fs::read_to_string(dir.path().join("loss.svg")).unwrap();
        assert_eq!(saved, chart.svg());
        let inline = html.find(chart.svg()).expect("the chart inlined whole");
        assert!(html.contains("<figcaption>Loss &amp; more (<a href=\"loss.svg\">loss.svg</a>)"));
        assert!(!html.contains("<img src=\"loss.svg\""));
        assert!(inline < html.find("<img src=\"grid.png\"").unwrap());
        assert!(html.contains("data-charts-drawn=\"pending\""));
    }

    #[test]
    fn index_lists_every_picture_and_escapes_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::new(dir.path(), "a <b> run").unwrap();
        r.setting("lr", 0.001);
        r.metric("roc_auc", "0.93");
        r.image("grid.png", "grid", &image::GrayImage::new(4, 4))
            .unwrap();
        let html = std::fs::read_to_string(r.write().unwrap()).unwrap();
        assert!(html.contains("a &lt;b&gt; run"));
        assert!(html.contains("<img src=\"grid.png\""));
        assert!(html.contains("<th>roc_auc</th><td>0.93</td>"));
        assert!(dir.path().join("grid.png").exists());
    }

    #[test]
    fn tables_show_their_header_and_rows_in_the_named_page() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::new(dir.path(), "sweep").unwrap();
        let rows = vec![
            vec!["k16".to_string(), "0.5".into()],
            vec!["k<32>".into(), "0.25".into()],
        ];
        r.table("Runs", &["name", "fvu"], rows);
        let path = r.write_as("report.html").unwrap();
        assert_eq!(path, dir.path().join("report.html"));
        let html = std::fs::read_to_string(path).unwrap();
        assert!(
            html.contains("<tr><th>name</th><th>fvu</th></tr>"),
            "{html}"
        );
        assert!(html.contains("<tr><td>k16</td><td>0.5</td></tr>"));
        assert!(html.contains("<tr><td>k&lt;32&gt;</td><td>0.25</td></tr>"));
        assert!(html.contains("<figcaption>Runs</figcaption>"));
        assert!(!dir.path().join("index.html").exists());
    }
}
