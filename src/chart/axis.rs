//! Axes: ranges, the data -> pixel mapping, and tick values with their labels ("0.05", "1e-3"),
//! linear (steps of 1, 2 or 5 times a power of 10) or logarithmic (powers of 10, or 1-3, 1-2-5
//! and every digit between them over narrow ranges).

/// Pixels wanted between neighbouring ticks (roughly; steps are 1, 2 or 5 times a power of 10).
const TICK_SPACING: f64 = 65.0;

/// How an axis chooses its range from the data's range `(lo, hi)`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Scale {
    /// Linear, widened out to whole tick steps.
    Nice(f64, f64),
    /// Linear, exactly this range.
    Fixed(f64, f64),
    /// Logarithmic (both ends > 0), with a little room at each end.
    Log(f64, f64),
}

/// One axis: its range, whether it is logarithmic, and its ticks with their labels.
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    /// Tick values with their labels, in increasing order.
    pub(super) ticks: Vec<(f64, String)>,
}

impl Axis {
    /// The axis for `scale` drawn along `pixels` pixels.
    pub(super) fn new(scale: Scale, pixels: f64) -> Axis {
        let target = (pixels / TICK_SPACING).clamp(2.0, 10.0);
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
    pub(super) fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The pixel for `v` on an axis drawn from pixel `from` (at `lo`) to pixel `to` (at `hi`).
    /// Values far outside the range land just outside it (where drawing is clipped), never at
    /// absurd distances.
    pub(super) fn pixel(&self, v: f64, from: f64, to: f64) -> f64 {
        let f = self.frac(v);
        let f = if f.is_nan() { -1.0 } else { f.clamp(-1.0, 2.0) };
        from + f * (to - from)
    }
}

/// `(lo, hi)` with `f` of its span added at each end, so that dots at the extremes are not cut
/// by the frame; with `stay_positive`, a range that starts at or above 0 stays there (losses).
pub(super) fn padded((lo, hi): (f64, f64), f: f64, stay_positive: bool) -> (f64, f64) {
    let d = (hi - lo) * f;
    let below = if stay_positive && lo >= 0.0 {
        (lo - d).max(0.0)
    } else {
        lo - d
    };
    (below, hi + d)
}

/// `(lo, hi)`, pulled apart when they (nearly) coincide so an axis over them has a length.
pub(super) fn widen(lo: f64, hi: f64) -> (f64, f64) {
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
pub(super) fn format_value(v: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let axis = Axis::new(Scale::Nice(0.013, 0.087), 300.0);
        let labels: Vec<&str> = axis.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "0.02", "0.04", "0.06", "0.08", "0.1"]);
        assert!(axis.lo <= 0.013 && axis.hi >= 0.087);
        let log = Axis::new(Scale::Log(1.5e-3, 0.5), 300.0);
        let labels: Vec<&str> = log.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["3e-3", "0.01", "0.03", "0.1", "0.3"]);
        let wide = Axis::new(Scale::Log(1e-9, 1e3), 300.0);
        let labels: Vec<&str> = wide.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1e-9", "1e-6", "1e-3", "1", "1000"]);
    }

    #[test]
    fn values_map_to_pixels_linearly_or_by_decades() {
        let linear = Axis::new(Scale::Fixed(0.0, 2.0), 200.0);
        assert_eq!((linear.lo, linear.hi), (0.0, 2.0));
        assert_eq!(linear.pixel(0.5, 100.0, 300.0), 150.0);
        // Pixel rows grow downwards: `from` is the bottom of a y axis.
        assert_eq!(linear.pixel(0.5, 300.0, 100.0), 250.0);
        assert_eq!(linear.pixel(2.0, 300.0, 100.0), 100.0);
        // Far outside the range, just outside it (clipped there), never at absurd distances.
        assert_eq!(linear.pixel(1e30, 100.0, 300.0), 500.0);
        assert_eq!(linear.pixel(f64::NAN, 100.0, 300.0), -100.0);
        let log = Axis::new(Scale::Log(1e-3, 1e1), 400.0);
        assert!(log.log && log.lo < 1e-3 && log.hi > 1e1);
        let (at, third, middle) = (
            log.pixel(1e-3, 0.0, 300.0),
            log.pixel(1e-2, 0.0, 300.0),
            log.pixel(1e-1, 0.0, 300.0),
        );
        // Equal ratios are equal distances; the range is padded by 4% of it at each end.
        assert!((third - at - (middle - third)).abs() < 1e-9);
        assert!((log.pixel(1.0, 0.0, 300.0) - 300.0 * 0.79 / 1.08).abs() < 1e-9);
        assert!((at - 300.0 * 0.04 / 1.08).abs() < 1e-9);
        // Every tick of a log axis is a positive value inside its range, in order.
        assert!(log
            .ticks
            .windows(2)
            .all(|w| 0.0 < w[0].0 && w[0].0 < w[1].0));
        assert!(log.ticks.iter().all(|(t, _)| (log.lo..=log.hi).contains(t)));
        let labels: Vec<&str> = log.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1e-3", "0.01", "0.1", "1", "10"]);
    }

    #[test]
    fn a_single_value_still_gets_an_axis_with_length() {
        let axis = Axis::new(Scale::Nice(3.0, 3.0), 300.0);
        assert!(axis.lo < 3.0 && axis.hi > 3.0 && axis.ticks.len() >= 2);
        let log = Axis::new(Scale::Log(0.5, 0.5), 300.0);
        assert!(log.lo < 0.5 && log.hi > 0.5 && log.ticks.len() >= 2);
        assert_eq!(padded((0.0, 1.0), 0.1, true), (0.0, 1.1));
        assert_eq!(padded((0.0, 1.0), 0.1, false), (-0.1, 1.1));
    }
}
