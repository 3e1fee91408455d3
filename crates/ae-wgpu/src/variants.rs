//! The matmul kernel's variants: one WGSL source (`shaders/linear.wgsl`), its tile constants,
//! load width and staging precision rewritten at pipeline build time ([`MatmulVariant::source`]).
//! Every variant computes the same `c [m, n] = alpha * op(a) [m, k] op(b) [k, n] + beta * c`:
//! the vec4 ones for shapes whose stored rows are multiples of 4 ([`ShapeClass::aligned`]; any
//! other shape runs the variant's scalar twin), the f16 ones (opt-in) to half precision's
//! rounding of the operands. They differ in speed, which the autotuner (`tune.rs`) measures per
//! [`ShapeClass`].

use crate::kernels::shader_source;

/// A matmul kernel variant: a `wy x wx` workgroup computes a `wy * rm` by `wx * rn` tile of `c`,
/// staging `bk`-deep slices of both operands in workgroup memory, reading 4 stored neighbours
/// at a time (`vec4`) or one, and keeping the slices in f32 or f16 (`f16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulVariant {
    /// Its name in the tuning cache and `ae tune`'s table, e.g. `64x64/4x4` or
    /// `128x128/8x8 vec4`.
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
    /// Staging reads of 4 stored neighbours (`Load = vec4<f32>`, `VW = 4`); only for aligned
    /// shapes.
    pub vec4: bool,
    /// Staged slices in f16 (`Tile = f16`), accumulation in f32; needs `SHADER_F16`, opt-in.
    pub f16: bool,
    /// Split-k over subgroups instead of tiles (`shaders/linear_subgroup.wgsl`): a 64-thread
    /// workgroup per output at a time, for products with few rows; needs `SUBGROUP`. The tile
    /// fields are then `wx` = 64 threads and 1s (for the renamed tiled entry points, unused).
    pub subgroup: bool,
}

const fn tiles(name: &'static str, wx: u32, wy: u32, rm: u32, rn: u32, bk: u32) -> MatmulVariant {
    MatmulVariant {
        name,
        wx,
        wy,
        rm,
        rn,
        bk,
        vec4: false,
        f16: false,
        subgroup: false,
    }
}

const fn vec4(name: &'static str, v: MatmulVariant) -> MatmulVariant {
    MatmulVariant {
        name,
        vec4: true,
        ..v
    }
}

const fn f16(name: &'static str, v: MatmulVariant) -> MatmulVariant {
    MatmulVariant {
        name,
        f16: true,
        ..v
    }
}

const T64: MatmulVariant = tiles("64x64/4x4", 16, 16, 4, 4, 16);
const T128: MatmulVariant = tiles("128x128/8x8", 16, 16, 8, 8, 8);
const T128X64: MatmulVariant = tiles("128x64/8x4", 16, 16, 8, 4, 16);
const T32: MatmulVariant = tiles("32x32/2x2", 16, 16, 2, 2, 16);
const T64X16: MatmulVariant = tiles("64x16/4x1", 16, 16, 4, 1, 16);
const T16X64: MatmulVariant = tiles("16x64/1x4", 16, 16, 1, 4, 16);
const SPLIT_K: MatmulVariant = MatmulVariant {
    subgroup: true,
    ..tiles("split-k subgroup", SPLIT_K_THREADS, 1, 1, 1, 1)
};

/// Threads of the subgroup variant's workgroup (`SK` in `linear_subgroup.wgsl`).
const SPLIT_K_THREADS: u32 = 64;

/// The most rows of `c` (rounded up, as [`ShapeClass::m`]) for which the subgroup variant is
/// a candidate: it computes one output at a time per workgroup.
pub const SPLIT_K_MAX_M: u32 = 16;

/// Workgroups along one dimension of the subgroup variant's grid at most (its workgroups stride
/// over the outputs): WebGPU's default `max_compute_workgroups_per_dimension`.
const SPLIT_K_MAX_GROUPS: usize = 65535;

impl MatmulVariant {
    /// The kernel as it always was: 64x64 tiles, 4x4 outputs per thread, 16-deep slices, scalar
    /// reads, f32 slices; what `--no-tune` uses and what a class takes before it is tuned (on
    /// software adapters).
    pub const DEFAULT: MatmulVariant = T64;

    /// Every variant: the default, two large tiles (8 outputs per thread along `m`), three small
    /// ones for the layers of an autoencoder (`n` or `m` of 16-64, the other the batch); each
    /// also with vec4 reads; three f16-slice ones (opt-in: [`MatmulVariant::f16`]); and the
    /// split-k subgroup one for few rows ([`MatmulVariant::subgroup`]).
    pub const ALL: &'static [MatmulVariant] = &[
        T64,
        T128,
        T128X64,
        T32,
        T64X16,
        T16X64,
        vec4("64x64/4x4 vec4", T64),
        vec4("128x128/8x8 vec4", T128),
        vec4("128x64/8x4 vec4", T128X64),
        vec4("32x32/2x2 vec4", T32),
        vec4("64x16/4x1 vec4", T64X16),
        vec4("16x64/1x4 vec4", T16X64),
        f16("64x64/4x4 f16", T64),
        f16("128x128/8x8 f16", T128),
        f16("128x128/8x8 vec4 f16", vec4("", T128)),
        SPLIT_K,
    ];

    /// The variant called `name`.
    pub fn by_name(name: &str) -> Option<MatmulVariant> {
        Self::ALL.iter().copied().find(|v| v.name == name)
    }

    /// What runs a product of `class`: this variant, or for a vec4 one on a shape that is not
    /// [`ShapeClass::aligned`], its twin with scalar reads.
    pub fn for_class(&self, class: &ShapeClass) -> MatmulVariant {
        if !self.vec4 || class.aligned {
            return *self;
        }
        Self::ALL
            .iter()
            .copied()
            .find(|v| !v.vec4 && v.f16 == self.f16 && v.tile() == self.tile())
            .expect("every vec4 variant has a scalar twin")
    }

    /// The tile constants `(wx, wy, rm, rn, bk)`.
    fn tile(&self) -> (u32, u32, u32, u32, u32) {
        (self.wx, self.wy, self.rm, self.rn, self.bk)
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

    /// Bytes of workgroup memory: the two staged slices (the subgroup variant: the partial sums
    /// of up to one subgroup per thread).
    pub fn workgroup_bytes(&self) -> u32 {
        let element = if self.f16 { 2 } else { 4 };
        let tiles = element * self.bk * (self.tile_m() + self.tile_n());
        match self.subgroup {
            true => tiles + 4 * SPLIT_K_THREADS,
            false => tiles,
        }
    }

    /// Whether it is a candidate for products of `class`: every tiled variant; the subgroup one
    /// for at most [`SPLIT_K_MAX_M`] rows.
    pub fn suits(&self, class: &ShapeClass) -> bool {
        !self.subgroup || class.m <= SPLIT_K_MAX_M
    }

    /// Whether a device with these limits can run it (features aside: [`Self::f16`] needs
    /// `SHADER_F16`).
    pub fn fits(&self, limits: &wgpu::Limits) -> bool {
        self.threads() <= limits.max_compute_invocations_per_workgroup
            && self.wx <= limits.max_compute_workgroup_size_x
            && self.wy <= limits.max_compute_workgroup_size_y
            && self.workgroup_bytes() <= limits.max_compute_workgroup_storage_size
    }

    /// Workgroups for a `[m, n]` output.
    pub fn groups(&self, m: usize, n: usize) -> (u32, u32, u32) {
        if self.subgroup {
            let cap = |x: usize| x.clamp(1, SPLIT_K_MAX_GROUPS) as u32;
            return (cap(n), cap(m), 1);
        }
        (
            n.div_ceil(self.tile_n() as usize) as u32,
            m.div_ceil(self.tile_m() as usize) as u32,
            1,
        )
    }

    /// The source of `linear.wgsl` with this variant's tile constants, load width and slice
    /// precision.
    pub fn source(&self) -> String {
        let base = shader_source("linear").expect("linear.wgsl is listed");
        let values = [
            ("WX", self.wx),
            ("WY", self.wy),
            ("RM", self.rm),
            ("RN", self.rn),
            ("BK", self.bk),
            ("VW", if self.vec4 { 4 } else { 1 }),
        ];
        let mut src = set_u32_consts(&base, &values).expect("linear.wgsl declares the constants");
        if self.vec4 {
            src = set_alias(&src, "Load", "vec4<f32>").expect("linear.wgsl declares Load");
        }
        if self.f16 {
            src = "enable f16;\n".to_string()
                + &set_alias(&src, "Tile", "f16").expect("linear.wgsl declares Tile");
        }
        if self.subgroup {
            for entry in ["matmul", "matmul_bias_activation"] {
                src = rename_fn(&src, entry, &format!("{entry}_tiled"))
                    .expect("linear.wgsl declares both entry points");
            }
            src.push('\n');
            src.push_str(SPLIT_K_SOURCE);
        }
        src
    }
}

/// The split-k subgroup entry points, appended to `linear.wgsl` for the subgroup variant.
const SPLIT_K_SOURCE: &str = include_str!("../shaders/linear_subgroup.wgsl");

/// `src` with the function `name` (declared `fn name(` exactly once) called `new`.
fn rename_fn(src: &str, name: &str, new: &str) -> Result<String, String> {
    let decl = format!("fn {name}(");
    match src.matches(&decl).count() {
        1 => Ok(src.replace(&decl, &format!("fn {new}("))),
        c => Err(format!("`{decl}` appears {c} times")),
    }
}

/// `src` with the line `alias NAME = ...;` given the type `ty`; an error names an alias that is
/// not declared exactly once on a line of its own.
pub fn set_alias(src: &str, name: &str, ty: &str) -> Result<String, String> {
    let prefix = format!("alias {name} = ");
    let found = src.lines().filter(|l| l.starts_with(&prefix)).count();
    if found != 1 {
        return Err(format!(
            "`{prefix}...;` is declared {found} times, not once"
        ));
    }
    let lines: Vec<String> = src
        .lines()
        .map(|l| match l.starts_with(&prefix) {
            true => format!("{prefix}{ty};"),
            false => l.to_string(),
        })
        .collect();
    Ok(lines.join("\n") + "\n")
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
/// (capped at 8192), the two transpose flags, and whether the vec4 variants can run.
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
    /// The stored rows of both operands have a multiple of 4 elements (`a`'s `k`, or `m` when
    /// transposed; `b`'s `n`, or `k` when transposed), so a vec4 read never straddles a row end.
    pub aligned: bool,
}

impl ShapeClass {
    /// The class of a `[m, k] x [k, n]` product.
    pub fn of(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool) -> ShapeClass {
        let round = |x: usize| x.clamp(1, 8192).next_power_of_two() as u32;
        let a_row = if trans_a { m } else { k };
        let b_row = if trans_b { k } else { n };
        ShapeClass {
            m: round(m),
            k: round(k),
            n: round(n),
            trans_a,
            trans_b,
            aligned: a_row % 4 == 0 && b_row % 4 == 0,
        }
    }

    /// Its key in the tuning cache, e.g. `m256 k1024 n512 nt a4` (`n`/`t`: `op(a)`, `op(b)`
    /// transposed or not; `a4` or `a1`: aligned for vec4 reads or not).
    pub fn key(&self) -> String {
        let t = |x: bool| if x { 't' } else { 'n' };
        format!(
            "m{} k{} n{} {}{} a{}",
            self.m,
            self.k,
            self.n,
            t(self.trans_a),
            t(self.trans_b),
            if self.aligned { 4 } else { 1 }
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
        let aligned = match parts.next()? {
            "a4" => true,
            "a1" => false,
            _ => return None,
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
            aligned,
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
    fn each_variant_source_carries_its_constants_and_aliases() {
        for v in MatmulVariant::ALL {
            let src = v.source();
            let vw = if v.vec4 { 4 } else { 1 };
            for (name, value) in [
                ("WX", v.wx),
                ("WY", v.wy),
                ("RM", v.rm),
                ("RN", v.rn),
                ("BK", v.bk),
                ("VW", vw),
            ] {
                let line = format!("const {name}: u32 = {value}u;");
                assert_eq!(src.matches(&line).count(), 1, "{}: {line}", v.name);
            }
            let load = if v.vec4 { "vec4<f32>" } else { "f32" };
            assert!(
                src.contains(&format!("\nalias Load = {load};\n")),
                "{}",
                v.name
            );
            let tile = if v.f16 { "f16" } else { "f32" };
            assert!(
                src.contains(&format!("\nalias Tile = {tile};\n")),
                "{}",
                v.name
            );
            assert_eq!(src.starts_with("enable f16;\n"), v.f16, "{}", v.name);
            // The subgroup variant: its split-k entry points, the tiled ones renamed.
            let subgroup_ops = src.matches("subgroupAdd(").count();
            assert_eq!(subgroup_ops, v.subgroup as usize, "{}", v.name);
            let tiled = src.matches("fn matmul_tiled(").count();
            assert_eq!(tiled, v.subgroup as usize, "{}", v.name);
            assert_eq!(src.matches("fn matmul(").count(), 1, "{}", v.name);
        }
        assert!(rename_fn("fn f() {}", "g", "h")
            .unwrap_err()
            .contains("0 times"));
        // The default is the file as written.
        assert_eq!(
            MatmulVariant::DEFAULT.source().trim_end(),
            shader_source("linear").unwrap().trim_end()
        );
        assert!(set_alias("alias A = f32;\n", "B", "f16")
            .unwrap_err()
            .contains("0 times"));
    }

    #[test]
    fn variants_have_distinct_names_and_fit_webgpu_default_limits() {
        let limits = wgpu::Limits::default();
        let mut names = std::collections::HashSet::new();
        for v in MatmulVariant::ALL {
            assert!(names.insert(v.name), "{} repeats", v.name);
            assert!(v.fits(&limits), "{}", v.name);
            assert_eq!(MatmulVariant::by_name(v.name), Some(*v));
            let mut expect = format!("{}x{}/{}x{}", v.tile_m(), v.tile_n(), v.rm, v.rn);
            if v.subgroup {
                expect = "split-k subgroup".into();
            }
            if v.vec4 {
                expect += " vec4";
            }
            if v.f16 {
                expect += " f16";
            }
            assert_eq!(v.name, expect, "the name says the variant");
        }
        let d = MatmulVariant::DEFAULT;
        assert!(!d.vec4 && !d.f16 && !d.subgroup);
        // The subgroup variant is a candidate for few rows only.
        let sk = MatmulVariant::by_name("split-k subgroup").unwrap();
        assert!(sk.suits(&ShapeClass::of(16, 784, 512, false, true)));
        assert!(!sk.suits(&ShapeClass::of(17, 784, 512, false, true)));
        assert!(d.suits(&ShapeClass::of(256, 784, 512, false, true)));
        assert_eq!(sk.groups(3, 100_000), (65535, 3, 1));
    }

    #[test]
    fn a_vec4_variant_runs_its_scalar_twin_on_unaligned_shapes() {
        let aligned = ShapeClass::of(17, 64, 32, false, false);
        let unaligned = ShapeClass::of(17, 63, 32, false, false);
        for v in MatmulVariant::ALL {
            assert_eq!(v.for_class(&aligned), *v, "{}", v.name);
            let twin = v.for_class(&unaligned);
            assert!(!twin.vec4, "{}", v.name);
            assert_eq!((twin.tile(), twin.f16), (v.tile(), v.f16), "{}", v.name);
        }
    }

    #[test]
    fn shape_classes_round_up_and_keys_read_back() {
        let c = ShapeClass::of(257, 3, 64, true, false);
        assert_eq!((c.m, c.k, c.n, c.aligned), (512, 4, 64, false));
        assert_eq!(c.key(), "m512 k4 n64 tn a1");
        assert_eq!(ShapeClass::parse(&c.key()), Some(c));
        assert_eq!(
            ShapeClass::of(0, 1, 100_000, false, true).key(),
            "m1 k1 n8192 nt a1"
        );
        // Aligned: the stored row lengths, not the rounded dimensions, are multiples of 4.
        assert!(ShapeClass::of(3, 8, 12, false, false).aligned);
        assert!(
            !ShapeClass::of(3, 8, 12, true, false).aligned,
            "a stored [8, 3]"
        );
        assert!(ShapeClass::of(12, 8, 3, true, true).aligned);
        assert!(
            !ShapeClass::of(12, 8, 3, false, false).aligned,
            "b stored [8, 3]"
        );
        let a = ShapeClass::of(12, 8, 3, true, true);
        assert_eq!(ShapeClass::parse(&a.key()), Some(a));
        for bad in [
            "",
            "m4 k4 n4 nn",
            "m3 k4 n4 nn a1",
            "m4 k4 n4 nx a1",
            "m4 k4 n4 nn a2",
            "m4 k4 n4 nn a1 x",
            "k4 m4 n4 nn a1",
        ] {
            assert_eq!(ShapeClass::parse(bad), None, "{bad}");
        }
    }
}
