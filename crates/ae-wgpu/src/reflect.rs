//! What the kernel table says of each kernel's interface, in a form a test can hold against
//! the WGSL: the fields of its parameter struct ([`KernelParams`], made by `params!`) and its
//! storage bindings ([`Binding`]).

/// One field of a kernel's parameter struct: what the WGSL struct must have at the same place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamField {
    /// The field's name, the same in Rust and WGSL.
    pub name: &'static str,
    /// Byte offset in the struct.
    pub offset: u32,
    /// Byte size.
    pub size: u32,
}

/// A kernel's parameters: a plain `#[repr(C)]` struct of 4-byte fields, copied as bytes into a
/// uniform slot. Made by the `params!` macro, which also lists its fields.
pub trait KernelParams: bytemuck::Pod {
    /// The struct's name, the same as the WGSL struct's.
    const NAME: &'static str;
    /// The fields in declaration order.
    const FIELDS: &'static [ParamField];
}

/// Declares a kernel parameter struct (`#[repr(C)]`, `Pod`) and its [`KernelParams`] field list.
macro_rules! params {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }
        impl $crate::reflect::KernelParams for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [$crate::reflect::ParamField] = &[$(
                $crate::reflect::ParamField {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($name, $field) as u32,
                    size: std::mem::size_of::<$ty>() as u32,
                },
            )*];
        }
    };
}
pub(crate) use params;

/// A storage binding of a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// `@binding(n)` in group 0.
    pub number: u32,
    /// The WGSL variable's name.
    pub name: &'static str,
    /// `read_write` (else `read`).
    pub writable: bool,
}
