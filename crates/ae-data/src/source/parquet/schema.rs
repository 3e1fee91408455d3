//! The schema of a Parquet file as ae reads it: which columns are numbers and how their stored
//! values become f32 ([`Kind`]), the top-level fields and their shapes, the feature columns.

use super::*;

/// How a column's stored values become numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    Bool,
    I32,
    U32,
    I64,
    U64,
    F16,
    F32,
    F64,
    /// Stored as INT32, with this scale (digits after the point).
    Decimal32(i32),
    /// Stored as INT64, with this scale.
    Decimal64(i32),
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::I32 => "i32",
            Kind::U32 => "u32",
            Kind::I64 => "i64",
            Kind::U64 => "u64",
            Kind::F16 => "f16",
            Kind::F32 => "f32",
            Kind::F64 => "f64",
            Kind::Decimal32(_) | Kind::Decimal64(_) => "decimal",
        }
    }
}

/// The kind of a leaf column's values, or what it holds in words when it is not numeric.
pub(super) fn kind(d: &ColumnDescriptor) -> std::result::Result<Kind, String> {
    let logical = d.logical_type_ref();
    let converted = d.converted_type();
    let what = |s: &str| Err(s.to_string());
    match d.physical_type() {
        Physical::BOOLEAN => Ok(Kind::Bool),
        Physical::INT32 | Physical::INT64 => {
            let wide = d.physical_type() == Physical::INT64;
            match (logical, converted) {
                (Some(LogicalType::Date), _) | (None, ConvertedType::DATE) => return what("dates"),
                (Some(LogicalType::Time(_)), _)
                | (None, ConvertedType::TIME_MILLIS | ConvertedType::TIME_MICROS) => {
                    return what("times of day")
                }
                (Some(LogicalType::Timestamp(_)), _)
                | (None, ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS) => {
                    return what("timestamps")
                }
                (None | Some(LogicalType::Integer(_) | LogicalType::Decimal(_)), _) => {}
                (Some(other), _) => return Err(format!("{other:?} values")),
            }
            let decimal = matches!(logical, Some(LogicalType::Decimal(_)))
                || converted == ConvertedType::DECIMAL;
            let unsigned = match logical {
                Some(LogicalType::Integer(int)) => !int.is_signed,
                _ => matches!(
                    converted,
                    ConvertedType::UINT_8
                        | ConvertedType::UINT_16
                        | ConvertedType::UINT_32
                        | ConvertedType::UINT_64
                ),
            };
            Ok(match (wide, decimal, unsigned) {
                (false, true, _) => Kind::Decimal32(d.type_scale()),
                (true, true, _) => Kind::Decimal64(d.type_scale()),
                (false, false, true) => Kind::U32,
                (false, false, false) => Kind::I32,
                (true, false, true) => Kind::U64,
                (true, false, false) => Kind::I64,
            })
        }
        Physical::FLOAT => Ok(Kind::F32),
        Physical::DOUBLE => Ok(Kind::F64),
        Physical::FIXED_LEN_BYTE_ARRAY
            if matches!(logical, Some(LogicalType::Float16)) && d.type_length() == 2 =>
        {
            Ok(Kind::F16)
        }
        Physical::INT96 => what("INT96 timestamps"),
        Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY => match (logical, converted) {
            (Some(LogicalType::String | LogicalType::Enum | LogicalType::Json), _)
            | (None, ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON) => {
                what("strings")
            }
            (Some(LogicalType::Decimal(_)), _) | (None, ConvertedType::DECIMAL) => {
                what("decimals stored as bytes")
            }
            (Some(LogicalType::Uuid), _) => what("UUIDs"),
            _ => what("binary data"),
        },
    }
}

/// What a top-level column of the file holds.
#[derive(Clone, Debug)]
pub(super) enum Shape {
    /// One value per row, in leaf column `leaf`.
    Value {
        leaf: usize,
        kind: std::result::Result<Kind, String>,
    },
    /// A list of values per row in leaf column `leaf`: an element exists where the definition
    /// level is at least `element_def` (below it the row's list is empty or null).
    List {
        leaf: usize,
        kind: std::result::Result<Kind, String>,
        element_def: i16,
    },
    /// Anything else, in words.
    Nested(String),
}

/// The names and shapes of the top-level columns of a schema.
pub(super) fn fields(schema: &SchemaDescPtr) -> (Vec<String>, Vec<Shape>) {
    let top = schema.root_schema().get_fields();
    let mut leaves: Vec<Vec<usize>> = vec![Vec::new(); top.len()];
    for leaf in 0..schema.num_columns() {
        if let Some(l) = leaves.get_mut(schema.get_column_root_idx(leaf)) {
            l.push(leaf);
        }
    }
    let names = top.iter().map(|f| f.name().to_string()).collect();
    let shapes = top
        .iter()
        .zip(&leaves)
        .map(|(field, leaves)| match leaves[..] {
            [leaf] => {
                let d = schema.column(leaf);
                match d.max_rep_level() {
                    0 => Shape::Value {
                        leaf,
                        kind: kind(&d),
                    },
                    1 => Shape::List {
                        leaf,
                        kind: kind(&d),
                        element_def: element_def(field, d.path().parts()),
                    },
                    _ => Shape::Nested("lists of lists".into()),
                }
            }
            [] => Shape::Nested("an empty group".into()),
            _ => Shape::Nested(format!(
                "a group of {} columns (a struct or a map)",
                leaves.len()
            )),
        })
        .collect();
    (names, shapes)
}

/// The definition level of the repeated node on the path from the top-level field `root` to a
/// leaf (`path`: the names from `root` down): levels from it up mean the list has an element.
pub(super) fn element_def(root: &SchemaType, path: &[String]) -> i16 {
    let mut node = root;
    let mut def = 0;
    let mut below = path.iter().skip(1);
    loop {
        if node.get_basic_info().has_repetition() {
            match node.get_basic_info().repetition() {
                Repetition::OPTIONAL => def += 1,
                Repetition::REPEATED => return def + 1,
                Repetition::REQUIRED => {}
            }
        }
        let next = match below.next() {
            Some(name) if node.is_group() => node.get_fields().iter().find(|f| f.name() == name),
            _ => None,
        };
        match next {
            Some(child) => node = child,
            None => return def,
        }
    }
}

/// A feature (or the labels) column: where its values are and how to read them.
#[derive(Clone, Debug)]
pub(super) struct Feature {
    /// The top-level column, counted from 0.
    pub(super) field: usize,
    /// Its leaf column in the schema.
    pub(super) leaf: usize,
    pub(super) kind: Kind,
    pub(super) max_def: i16,
}
