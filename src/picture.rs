//! PNG pictures people look at: grids of square images (originals over reconstructions).

use ae_core::{Error, Matrix, Result};
use std::path::Path;

/// Side of a square image of `width` pixels, if `width` is a perfect square.
pub fn square_side(width: usize) -> Option<usize> {
    let side = (width as f64).sqrt().round() as usize;
    (side * side == width && side > 0).then_some(side)
}

/// Draws the rows of each matrix in `bands` as square grey images, one band per image row, `count`
/// images across, each pixel `scale` times larger, values clamped to [0, 1], 2-pixel gaps.
/// `bands` = `[originals, reconstructions]` gives originals over reconstructions.
pub fn image_grid(bands: &[&Matrix], count: usize, scale: u32) -> Result<image::GrayImage> {
    let width = bands.first().map_or(0, |m| m.cols);
    let side = square_side(width).ok_or_else(|| {
        Error::Shape(format!(
            "rows of {width} values are not square images, so they cannot be drawn"
        ))
    })? as u32;
    let count = bands.iter().map(|m| m.rows).min().unwrap_or(0).min(count) as u32;
    let (gap, cell) = (2u32, side * scale);
    let w = count * (cell + gap) + gap;
    let h = bands.len() as u32 * (cell + gap) + gap;
    let mut img = image::GrayImage::from_pixel(w.max(1), h, image::Luma([64]));
    for (b, m) in bands.iter().enumerate() {
        for i in 0..count {
            let row = m.row(i as usize);
            let (x0, y0) = (gap + i * (cell + gap), gap + b as u32 * (cell + gap));
            for py in 0..cell {
                for px in 0..cell {
                    let v = row[((py / scale) * side + px / scale) as usize];
                    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    img.put_pixel(x0 + px, y0 + py, image::Luma([g]));
                }
            }
        }
    }
    Ok(img)
}

/// Saves a picture (grey or colour) as PNG, atomically.
pub fn save_png<P>(img: &image::ImageBuffer<P, Vec<P::Subpixel>>, path: &Path) -> Result<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
{
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    ae_core::atomic::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_pixels() {
        let a = Matrix::new(2, 4, vec![1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5]).unwrap();
        let b = Matrix::zeros(2, 4);
        let img = image_grid(&[&a, &b], 2, 1).unwrap();
        assert_eq!(img.dimensions(), (2 * 4 + 2, 2 * 4 + 2));
        assert_eq!(img.get_pixel(2, 2).0[0], 255);
        assert_eq!(img.get_pixel(3, 2).0[0], 0);
        assert_eq!(img.get_pixel(6, 2).0[0], 128);
        assert_eq!(img.get_pixel(2, 6).0[0], 0);
        assert!(image_grid(&[&Matrix::zeros(1, 5)], 1, 1).is_err());
    }
}
