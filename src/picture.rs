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

/// Draws each row of `weights` `[units, side * side]` (a hidden unit's encoder weights) as a
/// square tile, `ceil(sqrt(units))` tiles across: each tile scaled by its largest `|w|` so that
/// 0 is mid-grey, positive weights light and negative dark.
pub fn filter_grid(weights: &Matrix, scale: u32) -> Result<image::GrayImage> {
    if weights.rows == 0 {
        return Err(Error::Shape("there are no units to draw".into()));
    }
    let across = (weights.rows as f64).sqrt().ceil() as usize;
    let bands: Vec<Matrix> = (0..weights.rows.div_ceil(across))
        .map(|b| {
            let mut band = Matrix::new(across, weights.cols, vec![0.5; across * weights.cols])?;
            for t in 0..across {
                let Some(row) =
                    (b * across + t < weights.rows).then(|| weights.row(b * across + t))
                else {
                    break;
                };
                let peak = row.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
                for (o, v) in band.data[t * weights.cols..(t + 1) * weights.cols]
                    .iter_mut()
                    .zip(row)
                {
                    *o = 0.5 + 0.5 * v / peak;
                }
            }
            Ok(band)
        })
        .collect::<Result<_>>()?;
    let refs: Vec<&Matrix> = bands.iter().collect();
    image_grid(&refs, across, scale)
}

/// The classic preprocessing of patches for sparse coding (Olshausen & Field; the UFLDL sparse
/// autoencoder exercise), in place on `patches` `[n, size * size]`: each patch loses its mean
/// (DC), the values are clipped at 3 standard deviations of all pixels, and `[-3 sd, 3 sd]` is
/// mapped onto `[0.1, 0.9]` (so that sigmoid outputs can reach every value). A constant patch
/// becomes 0.5 everywhere.
pub fn normalize_patches(patches: &mut Matrix) {
    let cols = patches.cols.max(1);
    for row in patches.data.chunks_mut(cols) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
        row.iter_mut().for_each(|v| *v = (*v as f64 - mean) as f32);
    }
    let n = patches.data.len().max(1) as f64;
    let sd = (patches
        .data
        .iter()
        .map(|&v| (v as f64).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let limit = 3.0 * sd;
    for v in &mut patches.data {
        let clipped = if limit > 0.0 {
            (*v as f64).clamp(-limit, limit) / limit
        } else {
            0.0
        };
        *v = (0.5 + 0.4 * clipped) as f32;
    }
}

/// `count` random `size` x `size` patches of the square images in the rows of `images`
/// (`[n, side * side]`), chosen by `seed`: `[count, size * size]`. With `skip_blank`, patches
/// whose pixels are all equal are drawn again.
pub fn sample_patches(
    images: &Matrix,
    size: usize,
    count: usize,
    seed: u64,
    skip_blank: bool,
) -> Result<Matrix> {
    let side = square_side(images.cols).ok_or_else(|| {
        Error::Shape(format!(
            "rows of {} values are not square images, so patches cannot be cut",
            images.cols
        ))
    })?;
    if size == 0 || size > side || images.rows == 0 {
        return Err(Error::Config(format!(
            "patch size must be between 1 and the image side {side} (and images must be given), \
             got {size} for {} images",
            images.rows
        )));
    }
    let mut rng = ae_core::Rng::new(seed);
    let mut out = Vec::with_capacity(count * size * size);
    let (mut made, mut tries) = (0, 0usize);
    while made < count {
        tries += 1;
        if tries > 1000 * count.max(1) {
            return Err(Error::Config(format!(
                "only {made} of {count} patches were not blank after {tries} draws"
            )));
        }
        let img = images.row(rng.below(images.rows));
        let (y0, x0) = (rng.below(side - size + 1), rng.below(side - size + 1));
        let start = out.len();
        for y in 0..size {
            let at = (y0 + y) * side + x0;
            out.extend_from_slice(&img[at..at + size]);
        }
        let patch = &out[start..];
        if skip_blank && patch.iter().all(|v| *v == patch[0]) {
            out.truncate(start);
            continue;
        }
        made += 1;
    }
    Matrix::new(count, size * size, out)
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
    fn normalized_patches_lie_in_the_classic_range() {
        let mut rows = vec![
            0.0, 0.0, 1.0, 1.0, // a step
            0.3, 0.3, 0.3, 0.3, // constant
            0.0, 0.0, 0.0, 100.0, // an outlier, clipped at 3 sd
        ];
        for _ in 0..8 {
            rows.extend([0.0, 1.0, 0.0, 1.0]);
        }
        let mut m = Matrix::new(11, 4, rows).unwrap();
        normalize_patches(&mut m);
        assert!(m.data.iter().all(|v| (0.1..=0.9).contains(v)), "{m:?}");
        assert!(m.row(1).iter().all(|v| (v - 0.5).abs() < 1e-6));
        // The step stays a step, symmetric about 0.5.
        assert!((m.row(0)[0] + m.row(0)[3] - 1.0).abs() < 1e-6);
        assert!(m.row(0)[3] > 0.5);
        assert!((m.row(2)[3] - 0.9).abs() < 1e-6);
    }

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

    #[test]
    fn filters_are_tiled_and_scaled_per_unit() {
        // 5 units of 2x2: 3 tiles across, 2 bands; unit 0 = [2, -2, 0, 1].
        let mut w = Matrix::zeros(5, 4);
        w.data[..4].copy_from_slice(&[2.0, -2.0, 0.0, 1.0]);
        let img = filter_grid(&w, 1).unwrap();
        assert_eq!(img.dimensions(), (3 * 4 + 2, 2 * 4 + 2));
        assert_eq!(img.get_pixel(2, 2).0[0], 255);
        assert_eq!(img.get_pixel(3, 2).0[0], 0);
        assert_eq!(img.get_pixel(2, 3).0[0], 128);
        assert_eq!(img.get_pixel(3, 3).0[0], 191);
    }

    #[test]
    fn patches_are_cut_from_the_images() {
        // One 4x4 image with pixel value = its index.
        let img = Matrix::new(1, 16, (0..16).map(|v| v as f32).collect()).unwrap();
        let p = sample_patches(&img, 2, 50, 3, true).unwrap();
        assert_eq!((p.rows, p.cols), (50, 4));
        for r in 0..p.rows {
            let q = p.row(r);
            // A 2x2 window of a row-major 4x4 grid: right neighbour +1, lower neighbour +4.
            assert_eq!((q[1] - q[0], q[2] - q[0], q[3] - q[0]), (1.0, 4.0, 5.0));
        }
        assert_eq!(p, sample_patches(&img, 2, 50, 3, true).unwrap());
        assert!(sample_patches(&img, 5, 1, 0, true).is_err());
        assert!(sample_patches(&Matrix::zeros(1, 16), 2, 1, 0, true).is_err());
    }
}
