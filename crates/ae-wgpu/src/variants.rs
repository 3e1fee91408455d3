//! The matmul kernel's variants: one WGSL source (`shaders/linear.wgsl`), its five tile
//! constants rewritten at pipeline build time ([`MatmulVariant::source`]). Every variant computes
//! the same `c [m, n] = alpha * op(a) [m, k] op(b) [k, n] + beta * c` for any shape; they differ
//! only in speed, which the autotuner (`tune.rs`) measures per [`ShapeClass`].

use crate::kernels::shader_source;

/// A tile shape of the matmul kernel: a `wy x wx` workgroup computes a `wy * rm` by `wx * rn`
/// tile of `c`, staging `bk`-deep slices of both operands in workgroup memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulVariant {
    /// Its name in the tuning cache and `ae tune`'s table, e.g. `64x64/4x4`.
    pub name: &'static str,
    /// Threads per workgroup along `n` (`WX`).
    pub wx: u32,
    /// Threads per workgroup along `m` (`WY`).
    pub wy: u32,
    /// Rows of `c` per thread (`RM`).
    pub rm: u32,
    /// Columns of `c` per thread (`RN`).
    pub rn: u32,
    /// Depth of a staged slice (`BK`).
    pub bk: u32,
}

const fn variant(name: &'static str, wx: u32, wy: u32, rm: u32, rn: u32, bk: u32) -> MatmulVariant {
    MatmulVariant {
        name,
        wx,
        wy,
        rm,
        rn,
        bk,
    }
}

impl MatmulVariant {
    /// The kernel as it always was: 64x64 tiles, 4x4 outputs per thread, 16-deep slices; what
    /// `--no-tune` uses and what a class takes before it is tuned (on software adapters).
    pub const DEFAULT: MatmulVariant = variant("64x64/4x4", 16, 16, 4, 4, 16);

    /// Every variant: the default, two large tiles (8 outputs per thread along `m`), and three
    /// small ones for the layers of an autoencoder (`n` or `m` of 16-64, the other the batch).
    pub const ALL: &'static [MatmulVariant] = &[
        MatmulVariant::DEFAULT,
        variant("128x128/8x8", 16, 16, 8, 8, 8),
        variant("128x64/8x4", 16, 16, 8, 4, 16),
        variant("32x32/2x2", 16, 16, 2, 2, 16),
        variant("64x16/4x1", 16, 16, 4, 1, 16),
        variant("16x64/1x4", 16, 16, 1, 4, 16),
    ];

    /// The variant called `name`.
    pub fn by_name(name: &str) -> Option<MatmulVariant> {
        Self::ALL.iter().copied().find(|v| v.name == name)
    }

    /// Rows of `c` per workgroup.
    pub fn tile_m(&self) -> u32 {
        self.wy * self.rm
    }

    /// Columns of `c` per workgroup.
    pub fn tile_n(&self) -> u32 {
        self.wx * self.rn
    }

    /// Threads per workgroup.
    pub fn threads(&self) -> u32 {
        self.wx * self.wy
    }

    /// Bytes of workgroup memory: the two staged slices.
    pub fn workgroup_bytes(&self) -> u32 {
        4 * self.bk * (self.tile_m() + self.tile_n())
    }

    /// Whether a device with these limits can run it.
    pub fn fits(&self, limits: &wgpu::Limits) -> bool {
        self.threads() <= limits.max_compute_invocations_per_workgroup
            && self.wx <= limits.max_compute_workgroup_size_x
            && self.wy <= limits.max_compute_workgroup_size_y
            && self.workgroup_bytes() <= limits.max_compute_workgroup_storage_size
    }

    /// Workgroups for a `[m, n]` output.
    pub fn groups(&self, m: usize, n: usize) -> (u32, u32, u32) {
        (
            n.div_ceil(self.tile_n() as usize) as u32,
            m.div_ceil(self.tile_m() as usize) as u32,
            1,
        )
    }

    /// The source of `linear.wgsl` with this variant's tile constants.
    pub fn source(&self) -> String {
        let base = shader_source("linear").expect("linear.wgsl is listed");
        let values = [
            ("WX", self.wx),
            ("WY", self.wy),
            ("RM", self.rm),
            ("RN", self.rn),
            ("BK", self.bk),
        ];
        set_u32_consts(&base, &values).expect("linear.wgsl declares the tile constants")
    }
}

/// `src` with each `const NAME: u32 = ...;` line of `values` given the new value. An error names
/// a constant that is not declared exactly once on a line of its own.
pub fn set_u32_consts(src: &str, values: &[(&str, u32)]) -> Result<String, String> {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    for (name, value) in values {
        let prefix = format!("const {name}: u32 = ");
        let found: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with(&prefix))
            .collect();
        let [i] = found[..] else {
            return Err(format!(
                "`{prefix}...;` is declared {} times, not once",
                found.len()
            ));
        };
        lines[i] = format!("{prefix}{value}u;");
    }
    Ok(lines.join("\n") + "\n")
}

/// Which products share a tuned choice: each of `m`, `k`, `n` rounded up to a power of two
/// (capped at 8192) and the two transpose flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShapeClass {
    /// `m` rounded up to a power of two.
    pub m: u32,
    /// `k` rounded up.
    pub k: u32,
    /// `n` rounded up.
    pub n: u32,
    /// `op(a) = aᵀ`.
    pub trans_a: bool,
    /// `op(b) = bᵀ`.
    pub trans_b: bool,
}

impl ShapeClass {
    /// The class of a `[m, k] x [k, n]` product.
    pub fn of(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool) -> ShapeClass {
        let round = |x: usize| x.clamp(1, 8192).next_power_of_two() as u32;
        ShapeClass {
            m: round(m),
            k: round(k),
            n: round(n),
            trans_a,
            trans_b,
        }
    }

    /// Its key in the tuning cache, e.g. `m256 k1024 n512 nt` (`n`/`t`: `op(a)`, `op(b)`
    /// transposed or not).
    pub fn key(&self) -> String {
        let t = |x: bool| if x { 't' } else { 'n' };
        format!(
            "m{} k{} n{} {}{}",
            self.m,
            self.k,
            self.n,
            t(self.trans_a),
            t(self.trans_b)
        )
    }

    /// The class a key names.
    pub fn parse(key: &str) -> Option<ShapeClass> {
        let mut parts = key.split(' ');
        let mut dim = |prefix: char| -> Option<u32> {
            let v: u32 = parts.next()?.strip_prefix(prefix)?.parse().ok()?;
            v.is_power_of_two().then_some(v)
        };
        let (m, k, n) = (dim('m')?, dim('k')?, dim('n')?);
        let flags = parts.next()?.as_bytes();
        let flag = |c: u8| match c {
            b'n' => Some(false),
            b't' => Some(true),
            _ => None,
        };
        let ([fa, fb], None) = (flags, parts.next()) else {
            return None;
        };
        Some(ShapeClass {
            m,
            k,
            n,
            trans_a: flag(*fa)?,
            trans_b: flag(*fb)?,
        })
    }
}

/// How `matmul` picks its kernel variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tuning {
    /// Always this variant; the cache is neither read nor written (`--no-tune` uses
    /// [`MatmulVariant::DEFAULT`]).
    Fixed(MatmulVariant),
    /// The cached choice for the product's shape class; a class the cache lacks is timed on
    /// first use and stored, on a hardware adapter. A software adapter (whose timings mean
    /// nothing, and take seconds) uses the default variant for it instead; `ae tune` times it.
    #[default]
    Auto,
    /// As `Auto`, but a class the cache lacks is timed on every adapter, software ones too.
    Always,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_u32_consts_rewrites_one_line_and_refuses_a_missing_or_repeated_one() {
        let src = "const A: u32 = 1u;\nconst AB: u32 = 2u;\nfn f() {}\n";
        let out = set_u32_consts(src, &[("A", 7)]).unwrap();
        assert_eq!(out, "const A: u32 = 7u;\nconst AB: u32 = 2u;\nfn f() {}\n");
        assert!(set_u32_consts(src, &[("C", 1)])
            .unwrap_err()
            .contains("0 times"));
        let twice = "const A: u32 = 1u;\nconst A: u32 = 2u;\n";
        assert!(set_u32_consts(twice, &[("A", 1)])
            .unwrap_err()
            .contains("2 times"));
    }

    #[test]
    fn each_variant_source_carries_its_tile_constants() {
        for v in MatmulVariant::ALL {
            let src = v.source();
            for (name, value) in [("WX", v.wx), ("WY", v.wy), ("RM", v.rm), ("RN", v.rn)] {
                let line = format!("const {name}: u32 = {value}u;");
                assert_eq!(src.matches(&line).count(), 1, "{}: {line}", v.name);
            }
            assert!(src.contains(&format!("const BK: u32 = {}u;", v.bk)));
        }
        // The default is the file as written.
        assert_eq!(
            MatmulVariant::DEFAULT.source().trim_end(),
            shader_source("linear").unwrap().trim_end()
        );
    }

    #[test]
    fn variants_have_distinct_names_and_fit_webgpu_default_limits() {
        let limits = wgpu::Limits::default();
        let mut names = std::collections::HashSet::new();
        for v in MatmulVariant::ALL {
            assert!(names.insert(v.name), "{} repeats", v.name);
            assert!(v.fits(&limits), "{}", v.name);
            assert_eq!(MatmulVariant::by_name(v.name), Some(*v));
            let expect = format!("{}x{}/{}x{}", v.tile_m(), v.tile_n(), v.rm, v.rn);
            assert_eq!(v.name, expect, "the name says the tile");
        }
    }

    #[test]
    fn shape_classes_round_up_and_keys_read_back() {
        let c = ShapeClass::of(257, 3, 64, true, false);
        assert_eq!((c.m, c.k, c.n), (512, 4, 64));
        assert_eq!(c.key(), "m512 k4 n64 tn");
        assert_eq!(ShapeClass::parse(&c.key()), Some(c));
        assert_eq!(
            ShapeClass::of(0, 1, 100_000, false, true).key(),
            "m1 k1 n8192 nt"
        );
        for bad in [
            "",
            "m3 k4 n4 nn",
            "m4 k4 n4 nx",
            "m4 k4 n4 nn x",
            "k4 m4 n4 nn",
        ] {
            assert_eq!(ShapeClass::parse(bad), None, "{bad}");
        }
    }
}
