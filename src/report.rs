//! HTML reports: a folder of PNG charts and an `index.html` that shows them with the run's
//! settings and metrics. The page marks itself `data-images-loaded="k/n"` once every image has
//! loaded (or failed), so a headless browser can check it.

use ae_core::atomic::write_atomic;
use ae_core::{Error, Result};
use std::path::{Path, PathBuf};

/// A report being assembled in a directory.
pub struct Report {
    dir: PathBuf,
    title: String,
    settings: Vec<(String, String)>,
    metrics: Vec<(String, String)>,
    images: Vec<(String, String)>,
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
            images: Vec::new(),
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

    /// Saves a picture (a chart, or a grey image grid) as `file` and shows it with `caption`.
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
        self.images.push((file.into(), caption.into()));
        Ok(())
    }

    /// Writes `index.html` and returns its path.
    pub fn write(&self) -> Result<PathBuf> {
        let table = |rows: &[(String, String)]| -> String {
            rows.iter()
                .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let figures = self
            .images
            .iter()
            .map(|(file, caption)| {
                format!(
                    "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                    escape(file),
                    escape(caption),
                    escape(caption)
                )
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
img {{ max-width: 100%; border: 1px solid #ddd; }}
#status {{ color: #666; font-size: 0.9em; }}
</style></head>
<body data-images-loaded="pending">
<h1>{title}</h1>
<h2>Results</h2><table>
{metrics}
</table>
<h2>Settings</h2><table>
{settings}
</table>
<h2>Pictures</h2>
{figures}
<p id="status">loading pictures…</p>
<script>
window.addEventListener("load", () => {{
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + imgs.length;
  document.getElementById("status").textContent = ok + " of " + imgs.length + " pictures loaded";
}});
</script>
</body></html>
"#,
            title = escape(&self.title),
            metrics = table(&self.metrics),
            settings = table(&self.settings),
        );
        let path = self.dir.join("index.html");
        write_atomic(&path, html.as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
